package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/session"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/shared/zmtp"
)

// Stats are a gateway's publishing counters.
type Stats struct {
	Published, EncodeErrors, PublishErrors atomic.Uint64
}

// Gateway is one gateway process: a session per exchange connection plan, every record
// stamped with the gateway's number, its own sequence and the receive time, and published
// on the gateway's bus endpoint.
//
// Ownership: each session goroutine parses and syncs its own symbols; publishing is
// serialized by mu so that the gateway sequence reaches every subscriber in order (the
// bus requires one publishing goroutine at a time for ordered delivery).
type Gateway struct {
	cfg       *config.Gateway
	log       *slog.Logger
	pub       *bus.Publisher
	sessions  []*session.Session
	names     []string // exchange of each session, for stats
	noMetrics bool
	Stats     Stats

	waitSubs    int
	waitTimeout time.Duration

	journal *journal.Journal // what was published, for retransmits (nil: none)
	jsrv    *journal.Server
	metrics net.Listener // bound by New so a taken port fails the start (nil: none)

	mu    sync.Mutex // guards seq, buf, topic and the Publish calls
	seq   uint64
	buf   []byte
	topic []byte
}

// Options tune a Gateway beyond the topology (tests use them).
type Options struct {
	// Bind overrides the publish endpoint (e.g. tcp://127.0.0.1:0 in tests).
	Bind string
	// MinBackoff/MaxBackoff override the sessions' reconnect backoff.
	MinBackoff, MaxBackoff time.Duration
	// RefreshEvery overrides how often valid books are republished (session default 10 s).
	RefreshEvery time.Duration
	// NoMetrics skips the metrics server even when the topology names one (tests).
	NoMetrics bool
	// Metrics overrides the metrics address (tests: 127.0.0.1:0). Without it, a gateway
	// whose Bind is overridden serves no metrics.
	Metrics string
	// RetransmitBind overrides the journal's retransmit endpoint.
	RetransmitBind string
	// WaitSubscribers holds the exchange sessions back until this many receivers have
	// subscribed (or WaitTimeout passed), so that they all see the stream from gateway
	// sequence 1. The demo uses it to make its live and replayed runs comparable.
	WaitSubscribers int
	// WaitTimeout bounds WaitSubscribers (default 15 s); the gateway then starts anyway.
	WaitTimeout time.Duration
	// Journal overrides the retransmit server's limits (zero fields: journal defaults).
	// Its Curve is replaced by the gateway's curve section (the bus keys) when it has one.
	Journal journal.ServerOptions
}

// New builds the gateway id of the topology: adapters, connection plans and sessions. It
// does not connect or listen; Run does.
func New(topo *config.Topology, id string, opts Options, log *slog.Logger) (*Gateway, error) {
	gc, err := topo.Gateway(id)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: gc, log: log.With("gateway", gc.ID), buf: make([]byte, 0, 64<<10), noMetrics: opts.NoMetrics || opts.Bind != "",
		waitSubs: opts.WaitSubscribers, waitTimeout: opts.WaitTimeout}
	if err := g.addSessions(gc, opts); err != nil {
		return nil, err
	}
	bind := gc.BindEndpoint()
	if opts.Bind != "" {
		bind = opts.Bind
	}
	bo := bus.PublisherOptions(&topo.Bus)
	if c := gc.Curve; c != nil {
		if err := curveOptions(c, &bo, &opts.Journal); err != nil {
			return nil, fmt.Errorf("gateway %s: %w", gc.ID, err)
		}
	}
	g.pub, err = bus.NewPublisher(bind, bo, g.log)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", gc.ID, err)
	}
	if jc := gc.Journal; jc != nil {
		// ~160 bytes per record on average (BBO 152, trade 120; books are rarer and larger).
		arena := min(jc.Records*160, 512<<20)
		g.journal = journal.New(jc.Records, arena)
		ep := jc.Retransmit
		if opts.RetransmitBind != "" {
			ep = opts.RetransmitBind
		}
		if g.jsrv, err = journal.ListenWith(ep, g.journal, opts.Journal, g.log); err != nil {
			g.pub.Close()
			return nil, fmt.Errorf("gateway %s: %w", gc.ID, err)
		}
	}
	maddr := gc.Metrics
	if opts.Metrics != "" {
		maddr, g.noMetrics = opts.Metrics, opts.NoMetrics
	}
	if maddr != "" && !g.noMetrics {
		if g.metrics, err = metrics.Listen(maddr); err != nil {
			if g.jsrv != nil {
				g.jsrv.Close()
			}
			g.pub.Close()
			return nil, fmt.Errorf("gateway %s: %w", gc.ID, err)
		}
	}
	return g, nil
}

// addSessions plans each feed's connections (feeds in name order) and makes one session
// per connection plan.
func (g *Gateway) addSessions(gc *config.Gateway, opts Options) error {
	names := make([]string, 0, len(gc.Feeds))
	for name := range gc.Feeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		feed := gc.Feeds[name]
		ex, err := wire.ParseExchange(name)
		if err != nil {
			return err
		}
		a, err := Adapter(ex)
		if err != nil {
			return err
		}
		subs, err := FeedSubs(feed)
		if err != nil {
			return fmt.Errorf("gateway %s: %s: %w", gc.ID, name, err)
		}
		plans, err := a.Plan(feed.WSURL, subs)
		if err != nil {
			return fmt.Errorf("gateway %s: %s: planning connections: %w", gc.ID, name, err)
		}
		for _, plan := range plans {
			s, err := session.New(session.Options{Adapter: a, Plan: plan, Subs: PlanSubs(subs, plan),
				RESTURL: feed.RESTURL, StaleAfter: feed.StaleAfter, MinBackoff: opts.MinBackoff, MaxBackoff: opts.MaxBackoff,
				RefreshEvery: opts.RefreshEvery},
				g.publish, g.log)
			if err != nil {
				return fmt.Errorf("gateway %s: %s: %w", gc.ID, name, err)
			}
			g.sessions = append(g.sessions, s)
			g.names = append(g.names, name)
		}
	}
	return nil
}

// curveOptions sets CURVE on the bus options and on the journal's retransmit endpoint,
// which takes the same keys: only allow-listed receivers can fetch, and the records
// travel encrypted.
func curveOptions(c *config.GatewayCurve, bo *bus.Options, jo *journal.ServerOptions) error {
	secret, allowed, err := c.Keys()
	if err != nil {
		return err
	}
	bo.Curve = &bus.CurveServer{Secret: secret, Allowed: allowed}
	jc := &zmtp.Curve{Server: true, Secret: secret, Public: zmtp.PublicFromSecret(secret)}
	if len(allowed) > 0 { // as the bus: an empty list admits any client key
		jc.Allow = func(k zmtp.Key) bool { return slices.Contains(allowed, k) }
	}
	jo.Curve = jc
	return nil
}

// FeedSubs turns a feed's symbols and channels into subscriptions, in symbol order.
func FeedSubs(feed *config.Feed) ([]adapter.Sub, error) {
	syms := make([]string, 0, len(feed.Symbols))
	for s := range feed.Symbols {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	subs := make([]adapter.Sub, 0, len(syms))
	for _, s := range syms {
		sub := adapter.Sub{Symbol: s, Depth: feed.BookDepth}
		for _, c := range feed.Symbols[s] {
			ch, err := adapter.ParseChannel(string(c))
			if err != nil {
				return nil, err
			}
			sub.Channels = append(sub.Channels, ch)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// PlanSubs returns the subscriptions of the symbols a plan carries.
func PlanSubs(subs []adapter.Sub, plan adapter.ConnPlan) []adapter.Sub {
	var out []adapter.Sub
	for _, sym := range plan.Symbols {
		for _, s := range subs {
			if s.Symbol == sym {
				out = append(out, s)
			}
		}
	}
	return out
}

// RetransmitEndpoint returns the journal's retransmit endpoint ("" without a journal).
func (g *Gateway) RetransmitEndpoint() string {
	if g.jsrv == nil {
		return ""
	}
	return g.jsrv.Endpoint()
}

// MetricsAddr returns the address /metrics is served on ("" when none).
func (g *Gateway) MetricsAddr() string {
	if g.metrics == nil {
		return ""
	}
	return g.metrics.Addr().String()
}

// Endpoint returns the endpoint the gateway publishes on (with the real port).
func (g *Gateway) Endpoint() string { return g.pub.Endpoint() }

// Publisher exposes the bus publisher (stats, tests).
func (g *Gateway) Publisher() *bus.Publisher { return g.pub }

// Sessions returns the gateway's sessions (stats, tests).
func (g *Gateway) Sessions() []*session.Session { return g.sessions }

// Num returns the gateway number stamped on records.
func (g *Gateway) Num() uint16 { return g.cfg.Num }

// Run runs every session until ctx ends, then closes the publisher. It returns after all
// goroutines have exited.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if g.waitSubs > 0 && !g.AwaitSubscribers(ctx, g.waitSubs, g.waitTimeout) && ctx.Err() == nil {
		g.log.Warn("starting before every expected receiver subscribed", "subscribed", g.Subscribed(), "expected", g.waitSubs)
	}
	for _, s := range g.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.watchSubscribers(ctx)
	}()
	if g.metrics != nil {
		reg := metrics.NewRegistry()
		g.Register(reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := reg.ServeListener(ctx, g.metrics, g.Health, g.log); err != nil {
				g.log.Error("metrics server", "err", err)
			}
		}()
	}
	g.log.Info("gateway running", "endpoint", g.pub.Endpoint(), "sessions", len(g.sessions))
	wg.Wait()
	if g.jsrv != nil {
		g.jsrv.Close()
	}
	g.summary()
	// Hand what is queued to the subscribers' sockets before closing them (bounded: a
	// stalled subscriber does not hold the shutdown).
	if n := g.pub.Drain(context.Background(), drainOnStop); n > 0 {
		g.log.Warn("gateway: closing the bus with records still unsent", "unsent", n)
	}
	err := g.pub.Close()
	if ctx.Err() != nil && !errors.Is(err, bus.ErrClosed) {
		return err
	}
	return nil
}

// drainOnStop bounds how long a stopping gateway waits for subscribers to take what is
// queued for them.
const drainOnStop = 2 * time.Second

// summary logs the end-of-run counts: what was published, and per exchange what came in
// and what went wrong.
func (g *Gateway) summary() {
	g.log.Info("gateway stopped", "published", g.Stats.Published.Load(), "last_seq", g.seq,
		"bus_dropped", g.pub.Totals().Dropped, "encode_errors", g.Stats.EncodeErrors.Load(), "publish_errors", g.Stats.PublishErrors.Load())
	seen := map[string]bool{}
	for _, ex := range g.names {
		if seen[ex] {
			continue
		}
		seen[ex] = true
		st := g.sessionStats(ex)
		g.log.Info("gateway stopped: exchange", "exchange", ex, "frames", st.Frames, "records", st.Records,
			"parse_errors", st.ParseErrors, "reconnects", st.Reconnects, "gaps", st.Gaps, "trade_gaps", st.TradeGaps,
			"resyncs", st.Resyncs, "checksum_failures", st.ChecksumFailures, "stale", st.Stale)
	}
}

// publish stamps and publishes a session's batch. It runs on session goroutines.
//
// g.mu is held across Publish and journal.Append, neither of which does I/O or waits for
// a peer: Publish copies into subscriber rings, Append copies into the journal under a
// lock that retransmit requests hold only while copying one bounded chunk out.
func (g *Gateway) publish(b *adapter.Batch) {
	var now int64 // read once, only for a record without a receive time (REST snapshots)
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		r := b.At(i)
		g.seq++
		r.GatewayID, r.GatewaySeq = g.cfg.Num, g.seq
		if r.TsRecv == 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			r.TsRecv = now
		}
		var err error
		g.buf, err = wire.AppendRecord(g.buf[:0], r)
		if err != nil {
			g.seq-- // nothing published under this number: receivers must not see a gap
			g.Stats.EncodeErrors.Add(1)
			continue
		}
		g.topic = wire.AppendTopic(g.topic[:0], r.Kind, r.Exchange, &r.Instrument)
		if err := g.pub.Publish(g.topic, g.buf); err != nil {
			g.Stats.PublishErrors.Add(1) // only oversize or closed; the number stays used (a visible gap)
			continue
		}
		if g.journal != nil {
			g.journal.Append(g.seq, g.buf)
		}
		g.Stats.Published.Add(1)
	}
}

// feedSymbols returns the configured symbols and channels of an exchange (tests).
func (g *Gateway) feedSymbols(ex string) map[string][]config.Channel {
	if f, ok := g.cfg.Feeds[ex]; ok {
		return f.Symbols
	}
	return nil
}

func hasBook(chs []config.Channel) bool {
	for _, c := range chs {
		if c == config.ChannelBook {
			return true
		}
	}
	return false
}

// SessionStats sums the counters of an exchange's sessions.
type SessionStats struct {
	Frames, Records, ParseErrors, Reconnects, Stale, Gaps, Resyncs, ChecksumFailures, RateLimited, Oversized, Rollovers uint64
	TradeGaps, ContentRepeats, TreeFrames                                                                               uint64
}

// sessionStats returns the summed counters of exchange ex's sessions.
func (g *Gateway) sessionStats(ex string) SessionStats {
	var st SessionStats
	for i, s := range g.sessions {
		if g.names[i] != ex {
			continue
		}
		st.Frames += s.Stats.Frames.Load()
		st.Records += s.Stats.Records.Load()
		st.ParseErrors += s.Stats.ParseErrors.Load()
		st.Reconnects += s.Stats.Reconnects.Load()
		st.Stale += s.Stats.Stale.Load()
		st.Gaps += s.Stats.Gaps.Load()
		st.Resyncs += s.Stats.Resyncs.Load()
		st.ChecksumFailures += s.Stats.ChecksumFailures.Load()
		st.RateLimited += s.Stats.RateLimited.Load()
		st.Oversized += s.Stats.Oversized.Load()
		st.Rollovers += s.Stats.Rollovers.Load()
		st.TradeGaps += s.Stats.TradeGaps.Load()
		st.ContentRepeats += s.Stats.ContentRepeats.Load()
		st.TreeFrames += s.Stats.TreeFrames.Load()
	}
	return st
}

// AwaitSubscribers returns true once n receivers have subscribed, false when ctx ends or
// timeout (default 15 s when ≤ 0) passes first.
func (g *Gateway) AwaitSubscribers(ctx context.Context, n int, timeout time.Duration) bool {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if g.Subscribed() >= n {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Subscribed counts the publisher's peers that hold at least one subscription.
func (g *Gateway) Subscribed() int { return g.pub.Subscribed() }

// watchSubscribers asks every session to republish its books when a subscriber joins or
// changes its subscriptions, so that late joiners get whole books without waiting for the
// periodic refresh.
func (g *Gateway) watchSubscribers(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sig := ""
		for _, st := range g.pub.Stats() {
			if len(st.Subscriptions) > 0 {
				sig += st.Remote + fmt.Sprint(st.Subscriptions) + ";"
			}
		}
		if sig != last {
			last = sig
			for _, s := range g.sessions {
				s.RequestRefresh()
			}
		}
	}
}
