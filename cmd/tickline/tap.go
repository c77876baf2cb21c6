package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tickline/tickline/strategy/tap"
)

// runTap runs `tickline tap --config FILE [--gateways ID,..] [--out FILE] [--duration D]`:
// subscribe like the strategy, arbitrate, print every delivered record as a JSON line.
func runTap(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	cfgPath := configFlag(fs)
	gateways := fs.String("gateways", "", "comma-separated gateway ids to subscribe to, in line order (default: all)")
	outPath := fs.String("out", "-", "output file (- = stdout); the file is truncated")
	duration := fs.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	if err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *cfgPath == "" || *duration < 0 {
		return errUsage
	}
	topo, err := loadTopology(*cfgPath, e)
	if err != nil {
		return err
	}
	opts := tap.Options{Out: e.stdout}
	if *gateways != "" {
		opts.Gateways = strings.Split(*gateways, ",")
	}
	if *outPath != "-" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		defer f.Close()
		opts.Out = f
	}
	t, err := tap.New(topo, opts, e.log)
	if err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	start := time.Now()
	if err := t.Run(ctx); err != nil {
		return err
	}
	e.log.Info("tap done", "records", t.Stats.Delivered.Load(), "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}
