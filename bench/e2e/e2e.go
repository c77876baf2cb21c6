// Package e2e runs whole pipelines in one process — simulator → gateways → (shaped
// lines) → strategy — for the redundancy tests and the end-to-end benchmarks.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tickline/tickline/bench/shaper"
	"github.com/tickline/tickline/configs"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/config"
)

// Quiet is a logger that discards.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Topology loads configs/demo.yaml (found from dir upwards), points it at the simulator,
// and keeps only the given exchanges (all when none).
func Topology(dir, simAddr string, exchanges ...string) (*config.Topology, error) {
	path := ""
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "configs", "demo.yaml")); err == nil {
			path = filepath.Join(d, "configs", "demo.yaml")
			break
		}
		if filepath.Dir(d) == d {
			return nil, fmt.Errorf("configs/demo.yaml not found above %s", dir)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return configs.DemoAt(b, simAddr, exchanges...)
}

// Group runs components under one context and waits for all of them.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewGroup returns a group whose components stop when Stop is called.
func NewGroup() *Group {
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{ctx: ctx, cancel: cancel}
}

// Go runs f(ctx) in a goroutine of the group.
func (g *Group) Go(f func(ctx context.Context)) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.ctx)
	}()
}

// Stop cancels and waits.
func (g *Group) Stop() {
	g.cancel()
	g.wg.Wait()
}

// StartSim starts a simulator.
func StartSim(opts sim.Options) (*sim.Server, error) {
	s, err := sim.New(opts, Quiet)
	if err != nil {
		return nil, err
	}
	s.Start()
	return s, nil
}

// Gateway is a running gateway that can be stopped and started again on the same endpoint.
type Gateway struct {
	topo  *config.Topology
	id    string
	bind  string
	opts  gateway.Options
	G     *gateway.Gateway
	group *Group
}

// StartGateway builds and runs gateway id, publishing on bind.
func StartGateway(topo *config.Topology, id, bind string, opts gateway.Options) (*Gateway, error) {
	g := &Gateway{topo: topo, id: id, bind: bind, opts: opts}
	return g, g.Start()
}

// Start (re)starts the gateway.
func (g *Gateway) Start() error {
	opts := g.opts
	opts.Bind = g.bind
	if opts.RetransmitBind == "" {
		opts.RetransmitBind = "tcp://127.0.0.1:0"
	}
	gw, err := gateway.New(g.topo, g.id, opts, Quiet)
	if err != nil {
		return err
	}
	g.G, g.group = gw, NewGroup()
	g.group.Go(func(ctx context.Context) { gw.Run(ctx) })
	return nil
}

// Stop stops the gateway (its publisher closes: subscribers see the line die).
func (g *Gateway) Stop() { g.group.Stop() }

// Endpoint is the gateway's publish endpoint.
func (g *Gateway) Endpoint() string { return g.G.Endpoint() }

// StartShaper shapes a line from upstream onto a new loopback endpoint.
func StartShaper(upstream string, opts shaper.Options, group *Group) (*shaper.Shaper, error) {
	s, err := shaper.New(upstream, "tcp://127.0.0.1:0", opts, Quiet)
	if err != nil {
		return nil, err
	}
	group.Go(func(ctx context.Context) { s.Run(ctx) })
	return s, nil
}

// Wait polls f until it holds or d passes.
func Wait(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
