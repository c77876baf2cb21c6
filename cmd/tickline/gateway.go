package main

import (
	"context"
	"flag"

	"github.com/tickline/tickline/gateway"
)

func runGateway(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	cfgPath := configFlag(fs)
	id := fs.String("id", "", "gateway id in the topology")
	wait := fs.Int("wait-subscribers", 0, "hold the exchange sessions until this many receivers subscribed (at most 15 s), so they see the stream from its start")
	if err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *cfgPath == "" || *id == "" {
		return errUsage
	}
	topo, err := loadTopology(*cfgPath, e)
	if err != nil {
		return err
	}
	g, err := gateway.New(topo, *id, gateway.Options{WaitSubscribers: *wait}, e.log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
