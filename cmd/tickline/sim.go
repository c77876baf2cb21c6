package main

import (
	"context"

	"github.com/tickline/tickline/internal/sim"
)

func runSim(ctx context.Context, args []string, e *env) error {
	return sim.Main(ctx, args, e.stdout, e.stderr)
}
