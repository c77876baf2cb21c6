package strategy

import (
	"fmt"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Hop names, in pipeline order.
const (
	HopExchangeToGateway = "exchange_to_gateway" // gateway receive - exchange timestamp (clocks of two hosts)
	// HopExchangeToGatewayUs is exchange_to_gateway for the venues whose timestamps carry
	// µs (the venue table's TimeUnit): most venues stamp in ms, which adds up to 1 ms
	// (0.5 ms on average) of rounding to the hop; these measure the gateway's receive.
	HopExchangeToGatewayUs = "exchange_to_gateway_us"
	HopGatewayToStrategy   = "gateway_to_strategy" // strategy receive - gateway receive (clocks of two hosts)
	HopStrategyToSignal    = "strategy_to_signal"  // signal published - strategy receive (one clock)
)

// hops are the hops in report order.
var hops = []string{HopExchangeToGateway, HopExchangeToGatewayUs, HopGatewayToStrategy, HopStrategyToSignal}

// Latency keeps one HDR histogram (µs, 1 µs .. 100 s, 3 significant digits) per hop.
// Differences of timestamps taken on different hosts include the hosts' clock offset; a
// negative difference cannot be recorded and is counted instead, and the smallest value
// seen is reported as a bound on the offset: offsets are reported, not hidden.
// Safe for concurrent use (the reporter reads while the handler records).
type Latency struct {
	mu       sync.Mutex
	hist     map[string]*hdrhistogram.Histogram
	negative map[string]uint64
	minNs    map[string]int64
}

// NewLatency returns empty histograms for the hops.
func NewLatency() *Latency {
	l := &Latency{hist: map[string]*hdrhistogram.Histogram{}, negative: map[string]uint64{}, minNs: map[string]int64{}}
	for _, h := range hops {
		l.hist[h] = hdrhistogram.New(1, 100_000_000, 3)
		l.minNs[h] = 1<<63 - 1
	}
	return l
}

// Record adds one observation of hop, in ns.
func (l *Latency) Record(hop string, ns int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ns < l.minNs[hop] {
		l.minNs[hop] = ns
	}
	if ns < 0 {
		l.negative[hop]++
		return
	}
	l.hist[hop].RecordValue(max(ns/1000, 1))
}

// HopStats summarise one hop.
type HopStats struct {
	Hop      string  `json:"hop"`
	Count    int64   `json:"count"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	P999us   float64 `json:"p999_us"`
	Maxus    float64 `json:"max_us"`
	Negative uint64  `json:"negative"` // observations below zero: clock offset between hosts
	MinUs    float64 `json:"min_us"`   // smallest observation (offset bound)
}

// Snapshot returns the current percentiles of every hop.
func (l *Latency) Snapshot() []HopStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []HopStats
	for _, h := range hops {
		hg := l.hist[h]
		s := HopStats{Hop: h, Count: hg.TotalCount(), Negative: l.negative[h]}
		if s.Count > 0 || s.Negative > 0 {
			s.P50us, s.P99us = float64(hg.ValueAtQuantile(50)), float64(hg.ValueAtQuantile(99))
			s.P999us, s.Maxus = float64(hg.ValueAtQuantile(99.9)), float64(hg.Max())
			s.MinUs = float64(l.minNs[h]) / 1000
		}
		out = append(out, s)
	}
	return out
}

// String renders a one-line-per-hop summary.
func (s HopStats) String() string {
	return fmt.Sprintf("%-20s n=%d p50=%.0fµs p99=%.0fµs p99.9=%.0fµs max=%.0fµs min=%.0fµs negative=%d",
		s.Hop, s.Count, s.P50us, s.P99us, s.P999us, s.Maxus, s.MinUs, s.Negative)
}
