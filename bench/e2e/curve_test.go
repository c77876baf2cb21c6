package e2e

import (
	"context"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/shared/zmtp"
	"github.com/tickline/tickline/strategy"
)

func keypair(t *testing.T) (pub, sec zmtp.Key) {
	t.Helper()
	pub, sec, err := zmtp.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return pub, sec
}

// TestCurveGatewaysToStrategy wires CURVE through the topology: two gateways with curve
// sections (allowing the strategy's key) and a strategy with its keypair receive over
// both lines; a strategy whose key is not allowed receives nothing and both gateways
// count it as unauthorized.
func TestCurveGatewaysToStrategy(t *testing.T) {
	s, err := StartSim(sim.Options{Seed: 5, Rate: 100, Exchanges: []string{"binance", "okx", "upbit"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	stratPub, stratSec := keypair(t)
	_, otherSec := keypair(t)
	build := func() *config.Topology {
		topo, err := Topology(".", s.Addr(), "binance", "okx", "upbit")
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	topo := build()
	var gws []*Gateway
	for i := range topo.Gateways {
		g := &topo.Gateways[i]
		g.Publish, g.Bind = "ipc://"+filepath.Join(dir, g.ID+".sock"), ""
		pub, sec := keypair(t)
		g.Curve = &config.GatewayCurve{PublicKey: pub.String(), SecretKey: sec.String(), Allow: []string{stratPub.String()}}
	}
	topo.Strategy.Curve = &config.ReceiverCurve{SecretKey: stratSec.String(), PublicKey: stratPub.String()}
	topo.Archiver.Curve = &config.ReceiverCurve{SecretKey: stratSec.String()}
	if err := topo.Validate(); err != nil {
		t.Fatalf("secured topology: %v", err)
	}
	for _, g := range topo.Gateways {
		gw, err := StartGateway(topo, g.ID, "", gateway.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Stop()
		gws = append(gws, gw)
	}

	run := func(topo *config.Topology, perLine *[2]atomic.Int64) *Group {
		st, err := strategy.New(topo, strategy.Options{NoMetrics: true, SignalBind: "tcp://127.0.0.1:0", Out: io.Discard,
			OnRecord: func(line int, _ *wire.Record) { perLine[line].Add(1) }}, Quiet)
		if err != nil {
			t.Fatal(err)
		}
		g := NewGroup()
		g.Go(func(ctx context.Context) { st.Run(ctx) })
		return g
	}
	var good [2]atomic.Int64
	g := run(topo, &good)
	defer g.Stop()
	for _, gw := range gws {
		if !gw.G.AwaitSubscribers(context.Background(), 1, 20*time.Second) {
			t.Fatal("the strategy did not subscribe to every secured gateway")
		}
	}
	if !Wait(20*time.Second, func() bool { return good[0].Load()+good[1].Load() > 200 }) {
		t.Fatalf("strategy received %d + %d records over CURVE", good[0].Load(), good[1].Load())
	}

	// Same topology, another strategy key: refused by both gateways.
	bad := *topo
	bad.Strategy.Curve = &config.ReceiverCurve{SecretKey: otherSec.String()}
	var badCount [2]atomic.Int64
	bg := run(&bad, &badCount)
	defer bg.Stop()
	if !Wait(20*time.Second, func() bool {
		for _, gw := range gws {
			if gw.G.Publisher().Totals().Refused[bus.RefusedUnauthorized] == 0 {
				return false
			}
		}
		return true
	}) {
		t.Fatal("gateways did not refuse the unlisted strategy key")
	}
	if n := badCount[0].Load() + badCount[1].Load(); n != 0 {
		t.Fatalf("unauthorized strategy received %d records", n)
	}
}
