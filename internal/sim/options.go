package sim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Options configure a Server. The zero value serves every exchange on 127.0.0.1:0 at the
// defaults below.
type Options struct {
	// Listen is the loopback address to serve on (default "127.0.0.1:0").
	Listen string
	// Metrics is the host:port Run serves Prometheus /metrics (tickline_sim_*) and
	// /healthz on; empty = none. Port 0 picks a free port (Server.MetricsAddr).
	Metrics string
	// Seed seeds the market model: the same seed gives the same books and the same event
	// sequence per book.
	Seed uint64
	// Rate is market events per second per book, i.e. per (exchange, instrument) that
	// some client subscribed to (default 100). Each event is one book change (a delta);
	// it also produces a BBO frame when the top changes and a trade frame when it was a
	// trade, so the message rate per connection is about Rate × (subscribed channels).
	// The aggregate event rate is Rate × books; pacing is a ticker with bursts (1 ms
	// ticks at high rates), never a sleep per message.
	Rate float64
	// MaxEvents stops generating after this many events in total (0: no limit). The
	// server keeps serving (books stay still), which is how a test compares books.
	MaxEvents uint64
	// Duration makes Run return by itself after this long (0: when its context ends).
	Duration time.Duration
	// Depth is the number of levels per side of the books of Binance, Coinbase, OKX,
	// Bybit and Gate (default 30, between 5 and 200). The others keep what they publish:
	// Kraken 10 (the levels its checksum covers), Upbit, Bithumb and Korbit 30, Coinone 16.
	Depth int
	// FX is the KRW per USD(T) rate of the Korean venues before their premium (default 1380).
	FX float64
	// Exchanges restricts the served exchanges (nil: all ten).
	Exchanges []string
	// Faults are the initial faults per exchange; the key "*" applies to every exchange
	// without its own entry. Inject changes them at run time.
	Faults map[string]Fault
	// Replay serves recorded frames instead of the model: exchange → files of raw frames,
	// one per line (blank lines and lines starting with '#' are skipped). A connection
	// that subscribes to anything receives the lines in order at Rate lines per second.
	Replay map[string][]string
	// ReplayLoop restarts the files at the end instead of stopping.
	ReplayLoop bool
	// PingInterval overrides how often servers send heartbeats of their own: WebSocket
	// pings (Binance 20 s, Korbit 30 s) and heartbeat frames (Kraken 1 s); 0 keeps each
	// exchange's own interval.
	PingInterval time.Duration
	// MaxQueueBytes bounds what one connection may have queued; a client that falls
	// further behind is disconnected like a real exchange does (default 64 MiB).
	MaxQueueBytes int
	// Events is a file the server writes its ground truth to: one JSON line per exchange
	// event emitted, per record kind (events.go); empty = none. Written buffered, flushed
	// and closed (with a trailer line) when Run returns.
	Events string
	// EventsMaxBytes bounds the event log (default DefaultEventsMaxBytes, 4 GiB); lines
	// beyond it are counted in the trailer as dropped.
	EventsMaxBytes int64
	// GenerateFor stops generating events this long after Run started (0: never); the
	// server keeps serving, so what was emitted drains to the clients before it stops.
	GenerateFor time.Duration
	// FramePerEvent takes the simulator out of a latency measurement: instead of 1 ms
	// bursts whose events carry made-up times 1 µs apart, events are spread evenly over
	// time (Rate × live books per second, round robin over the books), each generated
	// when due and stamped with the wall-clock time it was generated, and every queued
	// frame is written to the socket with its own write, never batched with the next.
	// exchange→gateway latency then measures the gateway, not the simulator's batching.
	// It costs a wake-up and a syscall per frame: use it at paced rates. Replay is
	// unaffected (it already paces line by line).
	FramePerEvent bool
}

// Fault is what the simulator does wrong on a connection. Zero fields are off. Counts are
// per connection, from the connection's start or from the Inject that changed them.
// "Data frames" are market data (BBO, trades, book snapshots and deltas, full books),
// not acks or heartbeats.
type Fault struct {
	// DisconnectAfter closes the socket (without a close frame) after this many data frames.
	DisconnectAfter int
	// DisconnectAfterTime closes the socket this long after the upgrade.
	DisconnectAfterTime time.Duration
	// StallAfter stops sending data after this many data frames; the socket stays open.
	StallAfter int
	// StallFor ends the stall after this long (0: until the client goes away). Data
	// generated during the stall is not sent.
	StallFor time.Duration
	// StallHeartbeats also stops heartbeat answers and server pings during the stall: a
	// dead-but-open socket.
	StallHeartbeats bool
	// DuplicateEvery sends every Nth data frame twice.
	DuplicateEvery int
	// GapEvery drops every Nth book delta (or full-book push), so the client sees a gap by
	// the exchange's own sequence rule (U/u, seqId/prevSeqId, u, sequence, checksum);
	// full-book venues have no sequence, so there the drop is unobservable by design.
	GapEvery int
	// ReorderEvery holds every Nth book delta back and sends it after the next one.
	ReorderEvery int
	// MalformedEvery sends, before every Nth data frame, a truncated copy of it (not JSON).
	MalformedEvery int
	// OversizedEvery sends, before every Nth data frame, a frame larger than 4 MiB.
	OversizedEvery int
	// RefuseConnects refuses the next K WebSocket upgrades with RefuseStatus.
	RefuseConnects int
	// RefuseStatus is 429 or 503 (default 503).
	RefuseStatus int
	// RetryAfter is sent as Retry-After on refusals (0: 1 s with 429, none with 503).
	RetryAfter time.Duration
}

// Counters count what a server did on one exchange (or all of them). Every injected fault
// is counted where it happens, so a test can hold the gateway to it.
type Counters struct {
	Conns       uint64 // WebSocket connections accepted
	Refused     uint64 // upgrades refused by RefuseConnects
	Frames      uint64 // data frames written (faults excluded)
	Bytes       uint64 // payload bytes written
	Disconnects uint64 // sockets closed by DisconnectAfter / DisconnectAfterTime
	Stalls      uint64 // stalls started
	Duplicates  uint64 // frames sent twice
	Gaps        uint64 // deltas dropped by GapEvery
	Reorders    uint64 // deltas swapped with the next one
	Malformed   uint64 // truncated frames sent
	Oversized   uint64 // frames > 4 MiB sent
	SlowCloses  uint64 // connections closed for exceeding MaxQueueBytes
}

// add returns c + o.
func (c Counters) add(o Counters) Counters {
	c.Conns += o.Conns
	c.Refused += o.Refused
	c.Frames += o.Frames
	c.Bytes += o.Bytes
	c.Disconnects += o.Disconnects
	c.Stalls += o.Stalls
	c.Duplicates += o.Duplicates
	c.Gaps += o.Gaps
	c.Reorders += o.Reorders
	c.Malformed += o.Malformed
	c.Oversized += o.Oversized
	c.SlowCloses += o.SlowCloses
	return c
}

// Stats is a snapshot of a server's counters.
type Stats struct {
	Events     uint64              // market events generated (all books)
	Total      Counters            // sum over exchanges
	ByExchange map[string]Counters // per exchange
}

// Defaults.
const (
	DefaultListen        = "127.0.0.1:0"
	DefaultRate          = 100
	DefaultDepth         = 30
	DefaultFX            = 1380
	DefaultMaxQueueBytes = 64 << 20
)

// ErrOptions is wrapped by every Options validation error.
var ErrOptions = errors.New("sim: bad options")

// withDefaults fills zero fields and validates.
func (o Options) withDefaults() (Options, error) {
	o.Listen = cmp.Or(o.Listen, DefaultListen)
	o.Rate = cmp.Or(o.Rate, DefaultRate)
	o.Depth = cmp.Or(o.Depth, DefaultDepth)
	o.FX = cmp.Or(o.FX, DefaultFX)
	o.MaxQueueBytes = cmp.Or(o.MaxQueueBytes, DefaultMaxQueueBytes)
	switch {
	case o.Rate < 0 || o.Rate > 10_000_000:
		return o, fmt.Errorf("%w: Rate %v out of (0, 1e7]", ErrOptions, o.Rate)
	case o.Depth < 5 || o.Depth > 200:
		return o, fmt.Errorf("%w: Depth %d out of [5, 200]", ErrOptions, o.Depth)
	case o.FX < 0:
		return o, fmt.Errorf("%w: FX %v", ErrOptions, o.FX)
	case o.Duration < 0 || o.PingInterval < 0 || o.GenerateFor < 0:
		return o, fmt.Errorf("%w: negative Duration, PingInterval or GenerateFor", ErrOptions)
	case o.EventsMaxBytes < 0:
		return o, fmt.Errorf("%w: negative EventsMaxBytes", ErrOptions)
	}
	names := Exchanges()
	for _, ex := range o.Exchanges {
		if !slices.Contains(names, ex) {
			return o, fmt.Errorf("%w: Exchanges: unknown exchange %q", ErrOptions, ex)
		}
	}
	for ex, f := range o.Faults {
		if ex != "*" && !slices.Contains(names, ex) {
			return o, fmt.Errorf("%w: Faults: unknown exchange %q", ErrOptions, ex)
		}
		if err := f.validate(); err != nil {
			return o, fmt.Errorf("%w: Faults[%s]: %w", ErrOptions, ex, err)
		}
	}
	for ex := range o.Replay {
		if !slices.Contains(names, ex) {
			return o, fmt.Errorf("%w: Replay: unknown exchange %q", ErrOptions, ex)
		}
	}
	return o, nil
}

func (f Fault) validate() error {
	for _, n := range []int{f.DisconnectAfter, f.StallAfter, f.DuplicateEvery, f.GapEvery,
		f.ReorderEvery, f.MalformedEvery, f.OversizedEvery, f.RefuseConnects} {
		if n < 0 {
			return errors.New("negative count")
		}
	}
	if f.RefuseStatus != 0 && f.RefuseStatus != 429 && f.RefuseStatus != 503 {
		return fmt.Errorf("RefuseStatus %d, want 429 or 503", f.RefuseStatus)
	}
	return nil
}
