// Command benchrun runs tickline's benchmark harnesses and writes machine-readable results
// (JSON) and a readable report (markdown) to -out. `make bench` runs it. Every figure that
// has a baseline is reported as a ratio against it, measured in the same run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tickline/tickline/bench/busbench"
	"github.com/tickline/tickline/bench/cfloor"
	"github.com/tickline/tickline/bench/e2e"
	"github.com/tickline/tickline/bench/gwbench"
	"github.com/tickline/tickline/bench/normbench"
	"github.com/tickline/tickline/bench/procbench"
)

func main() {
	if cfloor.IsPeer() { // re-executed by the baseline suite as one of its Go peers
		os.Exit(cfloor.PeerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if gwbench.IsChild() { // re-executed by the gateway cost suite as its measured child
		os.Exit(gwbench.ChildMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	out := flag.String("out", "bench/results", "directory for results")
	quick := flag.Bool("quick", false, "shorter phases (smoke run)")
	suites := flag.String("suites", "baseline,bus,normalize,gateway,ingest,pipeline,procs,replay", "comma-separated suites to run (replay needs KAFKA_SEEDS: scripts/kafka/with-kafka.sh single -- make bench)")
	readme := flag.String("readme", "", "README file whose <!-- bench:baselines:begin/end --> block is regenerated from this run (empty: none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *quick, strings.Split(*suites, ","), *readme); err != nil {
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

func has(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}

func writeJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// suiteRun is one benchrun invocation: where results go, what machine took them, and the
// report and closing note the suites add to in order.
type suiteRun struct {
	ctx   context.Context
	out   string
	quick bool
	m     machine
	md    strings.Builder
	note  closing
	phase time.Duration // ingest and pipeline phase length
}

func (r *suiteRun) log(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }

// suites in the order they run: baselines first, so every later ratio has its floor.
var suites = []struct {
	name string
	run  func(*suiteRun) error
}{
	{"baseline", (*suiteRun).baseline},
	{"bus", (*suiteRun).bus},
	{"normalize", (*suiteRun).normalize},
	{"gateway", (*suiteRun).gateway},
	{"ingest", (*suiteRun).ingest},
	{"pipeline", (*suiteRun).pipeline},
	{"procs", (*suiteRun).procs},
	{"replay", (*suiteRun).replay},
}

func run(ctx context.Context, out string, quick bool, selected []string, readme string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	r := &suiteRun{ctx: ctx, out: out, quick: quick, phase: 8 * time.Second,
		m: machine{runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC()}}
	if quick {
		r.phase = 3 * time.Second
	}
	fmt.Fprintf(&r.md, "# tickline benchmark report\n\n%s, %d CPUs, %s/%s, %s. All ratios use baselines measured in this run.\n\n",
		r.m.Go, r.m.CPUs, r.m.GOOS, r.m.GOARCH, r.m.When.Format(time.RFC3339))
	for _, s := range suites {
		if !has(selected, s.name) {
			continue
		}
		if err := s.run(r); err != nil {
			return err
		}
	}
	return r.finish(readme)
}

// finish writes report.md and, when the baselines ran, the README baseline block.
func (r *suiteRun) finish(readme string) error {
	r.md.WriteString("\n" + r.note.text())
	if err := os.WriteFile(filepath.Join(r.out, "report.md"), []byte(r.md.String()), 0o644); err != nil {
		return err
	}
	if len(r.note.baseline) > 0 {
		block := r.note.readmeBlock(r.m.When)
		if err := os.WriteFile(filepath.Join(r.out, "readme_baselines.md"), []byte(block), 0o644); err != nil {
			return err
		}
		if readme != "" {
			if err := updateReadme(readme, block); err != nil {
				return err
			}
		}
	}
	fmt.Print(r.md.String())
	return nil
}

func (r *suiteRun) baseline() error {
	res, cfg, err := runBaseline(r.ctx, r.quick, r.log)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if err := writeJSON(r.out, "baseline.json", map[string]any{"machine": r.m, "config": cfg, "results": res,
		"ratios": cfloor.ComputeRatios(res, cfg.Transports)}); err != nil {
		return err
	}
	r.md.WriteString("## Baselines: C raw-socket floor and libzmq vs Go floor, zmq4 and the bus (separate processes)\n\n")
	r.md.WriteString(cfloor.Markdown(res, cfg))
	r.md.WriteString("\n")
	r.note.baseline, r.note.baselineCfg = res, cfg
	return nil
}

func (r *suiteRun) bus() error {
	dir, err := os.MkdirTemp("", "tickline-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := busbench.DefaultConfig(dir)
	if r.quick {
		cfg.PacedFor, cfg.FloodCount, cfg.FloodMaxDur = 500*time.Millisecond, 50000, 3*time.Second
	}
	res := busbench.Run(r.ctx, cfg, r.log)
	if err := writeJSON(r.out, "bus.json", map[string]any{"machine": r.m, "config": cfg, "results": res, "ratios": busbench.ComputeRatios(res)}); err != nil {
		return err
	}
	r.md.WriteString("## Bus: raw floor vs bare zmq4 vs tickline bus\n\n")
	r.md.WriteString(busbench.Markdown(res, cfg))
	r.md.WriteString("\n")
	if err := writeSVG(filepath.Join(r.out, "bus_latency.svg"), res); err != nil {
		return err
	}
	r.md.WriteString("![bus latency](bus_latency.svg)\n\n")
	return nil
}

func (r *suiteRun) normalize() error {
	r.log("normalize")
	res := normbench.Run(".")
	if err := writeJSON(r.out, "normalize.json", map[string]any{"machine": r.m, "results": res}); err != nil {
		return err
	}
	r.md.WriteString("## Normalize: parse + normalize + encode, one core\n\n| exchange | kind | ns/msg | allocs/msg | msgs/s/core |\n|---|---|---:|---:|---:|\n")
	for _, x := range res {
		fmt.Fprintf(&r.md, "| %s | %s | %.0f | %d | %.0f |\n", x.Exchange, x.Kind, x.NsPerOp, x.AllocsPerOp, x.MsgsPerCore)
	}
	r.md.WriteString("\nTarget: ≥ 2M msgs/s/core for BBO frames, 0 allocs/op.\n\n")
	return nil
}

func (r *suiteRun) gateway() error {
	cfg := gwbench.DefaultConfig(".")
	if r.quick {
		cfg.SimRate, cfg.Capture, cfg.Measure = 300, time.Second, 300*time.Millisecond
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	r.log("gateway cost: capturing simulator frames")
	rep, err := gwbench.Run(r.ctx, cfg, exe, r.log)
	if err != nil {
		return fmt.Errorf("gateway cost: %w", err)
	}
	if err := writeJSON(r.out, "gateway.json", map[string]any{"machine": r.m, "config": cfg, "report": rep}); err != nil {
		return err
	}
	r.md.WriteString(gatewayMarkdown(rep, cfg))
	for _, x := range rep.Results {
		r.note.gw = append(r.note.gw, gwRow{Venue: x.Venue, RecordsPerSec: x.RecordsPerCPU})
	}
	return nil
}

func (r *suiteRun) ingest() error {
	fmt.Fprintf(&r.md, "## Gateway ingest: simulator → gateway → bus subscriber (all ten exchanges, all in one process on %d CPUs)\n\n", r.m.CPUs)
	r.md.WriteString("| sim events/book/s | records/s | sim frames/s | gateway-seq holes | gateway→subscriber p50 / p99 / p99.9 µs |\n|---:|---:|---:|---:|---|\n")
	var all []e2e.IngestResult
	for _, rate := range []float64{400, 20000} { // a paced load for latency, then saturation
		r.log(fmt.Sprintf("ingest at %.0f events/book/s", rate))
		res, err := e2e.Ingest(rate, r.phase)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		all = append(all, res)
		fmt.Fprintf(&r.md, "| %.0f | %.0f | %.0f | %d | %.0f / %.0f / %.0f |\n", rate, res.RecordsPerS, res.FramesPerS, res.Holes,
			res.Latency.P50us, res.Latency.P99us, res.Latency.P999us)
	}
	r.md.WriteString("\nThe second row saturates the machine: simulator, gateway and subscriber share the two cores, so records/s there is the gateway's ingest ceiling here, and its latency is queueing.\n\n")
	return writeJSON(r.out, "ingest.json", map[string]any{"machine": r.m, "results": all})
}

// pipeline runs the capacity search, then three fixed end-to-end runs (saturation, two clean
// lines, one jittered line).
func (r *suiteRun) pipeline() error {
	capRuns, err := e2e.Capacity([]float64{400, 800, 1600, 2400, 2800, 3200, 4000, 4800, 6400, 9600}, r.phase, func(rate float64) {
		r.log(fmt.Sprintf("pipeline capacity search: %.0f events/book/s", rate))
	})
	if err != nil {
		return fmt.Errorf("pipeline capacity: %w", err)
	}
	runs := []struct {
		log, name string
		rate      float64
		jitter    time.Duration
		p         e2e.PipelineResult
	}{
		{"pipeline at saturation", "saturation (20000 events/book/s offered)", 20000, 0, e2e.PipelineResult{}},
		{"pipeline", "two clean lines, 400 events/book/s", 400, 0, e2e.PipelineResult{}},
		{"pipeline with a jittered line", "line 1 jittered, 200 events/book/s", 200, 2 * time.Millisecond, e2e.PipelineResult{}},
	}
	for i := range runs {
		r.log(runs[i].log)
		if runs[i].p, err = e2e.Pipeline(runs[i].rate, r.phase, runs[i].jitter); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
	}
	sat, plain, jit := runs[0].p, runs[1].p, runs[2].p
	if err := writeJSON(r.out, "pipeline.json", map[string]any{"machine": r.m, "capacity": capRuns, "saturation": sat, "plain": plain, "jittered": jit}); err != nil {
		return err
	}
	r.md.WriteString("## End to end: simulator → 2 gateways → strategy\n\n| run | delivered ticks/s | received (both lines)/s | bus drops per line | real gaps | chain breaks |\n|---|---:|---:|---|---:|---:|\n")
	for _, x := range runs {
		fmt.Fprintf(&r.md, "| %s | %.0f | %.0f | %v | %d | %d |\n", x.name, x.p.DeliveredPerS, x.p.ReceivedPerS, x.p.SeqGaps, x.p.RealGaps, x.p.ChainBreaks)
	}
	r.md.WriteString("\n| hop (two clean lines) | n | p50 µs | p99 µs | p99.9 µs | min µs | negative |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, h := range plain.Hops {
		fmt.Fprintf(&r.md, "| %s | %d | %.0f | %.0f | %.0f | %.0f | %d |\n", h.Hop, h.Count, h.P50us, h.P99us, h.P999us, h.MinUs, h.Negative)
	}
	best := r.capacityTable(capRuns)
	r.note.plain, r.note.lossless = &plain, best
	fmt.Fprintf(&r.md, "\nHighest lossless throughput: %.0f ticks/s delivered (target ≥ 300k ticks/s with no loss).\n", best)
	if ag := jit.JitterLine; ag != nil {
		fmt.Fprintf(&r.md, "\nArbitration gain (line 1 jittered by up to %s): line 0 alone p99 %.0f µs, line 1 alone p99 %.0f µs, merged p99 %.0f µs → merged / better line = %.2f (target ≤ 1.2)\n\n",
			ag.Jitter, ag.Line0.P99us, ag.Line1.P99us, ag.Merged.P99us, ag.MergedVsBestP99)
	}
	return nil
}

// capacityTable writes the capacity search's table and returns the highest lossless
// delivered rate.
func (r *suiteRun) capacityTable(capRuns []e2e.CapacityRun) float64 {
	r.md.WriteString("\nCapacity search (each rate for the phase length; lossless = no bus drop on either line, no real gap, exchange→gateway p99 < 50 ms):\n\n| sim events/book/s | delivered ticks/s | bus drops per line | real gaps | exchange→gateway p99 µs | gateway→strategy p99 µs | lossless |\n|---:|---:|---|---:|---:|---:|---|\n")
	best := 0.0
	for _, x := range capRuns {
		var e2g, g2s float64
		for _, h := range x.Result.Hops {
			switch h.Hop {
			case "exchange_to_gateway":
				e2g = h.P99us
			case "gateway_to_strategy":
				g2s = h.P99us
			}
		}
		fmt.Fprintf(&r.md, "| %.0f | %.0f | %v | %d | %.0f | %.0f | %v |\n", x.Rate, x.Result.DeliveredPerS, x.Result.SeqGaps, x.Result.RealGaps, e2g, g2s, x.Lossless)
		if x.Lossless {
			best = max(best, x.Result.DeliveredPerS)
		}
	}
	return best
}

func (r *suiteRun) replay() error {
	if err := replayScale(r.ctx, r.out, r.quick, &r.md, r.log); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}

// replayScale runs the replay scale test (archiver/replay TestIntegrationReplayScale: 10M
// records archived into the real Kafka of KAFKA_SEEDS, replayed at max speed in a child
// process into a checking null sink) and reports its peak RSS and rate. Without
// KAFKA_SEEDS the section says how to run it.
func replayScale(ctx context.Context, out string, quick bool, md *strings.Builder, log func(string)) error {
	md.WriteString("## Replay at archive scale: real Kafka → replay (max speed) → null sink\n\n")
	if os.Getenv("KAFKA_SEEDS") == "" {
		log("replay: skipped (KAFKA_SEEDS unset)")
		md.WriteString("Skipped: KAFKA_SEEDS is not set. Run `scripts/kafka/with-kafka.sh single -- make bench`.\n\n")
		return nil
	}
	n := "10000000"
	if quick {
		n = "1000000"
	}
	log("replay: " + n + " records through Kafka")
	res, err := filepath.Abs(filepath.Join(out, "replay.json")) // the test runs in its package's directory
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-timeout=20m", "-run", "^TestIntegrationReplayScale$", "-v", "./archiver/replay")
	cmd.Env = append(os.Environ(), "TICKLINE_REPLAY_SCALE="+n, "TICKLINE_REPLAY_SCALE_OUT="+res)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scale test: %w", err)
	}
	b, err := os.ReadFile(res)
	if err != nil {
		return err
	}
	var r struct {
		Records        int64   `json:"records"`
		Partitions     int     `json:"partitions"`
		ProduceSeconds float64 `json:"produce_seconds"`
		ReplaySeconds  float64 `json:"replay_seconds"`
		RecordsPerS    float64 `json:"records_per_s"`
		PeakRSSBytes   int64   `json:"peak_rss_bytes"`
		MaxRSSBound    int64   `json:"max_rss_bound"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", res, err)
	}
	md.WriteString("| records | partitions | produce s | replay s | records/s | peak RSS MB (VmHWM) | bound MB |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(md, "| %d | %d | %.1f | %.1f | %.0f | %.1f | %.0f |\n\n", r.Records, r.Partitions, r.ProduceSeconds, r.ReplaySeconds,
		r.RecordsPerS, float64(r.PeakRSSBytes)/1e6, float64(r.MaxRSSBound)/(1<<20))
	md.WriteString("Targets: peak RSS ≤ 256 MiB whatever the range; ≥ 1M records/s to a null sink (arbitration on, every record checked by the sink).\n\n")
	return nil
}

// procs runs the real pipeline as separate processes (bench/procbench), in normal and in
// low-latency mode, with the binary built from this tree.
func (r *suiteRun) procs() error {
	dir, err := os.MkdirTemp("", "tickline-procs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tickline")
	if out, err := exec.CommandContext(r.ctx, "go", "build", "-o", bin, "./cmd/tickline").CombinedOutput(); err != nil {
		return fmt.Errorf("procs: go build: %v\n%s", err, out)
	}
	d := 20 * time.Second
	if r.quick {
		d = 4 * time.Second
	}
	r.md.WriteString("## Real processes: sim (--frame-per-event) → 2 gateways → strategy, loopback TCP\n\n| mode | events/book/s | gateway→strategy p50 / p99 / p99.9 µs | exchange→gateway p50 / p99 µs, all venues | same, µs-stamped venues | events delivered | bus losses |\n|---|---:|---|---|---|---:|---:|\n")
	for _, ll := range []bool{false, true} {
		r.log(fmt.Sprintf("real processes, low-latency %v", ll))
		res, err := procbench.Run(r.ctx, procbench.Config{Bin: bin, Rate: 100, Duration: d, LowLatency: ll})
		if err != nil {
			return fmt.Errorf("procs: %w", err)
		}
		h, x, xu := res.Hops["gateway_to_strategy"], res.Hops["exchange_to_gateway"], res.Hops["exchange_to_gateway_us"]
		fmt.Fprintf(&r.md, "| %s | %.0f | %.0f / %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.0f | %.0f |\n", res.Mode, res.Rate,
			h.P50us, h.P99us, h.P999us, x.P50us, x.P99us, xu.P50us, xu.P99us, res.Delivered, res.SeqGaps)
		r.note.procs = append(r.note.procs, res)
	}
	r.md.WriteString("\nMost venues stamp their events in ms, which adds up to 1 ms (0.5 ms on average) of rounding to exchange→gateway; Coinbase and Kraken stamp in µs, so their column measures the gateway's receive.\n\nLow-latency mode spins a reader or writer per connection: on a 2-core machine shared by four processes it competes with them for the cores it is meant to own.\n\n")
	return writeJSON(r.out, "procs.json", map[string]any{"machine": r.m, "results": r.note.procs})
}
