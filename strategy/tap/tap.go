// Package tap is `tickline tap`: it subscribes to the gateways like the strategy does (one
// bus Subscriber, one line per gateway endpoint, arbiter.Merger) and prints every record
// the merger delivers as one JSON line, in the schema of `tickline normalize` plus where
// the record came from:
//
//	{"exchange":"okx","symbol":"BTC-USDT","instrument":"BTC-USDT","kind":"trade",
//	 "ts_exchange_ns":1700000000123000000,"price":"65000.1","size":"0.5","side":"buy",
//	 "trade_id":"10000042","gateway_id":"gw-korea","gateway_num":1,"gateway_seq":1234,
//	 "line":0,"ts_recv_ns":1700000000124000000,"flags":["no_seq"]}
//
// "seq" and "trade_id" follow normalize (trades: trade_id = Seq, seq = SeqFirst when
// non-zero; other kinds: seq = Seq unless the record has FlagNoSeq); status records add
// "status", "expected" and "got"; "flags" lists the record's flags by name when any is set
// (refresh and from_book mark records a gateway made up, not exchange events).
//
// It is the merged stream as a consumer sees it — a tool to look at it, and the stream the
// end-to-end ground-truth check (bench/truth) holds against the simulator's events.
package tap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// Options configure a Tap.
type Options struct {
	// Gateways are the ids of the gateways to subscribe to (nil: every gateway of the
	// topology), in line order.
	Gateways []string
	// Out receives the JSON lines (required). The tap buffers and flushes after each
	// batch and when Run returns.
	Out io.Writer
	// LineTimeout declares a silent line down (default 2 s, as the strategy).
	LineTimeout time.Duration
}

// Stats count what the tap saw; readable from any goroutine.
type Stats struct {
	Received  atomic.Uint64 // messages from every line
	Delivered atomic.Uint64 // records the merger let through (printed)
	Malformed atomic.Uint64 // messages that did not decode (skipped, not printed)
}

// Tap is one tap process. Goroutines: Run runs the bus subscriber, which calls the handler
// on Run's goroutine; the handler owns the merger, the record and the output buffer.
type Tap struct {
	opts   Options
	log    *slog.Logger
	eps    []string
	names  map[uint16]string // gateway num → id
	merger *arbiter.Merger
	topo   *config.Topology
	out    *bufio.Writer
	Stats  Stats

	hdr  wire.Header
	rec  wire.Record
	line []byte
}

// ErrNoOutput is returned by New without Options.Out.
var ErrNoOutput = errors.New("tap: no output")

// New builds a tap over the topology's gateways (Options.Gateways selects and orders them).
func New(topo *config.Topology, opts Options, log *slog.Logger) (*Tap, error) {
	if opts.Out == nil {
		return nil, ErrNoOutput
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Tap{opts: opts, log: log.With("process", "tap"), names: map[uint16]string{}, topo: topo,
		out: bufio.NewWriterSize(opts.Out, 1<<20), line: make([]byte, 0, 4096)}
	ids := opts.Gateways
	if len(ids) == 0 {
		for _, g := range topo.Gateways {
			ids = append(ids, g.ID)
		}
	}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return nil, fmt.Errorf("tap: gateway %q listed twice", id)
		}
		g, err := topo.Gateway(id)
		if err != nil {
			return nil, fmt.Errorf("tap: %w", err)
		}
		t.eps = append(t.eps, g.Publish)
	}
	if len(t.eps) > arbiter.MaxLines {
		return nil, fmt.Errorf("tap: %d gateways, at most %d lines", len(t.eps), arbiter.MaxLines)
	}
	for _, g := range topo.Gateways {
		t.names[g.Num] = g.ID
	}
	lt := opts.LineTimeout
	if lt <= 0 {
		lt = 2 * time.Second
	}
	t.merger = arbiter.NewMerger(arbiter.New(arbiter.OptionsFrom(topo.Arbitration)), len(t.eps), int64(lt))
	return t, nil
}

// Endpoints returns the lines in line order.
func (t *Tap) Endpoints() []string { return t.eps }

// Run subscribes to every line and prints until ctx ends; it flushes the output before it
// returns and returns nil on a normal stop.
func (t *Tap) Run(ctx context.Context) error {
	so, err := bus.ReceiverOptions(t.topo, t.topo.Strategy.Curve, t.eps) // the tap reads as the strategy does
	if err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	sub := bus.NewSubscriber(so, t.log)
	if err := sub.Connect(t.eps...); err != nil {
		return fmt.Errorf("tap: %w", err)
	}
	sub.Subscribe("")
	err = sub.Run(ctx, t.handle)
	sub.Close()
	if ferr := t.out.Flush(); ferr != nil {
		return fmt.Errorf("tap: writing output: %w", ferr)
	}
	t.log.Info("tap: stopped", "received", t.Stats.Received.Load(), "delivered", t.Stats.Delivered.Load(),
		"malformed", t.Stats.Malformed.Load())
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// handle merges and prints one batch (the subscriber's goroutine).
func (t *Tap) handle(batch []bus.Message) {
	now := time.Now().UnixNano()
	for i := range batch {
		m := &batch[i]
		t.Stats.Received.Add(1)
		if err := wire.ReadHeader(m.Payload, &t.hdr); err != nil {
			t.Stats.Malformed.Add(1)
			continue
		}
		if !t.merger.Offer(m.Endpoint, &t.hdr, now) {
			continue
		}
		if _, err := wire.DecodeRecord(m.Payload, &t.rec); err != nil {
			t.Stats.Malformed.Add(1)
			continue
		}
		t.Stats.Delivered.Add(1)
		t.line = AppendJSON(t.line[:0], &t.rec, t.names[t.rec.GatewayID], m.Endpoint)
		t.line = append(t.line, '\n')
		if _, err := t.out.Write(t.line); err != nil {
			t.log.Error("tap: writing output", "err", err)
			return
		}
	}
	_ = t.out.Flush()
}

// flagNames name the record flags in "flags".
var flagNames = []struct {
	f    wire.Flags
	name string
}{
	{wire.FlagBookInvalid, "book_invalid"}, {wire.FlagNoSeq, "no_seq"}, {wire.FlagReplay, "replay"},
	{wire.FlagFromBook, "from_book"}, {wire.FlagContinued, "continued"}, {wire.FlagRefresh, "refresh"},
	{wire.FlagSeqReset, "seq_reset"},
}

// AppendJSON appends r as one tap JSON object (no newline): the normalize schema plus
// gateway_id (gwID, or the number when empty), gateway_num, gateway_seq, line, ts_recv_ns
// and flags. It does not allocate when dst has room.
func AppendJSON(dst []byte, r *wire.Record, gwID string, line int) []byte {
	dst = wire.AppendJSONHead(dst, r)
	if r.Kind == wire.KindStatus {
		dst = append(dst, `,"expected":`...)
		dst = strconv.AppendUint(dst, r.Expected, 10)
		dst = append(dst, `,"got":`...)
		dst = strconv.AppendUint(dst, r.Got, 10)
	}
	dst = append(dst, `,"gateway_id":"`...)
	if gwID != "" {
		dst = append(dst, gwID...)
	} else {
		dst = strconv.AppendUint(dst, uint64(r.GatewayID), 10)
	}
	dst = append(dst, `","gateway_num":`...)
	dst = strconv.AppendUint(dst, uint64(r.GatewayID), 10)
	dst = append(dst, `,"gateway_seq":`...)
	dst = strconv.AppendUint(dst, r.GatewaySeq, 10)
	dst = append(dst, `,"line":`...)
	dst = strconv.AppendInt(dst, int64(line), 10)
	dst = append(dst, `,"ts_recv_ns":`...)
	dst = strconv.AppendInt(dst, r.TsRecv, 10)
	if r.Flags != 0 {
		dst = append(dst, `,"flags":[`...)
		n := 0
		for _, f := range flagNames {
			if r.Flags&f.f != 0 {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = append(dst, '"')
				dst = append(dst, f.name...)
				dst = append(dst, '"')
			}
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
