package e2e

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/tickline/tickline/bench/shaper"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/strategy"
)

// Latencies summarise one HDR histogram (µs).
type Latencies struct {
	Count  int64   `json:"count"`
	P50us  float64 `json:"p50_us"`
	P99us  float64 `json:"p99_us"`
	P999us float64 `json:"p999_us"`
}

func summarize(h *hdrhistogram.Histogram) Latencies {
	return Latencies{Count: h.TotalCount(), P50us: float64(h.ValueAtQuantile(50)), P99us: float64(h.ValueAtQuantile(99)), P999us: float64(h.ValueAtQuantile(99.9))}
}

// counter is a bus subscriber that counts records, gateway-sequence holes and the
// gateway→subscriber latency.
type counter struct {
	mu      sync.Mutex
	n       atomic.Uint64
	holes   atomic.Uint64
	last    map[uint16]uint64
	hist    *hdrhistogram.Histogram
	measure atomic.Bool
}

func startCounter(endpoint string, g *Group) (*counter, error) {
	c := &counter{last: map[uint16]uint64{}, hist: hdrhistogram.New(1, 60_000_000, 3)}
	sub := bus.NewSubscriber(bus.SubOptions{MaxMessageBytes: 4 << 20}, Quiet)
	if err := sub.Connect(endpoint); err != nil {
		return nil, err
	}
	sub.Subscribe("")
	g.Go(func(ctx context.Context) {
		var h wire.Header
		sub.Run(ctx, func(b []bus.Message) {
			now := time.Now().UnixNano()
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, m := range b {
				if wire.ReadHeader(m.Payload, &h) != nil {
					continue
				}
				if l := c.last[h.GatewayID]; l != 0 && h.GatewaySeq > l+1 {
					c.holes.Add(h.GatewaySeq - l - 1)
				}
				c.last[h.GatewayID] = h.GatewaySeq
				if c.measure.Load() {
					c.n.Add(1)
					c.hist.RecordValue(max((now-h.TsRecv)/1000, 1))
				}
			}
		})
		sub.Close()
	})
	return c, nil
}

// IngestResult is the gateway ingest figure: simulator → gateway → bus subscriber.
type IngestResult struct {
	Exchanges   int       `json:"exchanges"`
	SimRate     float64   `json:"sim_events_per_book_per_s"`
	Seconds     float64   `json:"seconds"`
	Records     uint64    `json:"records"`
	RecordsPerS float64   `json:"records_per_s"`
	SimFrames   uint64    `json:"sim_frames"`
	FramesPerS  float64   `json:"sim_frames_per_s"`
	Holes       uint64    `json:"gateway_seq_holes"`
	Latency     Latencies `json:"gateway_to_subscriber"`
}

// Ingest measures one gateway carrying every exchange of the demo topology.
func Ingest(rate float64, d time.Duration) (IngestResult, error) {
	res := IngestResult{SimRate: rate, Exchanges: 10}
	s, topo, g, err := startRig(5, rate)
	if err != nil {
		return res, err
	}
	defer s.Close()
	defer g.Stop()
	gw, err := StartGateway(topo, "gw-korea", "tcp://127.0.0.1:0", gateway.Options{})
	if err != nil {
		return res, err
	}
	defer gw.Stop()
	c, err := startCounter(gw.Endpoint(), g)
	if err != nil {
		return res, err
	}
	time.Sleep(2 * time.Second) // connect, subscribe, snapshots
	f0 := s.Stats().Total.Frames
	c.measure.Store(true)
	start := time.Now()
	time.Sleep(d)
	c.measure.Store(false)
	el := time.Since(start).Seconds()
	res.Seconds, res.Records, res.Holes = el, c.n.Load(), c.holes.Load()
	res.RecordsPerS = float64(res.Records) / el
	res.SimFrames = s.Stats().Total.Frames - f0
	res.FramesPerS = float64(res.SimFrames) / el
	c.mu.Lock()
	res.Latency = summarize(c.hist)
	c.mu.Unlock()
	return res, nil
}

// PipelineResult is the end-to-end figure: simulator → 2 gateways → strategy.
type PipelineResult struct {
	Seconds       float64             `json:"seconds"`
	Delivered     uint64              `json:"delivered"`
	DeliveredPerS float64             `json:"delivered_per_s"` // arbitrated ticks/s at the strategy
	Received      uint64              `json:"received"`        // both lines, before arbitration
	ReceivedPerS  float64             `json:"received_per_s"`
	SeqGaps       [2]uint64           `json:"seq_gaps"` // records lost per line (bus drops)
	RealGaps      uint64              `json:"real_gaps"`
	ChainBreaks   uint64              `json:"chain_breaks"`
	Opportunities uint64              `json:"opportunities"`
	Hops          []strategy.HopStats `json:"hops"`
	Wins          [2]uint64           `json:"wins"`
	Note          string              `json:"note,omitempty"`
	JitterLine    *ArbitrationGain    `json:"arbitration_gain,omitempty"`
}

// ArbitrationGain compares the merged stream's latency with each line's alone.
type ArbitrationGain struct {
	Jitter          string    `json:"jitter_on_line_1"`
	Line0           Latencies `json:"line0"` // clean line alone (a plain subscriber on it)
	Line1           Latencies `json:"line1"` // jittered line alone
	Merged          Latencies `json:"merged"`
	MergedVsBestP99 float64   `json:"merged_p99_vs_better_line_p99"` // target ≤ 1.2
}

// startRig starts the simulator and loads the demo topology pointed at it, with a group for
// the helpers' goroutines; the caller closes the simulator and stops the group.
func startRig(seed uint64, rate float64) (*sim.Server, *config.Topology, *Group, error) {
	s, err := StartSim(sim.Options{Seed: seed, Rate: rate})
	if err != nil {
		return nil, nil, nil, err
	}
	topo, err := Topology(".", s.Addr())
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return s, topo, NewGroup(), nil
}

// Pipeline runs simulator → 2 gateways → strategy for d. With jitter > 0, line 1 goes
// through a shaper adding uniform jitter, and plain subscribers on both lines measure each
// line alone in the same run (arbitration gain).
func Pipeline(rate float64, d time.Duration, jitter time.Duration) (PipelineResult, error) {
	var res PipelineResult
	s, topo, g, err := startRig(6, rate)
	if err != nil {
		return res, err
	}
	defer s.Close()
	defer g.Stop()
	var gws []*Gateway
	for _, id := range []string{"gw-korea", "gw-global"} {
		gw, err := StartGateway(topo, id, "tcp://127.0.0.1:0", gateway.Options{})
		if err != nil {
			return res, err
		}
		defer gw.Stop()
		gws = append(gws, gw)
	}
	lines := []string{gws[0].Endpoint(), gws[1].Endpoint()}
	var alone [2]*counter
	if jitter > 0 {
		sh, err := StartShaper(lines[1], shaper.Options{Jitter: jitter, Seed: 1}, g)
		if err != nil {
			return res, err
		}
		lines[1] = sh.Endpoint()
		for i := range lines {
			if alone[i], err = startCounter(lines[i], g); err != nil {
				return res, err
			}
		}
	}
	merged := &mergedLatency{hist: hdrhistogram.New(1, 60_000_000, 3)}
	st, err := strategy.New(topo, strategy.Options{Endpoints: lines, NoMetrics: true, SignalBind: "tcp://127.0.0.1:0", Out: io.Discard, OnRecord: merged.record}, Quiet)
	if err != nil {
		return res, err
	}
	sg := NewGroup()
	sg.Go(func(ctx context.Context) { st.Run(ctx) })
	time.Sleep(2 * time.Second)
	d0, r0 := st.Stats.Delivered.Load(), st.Stats.Received.Load()
	merged.measure.Store(true)
	for _, c := range alone {
		if c != nil {
			c.measure.Store(true)
		}
	}
	start := time.Now()
	time.Sleep(d)
	merged.measure.Store(false)
	el := time.Since(start).Seconds()
	sg.Stop()
	res.Seconds = el
	res.Delivered, res.Received = st.Stats.Delivered.Load()-d0, st.Stats.Received.Load()-r0
	res.DeliveredPerS, res.ReceivedPerS = float64(res.Delivered)/el, float64(res.Received)/el
	m := st.Merger()
	res.SeqGaps = [2]uint64{m.Stats.SeqGaps[0], m.Stats.SeqGaps[1]}
	res.Wins = [2]uint64{m.Arb.Stats.Wins[0], m.Arb.Stats.Wins[1]}
	res.RealGaps, res.ChainBreaks = m.Stats.RealGaps, st.Engine().Stats.ChainBreaks
	res.Opportunities = st.Stats.Opportunities.Load()
	res.Hops = st.Latency.Snapshot()
	if jitter > 0 {
		res.JitterLine = arbitrationGain(jitter, alone, merged)
	}
	if res.SeqGaps[0]+res.SeqGaps[1] > 0 {
		res.Note = fmt.Sprintf("bus drops: %v", res.SeqGaps)
	}
	return res, nil
}

// mergedLatency is the strategy's gateway→strategy latency of every delivered record while
// measure is set; record runs on the strategy's handler goroutine.
type mergedLatency struct {
	measure atomic.Bool
	mu      sync.Mutex
	hist    *hdrhistogram.Histogram // guarded by mu
}

func (l *mergedLatency) record(_ int, r *wire.Record) {
	if l.measure.Load() {
		l.mu.Lock()
		l.hist.RecordValue(max((time.Now().UnixNano()-r.TsRecv)/1000, 1))
		l.mu.Unlock()
	}
}

// arbitrationGain compares the merged stream's latency with each line's alone.
func arbitrationGain(jitter time.Duration, alone [2]*counter, merged *mergedLatency) *ArbitrationGain {
	ag := &ArbitrationGain{Jitter: jitter.String()}
	for i, c := range alone {
		c.mu.Lock()
		l := summarize(c.hist)
		c.mu.Unlock()
		if i == 0 {
			ag.Line0 = l
		} else {
			ag.Line1 = l
		}
	}
	merged.mu.Lock()
	ag.Merged = summarize(merged.hist)
	merged.mu.Unlock()
	best := min(ag.Line0.P99us, ag.Line1.P99us)
	if best > 0 {
		ag.MergedVsBestP99 = ag.Merged.P99us / best
	}
	return ag
}

// Lossless reports whether a pipeline run lost nothing and kept up: no bus drop on either
// line, no real gap, and the gateways not falling behind the simulator (exchange→gateway
// p99 under 50 ms; a backlog shows there long before anything is dropped).
func (r *PipelineResult) Lossless() bool {
	if r.SeqGaps[0]+r.SeqGaps[1] > 0 || r.RealGaps > 0 {
		return false
	}
	for _, h := range r.Hops {
		if h.Hop == "exchange_to_gateway" && h.P99us > 50_000 {
			return false
		}
	}
	return true
}

// CapacityRun is one step of a capacity search.
type CapacityRun struct {
	Rate     float64        `json:"sim_events_per_book_per_s"`
	Lossless bool           `json:"lossless"`
	Result   PipelineResult `json:"result"`
}

// Capacity runs the pipeline at each rate in turn (ascending) for d and stops after the
// first run that is not Lossless; the last lossless run is the pipeline's capacity here.
func Capacity(rates []float64, d time.Duration, progress func(rate float64)) ([]CapacityRun, error) {
	var runs []CapacityRun
	for _, rate := range rates {
		if progress != nil {
			progress(rate)
		}
		res, err := Pipeline(rate, d, 0)
		if err != nil {
			return runs, err
		}
		runs = append(runs, CapacityRun{Rate: rate, Lossless: res.Lossless(), Result: res})
		if !res.Lossless() {
			break
		}
	}
	return runs, nil
}
