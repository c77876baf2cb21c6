package main

import (
	"context"
	"time"

	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/strategy"
)

func runStrategy(ctx context.Context, args []string, e *env) error {
	fs := newFlags("strategy", e)
	cfgPath := fs.String("config", "", "topology file")
	every := fs.Duration("report", 10*time.Second, "log latency percentiles and counters this often (0 = never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		return errUsage
	}
	topo, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	s, err := strategy.New(topo, strategy.Options{ReportEvery: *every}, e.log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
