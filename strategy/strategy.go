package strategy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/wire"
)

// Options tune a Strategy beyond the topology.
type Options struct {
	// Endpoints overrides the gateways' publish endpoints (tests, replay).
	Endpoints []string
	// Output overrides the topology's output ("-" = stdout); Out, when set, receives the
	// opportunities as JSON lines instead.
	Out io.Writer
	// SignalBind overrides the signal endpoint.
	SignalBind string
	// ReportEvery prints latency and counters this often (0 = never).
	ReportEvery time.Duration
	// LineTimeout declares a silent line down (default 2 s).
	LineTimeout time.Duration
	// OnOpportunity, when set, is called for each opportunity (tests).
	OnOpportunity func(Opportunity)
	// NoMetrics skips the metrics server even when the topology names one.
	NoMetrics bool
	// OnBreak, when set, hears about every real gap in the merged stream (diagnostics).
	OnBreak func(what string)
	// HoldWindow is how long a hole in the merged book stream waits for a slower line
	// (default 250 ms): set it above the worst skew expected between lines.
	HoldWindow time.Duration
	// OnRecord, when set, sees every record the merger delivered (tests; runs on the
	// handler goroutine, the record is valid during the call).
	OnRecord func(line int, r *wire.Record)
}

// Stats are the strategy's counters, readable from any goroutine.
type Stats struct {
	Received, Delivered, Decoded, Malformed, Opportunities atomic.Uint64
}

// Strategy runs the strategy process. The bus subscriber calls the handler on one
// goroutine, which owns the merger, the engine and the outputs' encoders.
type Strategy struct {
	topo     *config.Topology
	opts     Options
	log      *slog.Logger
	eps      []string
	sub      *bus.Subscriber
	sig      *bus.Publisher
	merger   *arbiter.Merger
	engine   *Engine
	Latency  *Latency
	Stats    Stats
	out      *bufio.Writer
	outClose io.Closer

	mu      sync.Mutex // guards reading engine/merger stats from the reporter
	rec     wire.Record
	hdr     wire.Header
	line    []byte
	changed []int
	pending []byte // the batch's JSONL output, written by handle after it releases mu
}

// New builds a strategy from the topology; Run starts it.
func New(topo *config.Topology, opts Options, log *slog.Logger) (*Strategy, error) {
	sc := &topo.Strategy
	ec := EngineConfig{ThresholdBps: sc.ThresholdBps, MaxNotional: sc.MaxNotional, StalenessNs: int64(sc.Staleness),
		FeesBps: map[wire.Exchange]float64{}, FXStatic: sc.FX.StaticRate}
	for name, f := range sc.FeesBps {
		ex, err := wire.ParseExchange(name)
		if err != nil {
			return nil, err
		}
		ec.FeesBps[ex] = f
	}
	if m := sc.FX.Market; m != nil {
		ex, err := wire.ParseExchange(m.Exchange)
		if err != nil {
			return nil, err
		}
		ec.FXExchange = ex
		if err := fxInstrument(ex, m.Symbol, &ec.FXInstrument); err != nil {
			return nil, err
		}
	}
	ec.OnBreak = opts.OnBreak
	ec.HoldNs = int64(opts.HoldWindow)
	s := &Strategy{topo: topo, opts: opts, log: log.With("process", "strategy"), engine: NewEngine(ec), Latency: NewLatency()}
	s.eps = opts.Endpoints
	if s.eps == nil {
		ids := sc.Subscribe
		if len(ids) == 0 {
			for _, g := range topo.Gateways {
				ids = append(ids, g.ID)
			}
		}
		for _, id := range ids {
			g, err := topo.Gateway(id)
			if err != nil {
				return nil, err
			}
			s.eps = append(s.eps, g.Publish)
		}
	}
	lt := opts.LineTimeout
	if lt <= 0 {
		lt = 2 * time.Second
	}
	s.merger = arbiter.NewMerger(arbiter.New(arbiter.OptionsFrom(topo.Arbitration)), len(s.eps), int64(lt))
	switch {
	case opts.Out != nil:
		s.out = bufio.NewWriter(opts.Out)
	case sc.Output == "-":
		s.out = bufio.NewWriter(os.Stdout)
	case sc.Output != "":
		f, err := os.OpenFile(sc.Output, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("strategy output: %w", err)
		}
		s.out, s.outClose = bufio.NewWriter(f), f
	}
	bind := sc.SignalPublish
	if opts.SignalBind != "" {
		bind = opts.SignalBind
	}
	if bind != "" {
		// The topology's bus section tunes every publisher, this one too.
		b := &topo.Bus
		p, err := bus.NewPublisher(bind, bus.PublisherOptions(b), s.log)
		if err != nil {
			return nil, fmt.Errorf("strategy signals: %w", err)
		}
		s.sig = p
	}
	return s, nil
}

// fxInstrument maps the FX market's exchange symbol to its canonical instrument
// (upbit KRW-USDT → USDT-KRW).
func fxInstrument(ex wire.Exchange, sym string, dst *wire.Name) error {
	base, quote := "", ""
	for i := 0; i < len(sym); i++ {
		if c := sym[i]; c == '-' || c == '_' || c == '/' {
			base, quote = sym[:i], sym[i+1:]
			break
		}
	}
	if base == "" {
		return fmt.Errorf("strategy fx: symbol %q has no separator", sym)
	}
	if ex == wire.Upbit || (ex == wire.Bithumb && (base == "KRW" || base == "USDT")) {
		base, quote = quote, base // QUOTE-BASE markets
	}
	return dst.SetString(upper(base) + "-" + upper(quote))
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Engine exposes the detection state (tests, reporting; owned by the handler goroutine).
func (s *Strategy) Engine() *Engine { return s.engine }

// Merger exposes the line merger (tests, reporting).
func (s *Strategy) Merger() *arbiter.Merger { return s.merger }

// SignalEndpoint returns the signal publisher's endpoint ("" when none).
func (s *Strategy) SignalEndpoint() string {
	if s.sig == nil {
		return ""
	}
	return s.sig.Endpoint()
}

// Run subscribes to every gateway and processes until ctx ends. It closes the signal
// publisher and the output when it returns, on every path: a Strategy runs once.
func (s *Strategy) Run(ctx context.Context) error {
	defer s.closeOutputs() // every return: the signal port is not held past Run
	so, err := bus.ReceiverOptions(s.topo, s.topo.Strategy.Curve, s.eps)
	if err != nil {
		return fmt.Errorf("strategy: %w", err)
	}
	s.sub = bus.NewSubscriber(so, s.log)
	if err := s.sub.Connect(s.eps...); err != nil {
		return err
	}
	s.sub.Subscribe("")
	var wg sync.WaitGroup
	if addr := s.topo.Strategy.Metrics; addr != "" && !s.opts.NoMetrics {
		ln, err := metrics.Listen(addr) // a taken port fails the start, like the bus ports
		if err != nil {
			s.sub.Close()
			return fmt.Errorf("strategy: %w", err)
		}
		reg := metrics.NewRegistry()
		s.Register(reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := reg.ServeListener(ctx, ln, s.Health, s.log); err != nil {
				s.log.Error("metrics server", "err", err)
			}
		}()
	}
	if s.opts.ReportEvery > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clock.Every(ctx, s.opts.ReportEvery, s.report)
		}()
	}
	err = s.sub.Run(ctx, s.handle)
	wg.Wait()
	s.sub.Close()
	s.report() // the end-of-run summary: latency, lines, counts
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// closeOutputs closes what New opened: the signal publisher and the JSONL output.
func (s *Strategy) closeOutputs() {
	if s.sig != nil {
		s.sig.Close()
	}
	if s.out != nil {
		s.out.Flush()
	}
	if s.outClose != nil {
		s.outClose.Close()
	}
}

// handle processes one batch from the subscriber (one goroutine) and writes its JSONL
// output without holding mu, so a slow output never holds up the reporter or a scrape.
func (s *Strategy) handle(batch []bus.Message) {
	s.process(batch)
	if s.out != nil {
		s.out.Write(s.pending)
		s.out.Flush()
	}
}

// process runs one batch through the merger and the engine under mu; the JSONL lines of
// its opportunities collect in s.pending.
func (s *Strategy) process(batch []bus.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = s.pending[:0]
	now := time.Now().UnixNano()
	for i := range batch {
		m := &batch[i]
		s.Stats.Received.Add(1)
		if err := wire.ReadHeader(m.Payload, &s.hdr); err != nil {
			s.Stats.Malformed.Add(1)
			continue
		}
		if !s.merger.Offer(m.Endpoint, &s.hdr, now) {
			continue
		}
		s.Stats.Delivered.Add(1)
		if _, err := wire.DecodeRecord(m.Payload, &s.rec); err != nil {
			s.Stats.Malformed.Add(1)
			continue
		}
		s.Stats.Decoded.Add(1)
		if s.rec.TsExchange > 0 {
			d := s.rec.TsRecv - s.rec.TsExchange
			s.Latency.Record(HopExchangeToGateway, d)
			if v, ok := s.rec.Exchange.Venue(); ok && v.TimeUnit <= time.Microsecond {
				s.Latency.Record(HopExchangeToGatewayUs, d)
			}
		}
		s.Latency.Record(HopGatewayToStrategy, now-s.rec.TsRecv)
		if s.opts.OnRecord != nil {
			s.opts.OnRecord(m.Endpoint, &s.rec)
		}
		for _, o := range s.engine.OnRecord(&s.rec) {
			s.emit(o, now)
		}
	}
	s.changed = s.merger.Tick(now, s.changed[:0])
	for _, line := range s.changed {
		s.log.Warn("line state changed", "line", s.eps[line], "down", s.merger.Down(line))
	}
}

func (s *Strategy) emit(o Opportunity, recvNs int64) {
	s.Stats.Opportunities.Add(1)
	s.line = s.line[:0]
	b, _ := json.Marshal(o)
	s.line = append(s.line, b...)
	if s.sig != nil {
		topic := "signal." + o.Base
		s.sig.Publish([]byte(topic), s.line)
	}
	if s.out != nil {
		s.pending = append(append(s.pending, s.line...), '\n')
	}
	s.Latency.Record(HopStrategyToSignal, time.Now().UnixNano()-recvNs)
	if s.opts.OnOpportunity != nil {
		s.opts.OnOpportunity(o)
	}
}

// report logs latency percentiles, line wins and premiums.
func (s *Strategy) report() {
	for _, h := range s.Latency.Snapshot() {
		s.log.Info("latency", "hop", h.Hop, "n", h.Count, "p50_us", h.P50us, "p99_us", h.P99us, "p999_us", h.P999us, "min_us", h.MinUs, "negative", h.Negative)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.merger.Arb.Stats
	for i, ep := range s.eps {
		s.log.Info("line", "endpoint", ep, "wins", st.Wins[i], "duplicates", st.Duplicates[i], "seq_gaps", s.merger.Stats.SeqGaps[i], "down", s.merger.Down(i))
	}
	s.log.Info("strategy", "received", s.Stats.Received.Load(), "delivered", s.Stats.Delivered.Load(), "opportunities", s.Stats.Opportunities.Load(),
		"covered_gaps", s.merger.Stats.Covered, "real_gaps", s.merger.Stats.RealGaps, "failovers", s.merger.Stats.Failovers,
		"fx", s.engine.FX(), "paper_profit_usd", s.engine.Paper.ProfitUSD)
	for _, p := range s.engine.Premiums(time.Now().UnixNano()) {
		s.log.Info("kimchi premium", "base", p.Base, "exchange", p.Exchange, "pct", fmt.Sprintf("%.3f", p.PremiumPct))
	}
}

// View runs f with the strategy's state (engine, merger) locked against the handler, for
// displays and reports.
func (s *Strategy) View(f func(e *Engine, m *arbiter.Merger)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.engine, s.merger)
}

// Endpoints returns the lines the strategy reads, in line order.
func (s *Strategy) Endpoints() []string { return s.eps }
