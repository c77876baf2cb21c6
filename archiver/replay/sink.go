package replay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/wire"
)

// Sink receives the replayed records, in merged order, from Run's goroutine only.
//
// Ownership: value (the archived wire record, byte for byte but for FlagReplay, which Run
// sets) and h (its header) are valid only during the Write call. value is Run's own copy:
// a sink may change it in place (ZMQSink restamps the gateway sequence).
type Sink interface {
	Write(value []byte, h *wire.Header) error
	// Close flushes and releases the output. Run calls it once, at the end.
	Close() error
}

// NullSink discards everything (benchmarks).
type NullSink struct{}

// Write implements Sink.
func (NullSink) Write([]byte, *wire.Header) error { return nil }

// Close implements Sink.
func (NullSink) Close() error { return nil }

// FuncSink calls a function for each record (tests, embedding).
type FuncSink func(value []byte, h *wire.Header) error

// Write implements Sink.
func (f FuncSink) Write(value []byte, h *wire.Header) error { return f(value, h) }

// Close implements Sink.
func (FuncSink) Close() error { return nil }

// ZMQOptions configure a ZMQ sink.
type ZMQOptions struct {
	// Bus configures the publisher (QueueDepth, MaxMessageBytes, ...).
	Bus bus.Options
	// WaitSubscribers makes the first Write wait until this many subscribers have
	// subscribed (a PUB socket drops what nobody has subscribed to). 0 = do not wait.
	WaitSubscribers int
	// DrainTimeout bounds how long Close waits for subscribers to take what is queued.
	// Default 10 s.
	DrainTimeout time.Duration
}

// ZMQSink publishes each record on the bus exactly as a gateway does: topic
// wire.AppendTopic(kind, exchange, instrument), payload the record bytes, so a strategy
// connects to it unchanged. The replay is the subscriber's line: the gateway sequence is
// restamped with the output's own sequence (1, 2, 3, … per ZMQSink; the gateway id is
// kept), so a strategy's line_seq_gaps_total on a replay counts exactly what the bus lost
// between replay and strategy — the archived gateways' sequences have holes by design
// (the archiver keeps one copy of each event) and would read as gaps. The publisher drops a slow subscriber's oldest
// messages, so Write paces itself on Publisher.MaxQueued: it waits while the longest
// subscriber queue is more than half full, and nothing is dropped at any speed.
type ZMQSink struct {
	pub    *bus.Publisher
	opts   ZMQOptions
	log    *slog.Logger
	ctx    context.Context
	limit  int
	topic  []byte
	seq    uint64 // last gateway sequence stamped
	waited bool
	// Paced counts the times Write waited for subscribers to catch up (readable from any
	// goroutine).
	Paced atomic.Uint64
}

// NewZMQSink binds the publisher on endpoint. ctx bounds waits in Write and Close.
func NewZMQSink(ctx context.Context, endpoint string, opts ZMQOptions, log *slog.Logger) (*ZMQSink, error) {
	if opts.Bus.QueueDepth <= 0 {
		opts.Bus.QueueDepth = 4096
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	pub, err := bus.NewPublisher(endpoint, opts.Bus, log)
	if err != nil {
		return nil, fmt.Errorf("replay: zmq output: %w", err)
	}
	return &ZMQSink{pub: pub, opts: opts, log: log, ctx: ctx, limit: max(opts.Bus.QueueDepth/2, 1)}, nil
}

// Endpoint returns the endpoint subscribers connect to.
func (z *ZMQSink) Endpoint() string { return z.pub.Endpoint() }

// Publisher returns the underlying publisher (stats).
func (z *ZMQSink) Publisher() *bus.Publisher { return z.pub }

// Write implements Sink.
func (z *ZMQSink) Write(value []byte, h *wire.Header) error {
	if !z.waited {
		z.waited = true
		if n := z.opts.WaitSubscribers; n > 0 {
			z.log.Info("replay: waiting for subscribers", "endpoint", z.pub.Endpoint(), "want", n)
			for z.pub.Subscribed() < n {
				if !clock.Sleep(z.ctx, 5*time.Millisecond) {
					return z.ctx.Err()
				}
			}
		}
	}
	for z.pub.MaxQueued() >= z.limit {
		z.Paced.Add(1)
		if !clock.Sleep(z.ctx, 50*time.Microsecond) {
			return z.ctx.Err()
		}
	}
	z.seq++
	h.GatewaySeq = z.seq
	wire.SetGatewaySeq(value, z.seq)
	z.topic = wire.AppendTopic(z.topic[:0], h.Kind, h.Exchange, &h.Instrument)
	return z.pub.Publish(z.topic, value)
}

// Close waits (up to DrainTimeout) until subscribers have been sent everything, including
// a last batch still waiting for a slow subscriber's socket, then closes the publisher.
func (z *ZMQSink) Close() error {
	ctx := z.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if n := z.pub.Drain(ctx, z.opts.DrainTimeout); n > 0 {
		z.log.Warn("replay: closing the bus with records still unsent", "unsent", n)
	}
	return z.pub.Close()
}

// lineSink is the shared shape of the text sinks: decode, encode one line into a reused
// buffer, write it to a buffered writer.
type lineSink struct {
	w      *bufio.Writer
	closer io.Closer
	rec    wire.Record
	line   []byte
	encode func(dst []byte, r *wire.Record, h *wire.Header) []byte
}

func (s *lineSink) Write(value []byte, h *wire.Header) error {
	if _, err := wire.DecodeRecord(value, &s.rec); err != nil {
		return err
	}
	s.line = s.encode(s.line[:0], &s.rec, h)
	_, err := s.w.Write(s.line)
	return err
}

func (s *lineSink) Close() error {
	err := s.w.Flush()
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// NewJSONLSink writes one JSON object per record (AppendJSON) to w; Close flushes and, when
// w is an io.Closer, closes it.
func NewJSONLSink(w io.Writer) Sink {
	s := &lineSink{w: bufio.NewWriterSize(w, 256<<10), encode: func(dst []byte, r *wire.Record, _ *wire.Header) []byte {
		return append(AppendJSON(dst, r), '\n')
	}}
	s.closer, _ = w.(io.Closer)
	return s
}

// NewCSVSink writes a header row (CSVHeader) then one row per record (AppendCSV) to w;
// Close flushes and, when w is an io.Closer, closes it.
func NewCSVSink(w io.Writer) Sink {
	s := &lineSink{w: bufio.NewWriterSize(w, 256<<10), encode: func(dst []byte, r *wire.Record, _ *wire.Header) []byte {
		return AppendCSV(dst, r)
	}}
	s.closer, _ = w.(io.Closer)
	s.w.WriteString(CSVHeader)
	return s
}
