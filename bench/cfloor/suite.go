package cfloor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config bounds a suite run.
type Config struct {
	Rate       int           `json:"rate"`        // paced messages per second
	PacedFor   time.Duration `json:"paced_for"`   // length of one paced run
	FloodCount int           `json:"flood_count"` // messages in one flood run
	Rounds     int           `json:"rounds"`      // alternating rounds; figures are medians over them
	Transports []string      `json:"transports"`  // tcp, ipc
}

// DefaultConfig is what `make bench` runs: 20k msg/s for 2 s and 400k-message floods,
// 3 rounds over 6 systems × 2 transports (about 2 minutes).
func DefaultConfig() Config {
	return Config{Rate: 20000, PacedFor: 2 * time.Second, FloodCount: 400000, Rounds: 3, Transports: []string{"tcp", "ipc"}}
}

// Result is one system on one transport in one mode, medians over the rounds.
type Result struct {
	Name      string       `json:"name"` // e.g. "libzmq/tcp"
	System    string       `json:"system"`
	Lang      string       `json:"lang"`
	Transport string       `json:"transport"`
	Mode      string       `json:"mode"` // paced or flood
	Rounds    int          `json:"rounds"`
	Sent      int          `json:"sent"`     // over all rounds
	Received  int          `json:"received"` // over all rounds
	Intact    bool         `json:"intact"`   // every round delivered every message once, unchanged
	P50us     float64      `json:"p50_us"`
	P99us     float64      `json:"p99_us"`
	P999us    float64      `json:"p999_us"`
	Maxus     float64      `json:"max_us"`
	MsgsPerS  float64      `json:"msgs_per_s"`
	Runs      []PairResult `json:"runs"`
	Note      string       `json:"note,omitempty"`
}

// Run runs every system over every transport, paced then flood, for cfg.Rounds rounds;
// each round starts the system list one further along, so no system always runs first
// or right after the same neighbour. A failing run is noted and the others still run.
func Run(ctx context.Context, cfg Config, systems []System, dir string, progress func(string)) []Result {
	type key struct{ sys, tr, mode string }
	byKey := map[key]*Result{}
	var order []key
	paced := max(1, int(cfg.PacedFor.Seconds()*float64(cfg.Rate)))
	for round := range max(cfg.Rounds, 1) {
		for _, tr := range cfg.Transports {
			for _, mode := range []string{"paced", "flood"} {
				for i := range systems {
					sys := systems[(i+round)%len(systems)]
					k := key{sys.Name, tr, mode}
					r := byKey[k]
					if r == nil {
						r = &Result{Name: sys.Name + "/" + tr, System: sys.Name, Lang: sys.Lang, Transport: tr, Mode: mode, Intact: true}
						byKey[k] = r
						order = append(order, k)
					}
					if ctx.Err() != nil {
						continue
					}
					if progress != nil {
						progress(fmt.Sprintf("baseline round %d: %s %s", round+1, r.Name, mode))
					}
					rate, n := cfg.Rate, paced
					if mode == "flood" {
						rate, n = 0, cfg.FloodCount
					}
					pr, err := RunPair(ctx, sys, tr, dir, rate, n)
					pr.Latencies = nil
					if err != nil {
						r.Note = strings.TrimSpace(r.Note + " " + err.Error())
						r.Intact = false
						continue
					}
					r.Runs = append(r.Runs, pr)
				}
			}
		}
	}
	// Results in a stable order: transport, mode, then the systems' order.
	slices.SortStableFunc(order, func(a, b key) int {
		return strings.Compare(a.tr+a.mode, b.tr+b.mode)
	})
	out := make([]Result, 0, len(order))
	for _, k := range order {
		r := byKey[k]
		r.Rounds = len(r.Runs)
		var p50, p99, p999, mx, rate []float64
		for _, pr := range r.Runs {
			r.Sent += pr.Sent
			r.Received += pr.Received
			r.Intact = r.Intact && pr.Intact
			p50, p99, p999, mx, rate = append(p50, pr.P50us), append(p99, pr.P99us), append(p999, pr.P999us), append(mx, pr.Maxus), append(rate, pr.MsgsPerS)
		}
		r.P50us, r.P99us, r.P999us, r.Maxus, r.MsgsPerS = median(p50), median(p99), median(p999), median(mx), median(rate)
		if r.Rounds == 0 {
			r.Intact = false
		}
		out = append(out, *r)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Find returns the result of system on transport in mode, or nil.
func Find(rs []Result, system, transport, mode string) *Result {
	for i := range rs {
		if rs[i].System == system && rs[i].Transport == transport && rs[i].Mode == mode {
			return &rs[i]
		}
	}
	return nil
}

// Ratios compare the bus (and Go's floor) with the C floor and libzmq on one transport;
// 0 means a figure is missing.
type Ratios struct {
	Transport          string  `json:"transport"`
	BusP50VsCFloor     float64 `json:"bus_p50_vs_c_floor"`
	BusP99VsCFloor     float64 `json:"bus_p99_vs_c_floor"`
	BusP999VsCFloor    float64 `json:"bus_p999_vs_c_floor"`
	BusP50VsLibzmq     float64 `json:"bus_p50_vs_libzmq"`
	BusP99VsLibzmq     float64 `json:"bus_p99_vs_libzmq"`
	BusP999VsLibzmq    float64 `json:"bus_p999_vs_libzmq"`
	BusFloodVsLibzmq   float64 `json:"bus_flood_vs_libzmq"`
	BusFloodVsCFloor   float64 `json:"bus_flood_vs_c_floor"`
	GoFloorP99VsCFloor float64 `json:"go_floor_p99_vs_c_floor"`
	LibzmqP99VsCFloor  float64 `json:"libzmq_p99_vs_c_floor"`
	// The bus with asynchronous preemption off (bus-nopreempt).
	NoPreemptP99VsCFloor float64 `json:"bus_nopreempt_p99_vs_c_floor"`
	NoPreemptP99VsLibzmq float64 `json:"bus_nopreempt_p99_vs_libzmq"`
	// The bus in low-latency mode (bus-lowlat).
	LowLatP50VsCFloor float64 `json:"bus_lowlat_p50_vs_c_floor"`
	LowLatP99VsCFloor float64 `json:"bus_lowlat_p99_vs_c_floor"`
	LowLatP50VsLibzmq float64 `json:"bus_lowlat_p50_vs_libzmq"`
	LowLatP99VsLibzmq float64 `json:"bus_lowlat_p99_vs_libzmq"`
}

func div(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a / b
}

// ComputeRatios derives the ratios per transport from one suite's results.
func ComputeRatios(rs []Result, transports []string) []Ratios {
	var out []Ratios
	for _, tr := range transports {
		get := func(sys, mode string) Result {
			if r := Find(rs, sys, tr, mode); r != nil {
				return *r
			}
			return Result{}
		}
		cf, lz, bs, gf := get("c-floor", "paced"), get("libzmq", "paced"), get("bus", "paced"), get("go-floor", "paced")
		np, ll := get("bus-nopreempt", "paced"), get("bus-lowlat", "paced")
		cff, lzf, bsf := get("c-floor", "flood"), get("libzmq", "flood"), get("bus", "flood")
		out = append(out, Ratios{Transport: tr,
			BusP50VsCFloor: div(bs.P50us, cf.P50us), BusP99VsCFloor: div(bs.P99us, cf.P99us), BusP999VsCFloor: div(bs.P999us, cf.P999us),
			BusP50VsLibzmq: div(bs.P50us, lz.P50us), BusP99VsLibzmq: div(bs.P99us, lz.P99us), BusP999VsLibzmq: div(bs.P999us, lz.P999us),
			BusFloodVsLibzmq: div(bsf.MsgsPerS, lzf.MsgsPerS), BusFloodVsCFloor: div(bsf.MsgsPerS, cff.MsgsPerS),
			GoFloorP99VsCFloor: div(gf.P99us, cf.P99us), LibzmqP99VsCFloor: div(lz.P99us, cf.P99us),
			NoPreemptP99VsCFloor: div(np.P99us, cf.P99us), NoPreemptP99VsLibzmq: div(np.P99us, lz.P99us),
			LowLatP50VsCFloor: div(ll.P50us, cf.P50us), LowLatP99VsCFloor: div(ll.P99us, cf.P99us),
			LowLatP50VsLibzmq: div(ll.P50us, lz.P50us), LowLatP99VsLibzmq: div(ll.P99us, lz.P99us)})
	}
	return out
}

func ratio(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", v)
}

// RatioTable renders the ratios (the table that leads the report and the README).
func RatioTable(rs []Result, cfg Config) string {
	var b strings.Builder
	b.WriteString("| transport | bus / C floor p50 · p99 · p99.9 | bus / libzmq p50 · p99 · p99.9 | bus flood / libzmq flood | bus flood / C floor flood | Go floor / C floor p99 | libzmq / C floor p99 | bus, async preemption off: p99 / C floor · / libzmq | bus low-latency mode: p50 · p99 / C floor | bus low-latency mode: p50 · p99 / libzmq |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---|---|---|\n")
	for _, r := range ComputeRatios(rs, cfg.Transports) {
		fmt.Fprintf(&b, "| %s | %s · %s · %s | %s · %s · %s | %s | %s | %s | %s | %s · %s | %s · %s | %s · %s |\n", r.Transport,
			ratio(r.BusP50VsCFloor), ratio(r.BusP99VsCFloor), ratio(r.BusP999VsCFloor),
			ratio(r.BusP50VsLibzmq), ratio(r.BusP99VsLibzmq), ratio(r.BusP999VsLibzmq),
			ratio(r.BusFloodVsLibzmq), ratio(r.BusFloodVsCFloor), ratio(r.GoFloorP99VsCFloor), ratio(r.LibzmqP99VsCFloor),
			ratio(r.NoPreemptP99VsCFloor), ratio(r.NoPreemptP99VsLibzmq),
			ratio(r.LowLatP50VsCFloor), ratio(r.LowLatP99VsCFloor), ratio(r.LowLatP50VsLibzmq), ratio(r.LowLatP99VsLibzmq))
	}
	return b.String()
}

// Markdown renders the ratio table, then every system's figures.
func Markdown(rs []Result, cfg Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Every system runs as a sender process and a receiver process; senders stamp CLOCK_REALTIME just before the send call and pace by spinning on absolute deadlines; receivers take the time when they have the message. Paced: %d msgs/s for %s, %d-byte messages; flood: %d messages; medians of %d alternating rounds.\n\n",
		cfg.Rate, cfg.PacedFor, PayloadBytes, cfg.FloodCount, cfg.Rounds)
	b.WriteString(RatioTable(rs, cfg))
	b.WriteString("\n| system | lang | transport | p50 µs | p99 µs | p99.9 µs | max µs | paced recv/sent | flood msgs/s | flood recv/sent | intact | note |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, tr := range cfg.Transports {
		for _, r := range rs {
			if r.Transport != tr || r.Mode != "paced" {
				continue
			}
			fl := Find(rs, r.System, tr, "flood")
			if fl == nil {
				fl = &Result{}
			}
			intact := "yes"
			if !r.Intact || !fl.Intact {
				intact = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %d/%d | %.0f | %d/%d | %s | %s |\n", r.System, r.Lang, tr,
				r.P50us, r.P99us, r.P999us, r.Maxus, r.Received, r.Sent, fl.MsgsPerS, fl.Received, fl.Sent, intact,
				strings.TrimSpace(r.Note+" "+fl.Note))
		}
	}
	return b.String()
}
