package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tickline/tickline/bench/cfloor"
	"github.com/tickline/tickline/bench/e2e"
	"github.com/tickline/tickline/bench/gwbench"
	"github.com/tickline/tickline/bench/procbench"
)

// runBaseline builds the C peers and runs the baseline suite. Without gcc or libzmq the
// Go systems still run and the missing rows say why.
func runBaseline(ctx context.Context, quick bool, log func(string)) ([]cfloor.Result, cfloor.Config, error) {
	cfg := cfloor.DefaultConfig()
	if quick {
		cfg.PacedFor, cfg.FloodCount, cfg.Rounds = 500*time.Millisecond, 50000, 1
	}
	dir, err := os.MkdirTemp("", "tickline-baseline-")
	if err != nil {
		return nil, cfg, err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return nil, cfg, err
	}
	log("baseline: building the C peers with gcc")
	bins, err := cfloor.Build(ctx, dir)
	if err != nil && !errors.Is(err, cfloor.ErrNoCompiler) && !errors.Is(err, cfloor.ErrNoLibzmq) {
		return nil, cfg, err
	}
	if err != nil {
		log("baseline: " + err.Error() + " — the C rows are missing")
	}
	return cfloor.Run(ctx, cfg, cfloor.Systems(bins, exe), dir, log), cfg, nil
}

// closing collects, from one run, the figures the report's closing note quotes.
type closing struct {
	baseline    []cfloor.Result
	baselineCfg cfloor.Config
	plain       *e2e.PipelineResult // pipeline, two clean lines
	lossless    float64             // highest lossless delivered ticks/s (0: not run)
	gw          []gwRow             // gateway cost per record
	procs       []procbench.Result  // the real processes, normal and low-latency mode
}

// gwRow is one line of the gateway cost table.
type gwRow struct {
	Venue         string
	RecordsPerSec float64
}

// text renders the closing note; absent suites are said to be absent.
func (c closing) text() string {
	var b strings.Builder
	b.WriteString("## Closing note (this run)\n\n")
	b.WriteString("Figures taken on a machine shared with other work are noisy; ratios compare figures taken in the same run.\n\n")
	if len(c.baseline) > 0 {
		for _, r := range cfloor.ComputeRatios(c.baseline, c.baselineCfg.Transports) {
			fmt.Fprintf(&b, "- %s: bus / C floor p50 %s, p99 %s; bus / libzmq p50 %s, p99 %s; bus flood / libzmq flood %s.\n", r.Transport,
				ratioText(r.BusP50VsCFloor), ratioText(r.BusP99VsCFloor), ratioText(r.BusP50VsLibzmq), ratioText(r.BusP99VsLibzmq), ratioText(r.BusFloodVsLibzmq))
		}
		for _, r := range cfloor.ComputeRatios(c.baseline, c.baselineCfg.Transports) {
			fmt.Fprintf(&b, "- %s, bus with async preemption off (GODEBUG=asyncpreemptoff=1): p99 / C floor %s, p99 / libzmq %s.\n", r.Transport,
				ratioText(r.NoPreemptP99VsCFloor), ratioText(r.NoPreemptP99VsLibzmq))
		}
		for _, r := range cfloor.ComputeRatios(c.baseline, c.baselineCfg.Transports) {
			fmt.Fprintf(&b, "- %s, bus in low-latency mode (bus-lowlat): p50 / C floor %s, p99 / C floor %s; p50 / libzmq %s, p99 / libzmq %s (target p99 ≤ libzmq's).\n", r.Transport,
				ratioText(r.LowLatP50VsCFloor), ratioText(r.LowLatP99VsCFloor), ratioText(r.LowLatP50VsLibzmq), ratioText(r.LowLatP99VsLibzmq))
		}
	} else {
		b.WriteString("- Baselines: suite not run.\n")
	}
	if c.plain != nil && len(c.baseline) > 0 {
		bus := cfloor.Find(c.baseline, "bus", "tcp", "paced")
		for _, h := range c.plain.Hops {
			if h.Hop == "gateway_to_strategy" && bus != nil && bus.P50us > 0 {
				fmt.Fprintf(&b, "- In-process e2e harness (simulator, gateways and strategy in one process, 400 events/book/s): gateway→strategy p50 %.0f µs / bus p50 (tcp, separate processes) %.0f µs = %s; the target is judged on the real processes below.\n", h.P50us, bus.P50us, ratioText(h.P50us/bus.P50us))
			}
		}
	}
	c.procsText(&b)
	c.throughputText(&b)
	if t := c.hopTable(); t != "" {
		b.WriteString("\n" + t)
	}
	return b.String()
}

func ratioText(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", v)
}

// readmeBlock renders the README's baseline block.
func (c closing) readmeBlock(when time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Baselines from `make bench` of %s (every system as a sender process and a receiver process, the same pacing and clock; medians of %d rounds; `bench/results/baseline.json`):\n\n",
		when.Format("2006-01-02"), c.baselineCfg.Rounds)
	b.WriteString(cfloor.RatioTable(c.baseline, c.baselineCfg))
	if t := c.hopTable(); t != "" {
		b.WriteString("\nThe product's hop beside them (p50 · p99 · p99.9 ratios):\n\n" + t)
	}
	var tp strings.Builder
	c.procsText(&tp)
	c.throughputText(&tp)
	if tp.Len() > 0 {
		b.WriteString("\nThe product's own figures from the same run:\n\n" + tp.String())
	}
	b.WriteString("\n| system | transport | p50 µs | p99 µs | p99.9 µs | flood msgs/s |\n|---|---|---:|---:|---:|---:|\n")
	for _, tr := range c.baselineCfg.Transports {
		for _, r := range c.baseline {
			if r.Transport != tr || r.Mode != "paced" {
				continue
			}
			fl := cfloor.Find(c.baseline, r.System, tr, "flood")
			fm := 0.0
			if fl != nil {
				fm = fl.MsgsPerS
			}
			fmt.Fprintf(&b, "| %s (%s) | %s | %.0f | %.0f | %.0f | %.0f |\n", r.System, r.Lang, tr, r.P50us, r.P99us, r.P999us, fm)
		}
	}
	return b.String()
}

const (
	readmeBegin = "<!-- bench:baselines:begin -->"
	readmeEnd   = "<!-- bench:baselines:end -->"
)

// updateReadme replaces the text between the baseline markers of path with block.
func updateReadme(path, block string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s block", path, readmeBegin, readmeEnd)
	}
	s = s[:i+len(readmeBegin)] + "\n" + block + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

// gatewayMarkdown renders the gateway cost suite.
func gatewayMarkdown(rep gwbench.Report, cfg gwbench.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Gateway cost per record: parse, chain, stamp, encode, publish on one core\n\n"+
		"Frames of one gateway's connections (demo topology, every venue) captured from the simulator at %.0f events/book/s for %s, replayed from memory in a GOMAXPROCS=1 child for %s of CPU per phase; records/s/core = records published / CPU seconds (user + system, bus writer included). The subscriber in another process received %d of %d records, %d sequence holes.\n\n",
		cfg.SimRate, cfg.Capture, cfg.Measure, rep.Received, rep.Published, rep.Holes)
	b.WriteString("| venue | frames | records | records/frame | ns/record (CPU) | records/s/core | frames/s/core |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		rpf := 0.0
		if r.Frames > 0 {
			rpf = float64(r.Records) / float64(r.Frames)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f | %.0f | %.0f | %.0f |\n", r.Venue, r.Frames, r.Records, rpf, r.NsPerRecord, r.RecordsPerCPU, r.FramesPerCPU)
	}
	b.WriteString("\nTarget: ≥ 1M records/s/core mixed. The mix is the simulator's: Korean venues push whole books (30 levels a frame). The path is rebuilt from public APIs (adapter parser, chain.Sync, wire, bus) as gateway/session and Gateway.publish run it; the session's rollover de-duplication, trade-id gap check and repeat count are unexported and not included.\n\n")
	return b.String()
}

// hopTable puts the pipeline's gateway→strategy hop (two clean lines, tcp) under the
// tcp baselines, each with its ratio to the C floor and to libzmq (p50 · p99 · p99.9).
// The hop runs inside the end-to-end harness (simulator, gateways and strategy in one
// process, 400 events/book/s), the baselines as process pairs at 20k msg/s: the ratios
// say how far the product's hop is from the wire, not a like-for-like layout.
func (c closing) hopTable() string {
	if len(c.baseline) == 0 {
		return ""
	}
	cf, lz := cfloor.Find(c.baseline, "c-floor", "tcp", "paced"), cfloor.Find(c.baseline, "libzmq", "tcp", "paced")
	if cf == nil || lz == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("| tcp, one-way | p50 µs | p99 µs | p99.9 µs | vs C floor | vs libzmq |\n|---|---:|---:|---:|---|---|\n")
	row := func(name string, p50, p99, p999 float64) {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %s · %s · %s | %s · %s · %s |\n", name, p50, p99, p999,
			ratioText(safeDiv(p50, cf.P50us)), ratioText(safeDiv(p99, cf.P99us)), ratioText(safeDiv(p999, cf.P999us)),
			ratioText(safeDiv(p50, lz.P50us)), ratioText(safeDiv(p99, lz.P99us)), ratioText(safeDiv(p999, lz.P999us)))
	}
	for _, sys := range []string{"c-floor", "libzmq", "go-floor", "zmq4", "bus", "bus-nopreempt", "bus-lowlat"} {
		if r := cfloor.Find(c.baseline, sys, "tcp", "paced"); r != nil {
			row(sys, r.P50us, r.P99us, r.P999us)
		}
	}
	if c.plain != nil {
		for _, h := range c.plain.Hops {
			if h.Hop == "gateway_to_strategy" {
				row("pipeline hop gateway→strategy (e2e, one process, 400 events/book/s)", h.P50us, h.P99us, h.P999us)
			}
		}
	}
	for _, p := range c.procs {
		h := p.Hops["gateway_to_strategy"]
		row(fmt.Sprintf("gateway→strategy, real processes, %s mode (%.0f events/book/s)", p.Mode, p.Rate), h.P50us, h.P99us, h.P999us)
	}
	return b.String()
}

// procsText states the real pipeline's gateway→strategy hop against the bus micro
// benchmark of the same run (the same mode: bus for normal, bus-lowlat for low-latency).
func (c closing) procsText(b *strings.Builder) {
	for _, p := range c.procs {
		sys := "bus"
		if p.Mode == "low-latency" {
			sys = "bus-lowlat"
		}
		h := p.Hops["gateway_to_strategy"]
		fmt.Fprintf(b, "- Real processes (sim, 2 gateways, strategy), %s mode, %.0f events/book/s: gateway→strategy p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs; %.0f events delivered, %.0f bus losses",
			p.Mode, p.Rate, h.P50us, h.P99us, h.P999us, p.Delivered, p.SeqGaps)
		if bus := cfloor.Find(c.baseline, sys, "tcp", "paced"); bus != nil && bus.P50us > 0 {
			fmt.Fprintf(b, "; p50 / %s p50 (tcp, process pair) %s (target ≤ 1.3×)", sys, ratioText(h.P50us/bus.P50us))
		}
		b.WriteString(".\n")
	}
}

// throughputText states the gateway's cost per record (gwbench) and the highest lossless
// end-to-end rate (e2e capacity search), each against its target.
func (c closing) throughputText(b *strings.Builder) {
	if len(c.gw) > 0 {
		b.WriteString("- Gateway cost, records/s/core:")
		for _, g := range c.gw {
			fmt.Fprintf(b, " %s %.0f;", g.Venue, g.RecordsPerSec)
		}
		b.WriteString(" (target ≥ 1M mixed).\n")
	}
	if c.lossless > 0 {
		fmt.Fprintf(b, "- Highest lossless end-to-end rate: %.0f ticks/s delivered (target ≥ 250k).\n", c.lossless)
	}
}

func safeDiv(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}
