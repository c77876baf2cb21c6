package main

import (
	"context"
	"fmt"

	"github.com/tickline/tickline/shared/config"
)

func runCheckConfig(_ context.Context, args []string, e *env) error {
	fs := newFlags("check-config", e)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errUsage
	}
	t, err := config.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d regions, %d gateways)\n", fs.Arg(0), len(t.Regions), len(t.Gateways))
	return nil
}
