// Package procbench measures the real pipeline as it is deployed: `tickline sim`, two
// `tickline gateway` processes carrying the same feeds (two lines) and `tickline strategy`,
// each its own process talking over loopback TCP, with the simulator sending every event
// in its own frame as soon as it happens (--frame-per-event), so that the hops measure
// tickline and not the simulator's batching. The figures are the strategy's own per-hop
// HDR histograms, scraped from its /metrics: the ones its reports and the demo print.
//
// Run it in normal mode and in the bus's low-latency mode (bus.low_latency, started with
// GODEBUG=asyncpreemptoff=1 as configs/README.md says) and compare the gateway→strategy
// hop with the bus micro-benchmark measured in the same `make bench` run.
package procbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is one run.
type Config struct {
	Bin        string        // the tickline binary
	Rate       float64       // events per second per (exchange, symbol) book
	Duration   time.Duration // how long the market runs once every process is up
	LowLatency bool          // bus.low_latency in the topology, GODEBUG=asyncpreemptoff=1
	Exchanges  []string      // a subset of binance, okx, bybit, coinbase, kraken; default all five
}

// Hop is one hop's quantiles, µs.
type Hop struct {
	P50us  float64 `json:"p50_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
}

// Result is what one run measured.
type Result struct {
	Mode       string         `json:"mode"` // normal or low-latency
	Rate       float64        `json:"events_per_book_s"`
	DurationS  float64        `json:"duration_s"`
	Hops       map[string]Hop `json:"hops"`
	SeqGaps    float64        `json:"line_seq_gaps"` // records the bus lost, both lines
	Delivered  float64        `json:"line_wins"`     // events delivered (first copies), both lines
	Duplicates float64        `json:"line_duplicates"`
}

// Run starts the processes, lets the market run for cfg.Duration, scrapes the strategy
// and stops everything (SIGTERM, then SIGKILL after a grace period).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if len(cfg.Exchanges) == 0 {
		// Coinbase and Kraken stamp their events in µs: exchange_to_gateway_us.
		cfg.Exchanges = []string{"binance", "okx", "bybit", "coinbase", "kraken"}
	}
	for _, ex := range cfg.Exchanges {
		if wsPath[ex] == "" {
			return Result{}, fmt.Errorf("procbench: exchange %q: want binance, okx, bybit, coinbase or kraken", ex)
		}
	}
	mode := "normal"
	if cfg.LowLatency {
		mode = "low-latency"
	}
	res := Result{Mode: mode, Rate: cfg.Rate, DurationS: cfg.Duration.Seconds()}
	dir, err := os.MkdirTemp("", "procbench")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var env []string
	if cfg.LowLatency {
		env = append(env, "GODEBUG=asyncpreemptoff=1")
	}
	g := &group{dir: dir, env: env}
	defer g.stop()

	simOut, err := g.start(cfg.Bin, "sim", "--listen", "127.0.0.1:0", "--seed", "7", "--frame-per-event",
		"--rate", strconv.FormatFloat(cfg.Rate, 'f', -1, 64), "--exchanges", strings.Join(cfg.Exchanges, ","))
	if err != nil {
		return res, err
	}
	simAddr, err := firstMatch(simOut, regexp.MustCompile(`serving \d+ exchanges on (\S+) `), 20*time.Second)
	if err != nil {
		return res, fmt.Errorf("procbench: the simulator's address: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return res, err
	}
	topo := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(topo, []byte(topology(simAddr, ports, cfg)), 0o644); err != nil {
		return res, err
	}
	for _, id := range []string{"gw-a", "gw-b"} {
		if _, err := g.start(cfg.Bin, "gateway", "--config", topo, "--id", id, "--wait-subscribers", "1"); err != nil {
			return res, err
		}
	}
	if _, err := g.start(cfg.Bin, "strategy", "--config", topo, "--report", "0"); err != nil {
		return res, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])
	if err := waitScrape(ctx, metricsURL, 30*time.Second); err != nil {
		return res, g.explain(err)
	}
	t := time.NewTimer(cfg.Duration)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return res, ctx.Err()
	}
	body, err := scrape(metricsURL)
	if err != nil {
		return res, err
	}
	res.Hops, res.SeqGaps, res.Delivered, res.Duplicates = parseMetrics(body)
	if res.Hops["gateway_to_strategy"].P50us == 0 {
		return res, errors.New("procbench: the strategy measured no gateway→strategy hop")
	}
	return res, nil
}

// topology is the run's topology: two gateways with the same feeds, a strategy with
// /metrics, and (never started, but the file must be whole) an archiver.
func topology(sim string, ports []int, cfg Config) string {
	var b strings.Builder
	b.WriteString("version: 1\nregions: [{name: bench}]\nbus: {queue_depth: 65536")
	if cfg.LowLatency {
		b.WriteString(", low_latency: {}")
	}
	b.WriteString("}\ngateways:\n")
	for i, id := range []string{"gw-a", "gw-b"} {
		fmt.Fprintf(&b, "  - id: %s\n    num: %d\n    region: bench\n    publish: tcp://127.0.0.1:%d\n    exchanges:\n", id, i+1, ports[i])
		for _, ex := range cfg.Exchanges {
			sym := symbols[ex]
			fmt.Fprintf(&b, "      %s:\n        ws_url: ws://%s/%s\n        symbols: {%s: [bbo, trade], %s: [bbo, trade]}\n",
				ex, sim, wsPath[ex], sym[0], sym[1])
		}
	}
	b.WriteString("strategy:\n  threshold_bps: 1\n  max_notional: 10000\n  fees_bps: {")
	for i, ex := range cfg.Exchanges {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: 1", ex)
	}
	fmt.Fprintf(&b, "}\n  metrics: 127.0.0.1:%d\n", ports[2])
	b.WriteString("archiver:\n  seeds: [127.0.0.1:9]\n  topics: {bench: bench}\n  partitions: {")
	for i, ex := range cfg.Exchanges {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", ex, i)
	}
	b.WriteString("}\nreplay: {output: jsonl}\n")
	return b.String()
}

// The simulator's paths and two symbols of each exchange this bench subscribes.
var (
	wsPath = map[string]string{"binance": "binance/stream", "okx": "okx/ws/v5/public", "bybit": "bybit/v5/public/spot",
		"coinbase": "coinbase/", "kraken": "kraken/v2"}
	symbols = map[string][2]string{"binance": {"BTCUSDT", "ETHUSDT"}, "okx": {"BTC-USDT", "ETH-USDT"}, "bybit": {"BTCUSDT", "ETHUSDT"},
		"coinbase": {"BTC-USD", "ETH-USD"}, "kraken": {"BTC/USD", "ETH/USD"}}
)

var metricRe = regexp.MustCompile(`^tickline_(hop_latency_microseconds|arbiter_wins_total|arbiter_duplicates_total|line_seq_gaps_total)\{([^}]*)\} (\S+)$`)

// parseMetrics reads the strategy's hop quantiles and per-line counters (summed).
func parseMetrics(body string) (hops map[string]Hop, gaps, wins, dups float64) {
	hops = map[string]Hop{}
	for _, line := range strings.Split(body, "\n") {
		m := metricRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		switch m[1] {
		case "arbiter_wins_total":
			wins += v
		case "arbiter_duplicates_total":
			dups += v
		case "line_seq_gaps_total":
			gaps += v
		default:
			hop, q := label(m[2], "hop"), label(m[2], "quantile")
			h := hops[hop]
			switch q {
			case "0.5":
				h.P50us = v
			case "0.99":
				h.P99us = v
			case "0.999":
				h.P999us = v
			case "1":
				h.MaxUs = v
			}
			hops[hop] = h
		}
	}
	return hops, gaps, wins, dups
}

// label returns the value of name in a Prometheus label list (`a="x",b="y"`).
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// group is the run's processes.
type group struct {
	dir   string
	env   []string
	procs []*exec.Cmd
}

// start runs bin with args and returns a reader of its stdout; stderr goes to a log file
// in the run's directory.
func (g *group) start(bin string, args ...string) (io.Reader, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), g.env...)
	logf, err := os.Create(filepath.Join(g.dir, fmt.Sprintf("%s-%d.log", args[0], len(g.procs))))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("procbench: starting %s: %w", args[0], err)
	}
	g.procs = append(g.procs, cmd)
	return out, nil
}

// explain adds the last lines of every process's log to err.
func (g *group) explain(err error) error {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(g.dir, "*.log"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "\n--- %s\n%s", filepath.Base(f), strings.Join(lines[max(0, len(lines)-5):], "\n"))
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// stop ends every process, newest first: SIGTERM, and SIGKILL after 10 s.
func (g *group) stop() {
	for i := len(g.procs) - 1; i >= 0; i-- {
		cmd := g.procs[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	g.procs = nil
}

// firstMatch reads lines from r until re matches one (its first group is returned) or
// d has passed. The rest of r is drained in the background.
func firstMatch(r io.Reader, re *regexp.Regexp, d time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case s, ok := <-found:
		if !ok {
			return "", errors.New("output ended without it")
		}
		return s, nil
	case <-time.After(d):
		return "", fmt.Errorf("not printed within %v", d)
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitScrape waits until the strategy answers /metrics with a gateway→strategy hop: every
// process is up and records flow.
func waitScrape(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if body, err := scrape(url); err == nil && strings.Contains(body, `hop="gateway_to_strategy"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("procbench: no gateway→strategy record within %v", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func scrape(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("procbench: %s: %s", url, resp.Status)
	}
	return string(b), nil
}
