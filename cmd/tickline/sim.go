package main

import (
	"context"
	"flag"

	"github.com/tickline/tickline/internal/sim"
)

func runSim(ctx context.Context, _ *flag.FlagSet, args []string, e *env) error {
	return sim.Main(ctx, args, e.stdout, e.stderr)
}
