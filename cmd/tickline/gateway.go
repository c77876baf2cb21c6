package main

import (
	"context"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/shared/config"
)

func runGateway(ctx context.Context, args []string, e *env) error {
	fs := newFlags("gateway", e)
	cfgPath := fs.String("config", "", "topology file")
	id := fs.String("id", "", "gateway id in the topology")
	waitSubs := fs.Int("wait-subscribers", 0, "hold the exchange sessions until this many receivers subscribed (at most 15 s), so they all see the stream from its first record")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *id == "" || fs.NArg() != 0 {
		return errUsage
	}
	topo, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	g, err := gateway.New(topo, *id, gateway.Options{WaitSubscribers: *waitSubs}, e.log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
