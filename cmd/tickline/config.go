package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
)

func runCheckConfig(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	if err := parseArgs(fs, args, 1); err != nil {
		return err
	}
	return interruptible(ctx, func() error {
		t, err := config.Load(fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok (%d regions, %d gateways)\n", fs.Arg(0), len(t.Regions), len(t.Gateways))
		return nil
	})
}

// parseArgs parses a subcommand's flags from args; exactly nargs positional arguments
// must remain, else errUsage.
func parseArgs(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != nargs {
		return errUsage
	}
	return nil
}

// seedsFlag declares --seeds on fs; the function it returns applies the flag, when
// given, to a loaded topology's archiver.seeds.
func seedsFlag(fs *flag.FlagSet) func(*config.Topology) {
	seeds := fs.String("seeds", "", "comma-separated Kafka bootstrap brokers; default archiver.seeds")
	return func(topo *config.Topology) {
		if *seeds != "" {
			topo.Archiver.Seeds = split(*seeds)
		}
	}
}

// configFlag declares --config, the topology file the roles run on.
func configFlag(fs *flag.FlagSet) *string { return fs.String("config", "", "topology file") }

// parseConfig declares --config on fs, parses a subcommand's flags and loads the topology
// it names: no --config, or arguments left over, is errUsage.
func parseConfig(fs *flag.FlagSet, args []string, e *env) (*config.Topology, error) {
	cfgPath := configFlag(fs)
	if err := parseArgs(fs, args, 0); err != nil {
		return nil, err
	}
	if *cfgPath == "" {
		return nil, errUsage
	}
	return loadTopology(*cfgPath, e)
}

// interruptGrace is how long a command that was interrupted waits for its work to stop.
const interruptGrace = time.Second

// interruptible runs f and returns its error, or, when ctx ends first (SIGINT/SIGTERM),
// returns "interrupted" once f has returned or interruptGrace has passed: work that cannot
// be cancelled (decoding a huge YAML file, a read on a terminal) is left to the process
// exit that follows.
func interruptible(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(interruptGrace)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
	case <-t.C:
	}
	return fmt.Errorf("interrupted: %w", ctx.Err())
}

// loadTopology loads the topology a process runs on and applies what it sets for the
// whole process: in the bus's low-latency mode, the garbage collector's settings.
func loadTopology(path string, e *env) (*config.Topology, error) {
	topo, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if bus.ApplyRuntime(&topo.Bus) {
		ll := topo.Bus.LowLatency
		e.log.Info("bus low-latency mode", "spin", ll.Spin, "gc_percent", ll.GCPercent, "memory_limit", ll.MemoryLimit,
			"asyncpreemptoff", strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1"))
	}
	return topo, nil
}
