package main

import (
	"context"

	"github.com/tickline/tickline/gateway"
)

func runGateway(ctx context.Context, args []string, e *env) error {
	fs := newFlags("gateway", e)
	cfgPath := fs.String("config", "", "topology file")
	id := fs.String("id", "", "gateway id in the topology")
	wait := fs.Int("wait-subscribers", 0, "hold the exchange sessions until this many receivers subscribed (at most 15 s), so they see the stream from its start")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *id == "" || fs.NArg() != 0 {
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
