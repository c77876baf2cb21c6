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
	g, err := gateway.New(topo, *id, gateway.Options{}, e.log)
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
