package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/tickline/tickline/bench/demo"
)

func runDemo(ctx context.Context, args []string, e *env) error {
	fs := newFlags("demo", e)
	dur := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	rate := fs.Float64("rate", 20, "simulator events per book per second")
	dir := fs.String("dir", "", "working directory (default: a new temp dir)")
	verbose := fs.Bool("v", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *verbose {
		log = e.log
	}
	fi, _ := os.Stdout.Stat()
	tty := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	return demo.Run(ctx, demoOptions(demo.Options{Duration: *dur, Rate: *rate, Out: e.stdout, TTY: tty, Dir: *dir}), log)
}

// demoOptions adds the archive and replay phases (archiver/demo.go) when they are built in.
var demoOptions = func(o demo.Options) demo.Options { return o }
