package main

import (
	"context"
	"flag"
	"time"

	"github.com/tickline/tickline/strategy"
)

// runStrategy runs `tickline strategy`: subscribe to every gateway of the topology (or to
// --endpoints, e.g. a replay), arbitrate, detect, emit.
func runStrategy(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	every := fs.Duration("report", 10*time.Second, "log latency percentiles and counters this often (0 = never)")
	endpoints := fs.String("endpoints", "", "comma-separated bus endpoints to subscribe to instead of the topology's gateways (e.g. a replay's --publish endpoint); one line each")
	topo, err := parseConfig(fs, args, e)
	if err != nil {
		return err
	}
	s, err := strategy.New(topo, strategy.Options{ReportEvery: *every, Endpoints: split(*endpoints)}, e.log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
