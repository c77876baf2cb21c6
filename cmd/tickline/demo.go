package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/tickline/tickline/internal/demo"
)

func runDemo(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	dur := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	rate := fs.Float64("rate", 20, "simulator events per book per second")
	dir := fs.String("dir", "", "working directory (default: a new temp dir)")
	verbose := fs.Bool("v", false, "log to stderr")
	noArchive := fs.Bool("no-archive", false, "skip the embedded Kafka, the archiver and the replay check")
	speed := fs.Float64("replay-speed", 100, "replay speed factor for the equivalence check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if *verbose {
		log = e.log
	}
	fi, _ := os.Stdout.Stat()
	tty := fi != nil && fi.Mode()&os.ModeCharDevice != 0
	return demo.Run(ctx, demo.Options{Duration: *dur, Rate: *rate, Out: e.stdout, TTY: tty, Dir: *dir, NoArchive: *noArchive, ReplaySpeed: *speed}, log)
}
