// Command benchrun runs tickline's benchmark harnesses and writes machine-readable results
// (JSON) and readable tables (markdown) to -out. `make bench` runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/tickline/tickline/bench/busbench"
)

func main() {
	out := flag.String("out", "bench/results", "directory for results")
	quick := flag.Bool("quick", false, "shorter phases (smoke run)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *quick); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// machine describes where the figures were taken.
type machine struct {
	GOOS, GOARCH string
	CPUs         int
	Go           string
	When         time.Time
}

func run(ctx context.Context, out string, quick bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tickline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := busbench.DefaultConfig(dir)
	if quick {
		cfg.PacedFor, cfg.FloodCount, cfg.FloodMaxDur = 500*time.Millisecond, 50000, 3*time.Second
	}
	m := machine{runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC()}
	res := busbench.Run(ctx, cfg, func(name string) { fmt.Fprintln(os.Stderr, "bench:", name) })
	doc := map[string]any{"machine": m, "config": cfg, "results": res, "ratios": busbench.ComputeRatios(res)}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "bus.json"), b, 0o644); err != nil {
		return err
	}
	md := fmt.Sprintf("# Bus benchmark (%s, %d CPUs, %s)\n\n%s", m.Go, m.CPUs, m.When.Format(time.RFC3339), busbench.Markdown(res, cfg))
	if err := os.WriteFile(filepath.Join(out, "bus.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}
