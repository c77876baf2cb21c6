// Package busbench measures the bus against its baselines in one run on one machine: the
// raw Go TCP / unix-socket floor, a bare zmq4 PUB→SUB pair, and tickline's bus — latency
// percentiles at a paced rate (HDR histogram) and flood throughput, with ~100-byte
// records, over tcp and ipc, with one subscriber and with one healthy plus one stalled
// subscriber. Every figure is reported next to the baseline measured in the same run.
package busbench

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// PayloadBytes is the size of a benchmark record (a BBO record is 152 bytes, a trade 120).
const PayloadBytes = 100

// Config bounds a run. Every scenario stops by itself.
type Config struct {
	Rate        int           // paced messages per second
	PacedFor    time.Duration // paced phase length
	FloodCount  int           // messages in a flood phase
	FloodMaxDur time.Duration // a flood phase ends after this even if incomplete
	Dir         string        // directory for ipc sockets
}

// DefaultConfig is what `make bench` runs (about a minute in all).
func DefaultConfig(dir string) Config {
	return Config{Rate: 20000, PacedFor: 2 * time.Second, FloodCount: 400000, FloodMaxDur: 8 * time.Second, Dir: dir}
}

// Result is one scenario's figures.
type Result struct {
	Name      string  `json:"name"`      // e.g. "bus/tcp", "zmq4/ipc", "floor/tcp"
	Transport string  `json:"transport"` // tcp or ipc
	System    string  `json:"system"`    // floor, zmq4, bus
	Variant   string  `json:"variant"`   // "" or "stalled" (one healthy + one stalled subscriber)
	Sent      int     `json:"paced_sent"`
	Received  int     `json:"paced_received"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	Maxus     float64 `json:"max_us"`
	FloodSent int     `json:"flood_sent"`
	FloodRecv int     `json:"flood_received"`
	FloodMsgs float64 `json:"flood_msgs_per_s"`
	// Publisher heap (MiB) sampled during the stalled scenarios: start, peak, end.
	HeapStartMiB float64 `json:"heap_start_mib,omitempty"`
	HeapPeakMiB  float64 `json:"heap_peak_mib,omitempty"`
	HeapEndMiB   float64 `json:"heap_end_mib,omitempty"`
	Note         string  `json:"note,omitempty"`
}

// pair is one sender and one (healthy) receiver under test.
type pair interface {
	// send sends one message; the payload may be reused after it returns.
	send(p []byte) error
	// recv delivers received payloads to f until the pair closes.
	recv(f func(p []byte))
	close()
}

// stamp writes the send time and sequence into a payload.
func stamp(p []byte, seq uint64) {
	binary.LittleEndian.PutUint64(p[0:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint64(p[8:], seq)
}

// receiver collects latencies and counts; it is fed by the pair's receive goroutine.
type receiver struct {
	mu      sync.Mutex
	hist    *hdrhistogram.Histogram
	count   int
	lastSeq uint64
	record  bool
	first   chan struct{}
	got     chan struct{}
	want    int
}

func newReceiver() *receiver {
	return &receiver{hist: hdrhistogram.New(1, 10_000_000, 3), first: make(chan struct{}), got: make(chan struct{}, 1)}
}

func (r *receiver) on(p []byte) {
	if len(p) < 16 {
		return
	}
	now := time.Now().UnixNano()
	sent := int64(binary.LittleEndian.Uint64(p))
	seq := binary.LittleEndian.Uint64(p[8:])
	r.mu.Lock()
	if seq == 0 { // warm-up probe
		select {
		case <-r.first:
		default:
			close(r.first)
		}
		r.mu.Unlock()
		return
	}
	r.count++
	r.lastSeq = seq
	if r.record {
		r.hist.RecordValue(max((now-sent)/1000, 1)) // µs
	}
	done := r.want > 0 && r.count >= r.want
	r.mu.Unlock()
	if done {
		select {
		case r.got <- struct{}{}:
		default:
		}
	}
}

// warmUp sends probes until the receiver has one (PUB drops until subscriptions land).
func warmUp(pr pair, rc *receiver) error {
	p := make([]byte, PayloadBytes)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stamp(p, 0)
		if err := pr.send(p); err != nil {
			return err
		}
		select {
		case <-rc.first:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no message arrived within 10 s")
}

// run measures one pair: paced latency, then flood throughput.
func run(ctx context.Context, cfg Config, res *Result, pr pair, heap func(gc bool) float64) error {
	rc := newReceiver()
	go pr.recv(rc.on)
	if err := warmUp(pr, rc); err != nil {
		return err
	}
	stopHeap := func() {}
	if heap != nil {
		res.HeapStartMiB = heap(true)
		stopHeap = watchHeap(res, heap)
	}
	seq, err := paced(ctx, cfg, res, pr, rc)
	if err == nil {
		err = flood(ctx, cfg, res, pr, rc, seq)
	}
	stopHeap()
	if err != nil {
		return err
	}
	if heap != nil {
		res.HeapEndMiB = heap(true)
	}
	return nil
}

// watchHeap samples heap every 50 ms into res.HeapPeakMiB until the returned stop function
// is called; stop returns once the sampler has exited.
func watchHeap(res *Result, heap func(gc bool) float64) (stop func()) {
	stopc, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopc:
				return
			case <-t.C:
				res.HeapPeakMiB = max(res.HeapPeakMiB, heap(false))
			}
		}
	}()
	return func() { close(stopc); <-done }
}

// paced sends cfg.Rate messages/s for cfg.PacedFor, spin-waiting between sends (sleeps are
// too coarse for 50 µs gaps), and records the receiver's latency figures in res. It returns
// the last sequence number sent.
func paced(ctx context.Context, cfg Config, res *Result, pr pair, rc *receiver) (uint64, error) {
	p := make([]byte, PayloadBytes)
	rc.mu.Lock()
	rc.record, rc.count = true, 0
	rc.mu.Unlock()
	gap := time.Second / time.Duration(cfg.Rate)
	n := int(cfg.PacedFor / gap)
	start := time.Now()
	seq := uint64(0)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next := start.Add(time.Duration(i) * gap)
		for time.Now().Before(next) {
			if d := time.Until(next); d > 200*time.Microsecond {
				time.Sleep(d - 100*time.Microsecond)
			}
		}
		seq++
		stamp(p, seq)
		if err := pr.send(p); err != nil {
			return seq, err
		}
	}
	res.Sent = int(seq)
	waitCount(rc, int(seq), 2*time.Second)
	rc.mu.Lock()
	res.Received = rc.count
	res.P50us = float64(rc.hist.ValueAtQuantile(50))
	res.P99us = float64(rc.hist.ValueAtQuantile(99))
	res.P999us = float64(rc.hist.ValueAtQuantile(99.9))
	res.Maxus = float64(rc.hist.Max())
	rc.record, rc.count, rc.want = false, 0, cfg.FloodCount
	rc.mu.Unlock()
	return seq, nil
}

// flood sends as fast as the sender can, numbering from seq+1; throughput is what the
// receiver got.
func flood(ctx context.Context, cfg Config, res *Result, pr pair, rc *receiver, seq uint64) error {
	p := make([]byte, PayloadBytes)
	start := time.Now()
	sent := 0
	for sent < cfg.FloodCount && time.Since(start) < cfg.FloodMaxDur && ctx.Err() == nil {
		seq++
		stamp(p, seq)
		if err := pr.send(p); err != nil {
			return err
		}
		sent++
	}
	select {
	case <-rc.got:
	case <-time.After(max(cfg.FloodMaxDur-time.Since(start), time.Second)):
	}
	el := time.Since(start)
	rc.mu.Lock()
	res.FloodSent, res.FloodRecv = sent, rc.count
	rc.mu.Unlock()
	res.FloodMsgs = float64(res.FloodRecv) / el.Seconds()
	return nil
}

// waitCount waits until the receiver has n messages or d passes.
func waitCount(rc *receiver, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		c := rc.count
		rc.mu.Unlock()
		if c >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// heapMiB reports the in-use heap (the process hosts the publisher); gc first for the
// start and end readings, not for the peak samples taken while traffic flows.
func heapMiB(gc bool) float64 {
	if gc {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}
