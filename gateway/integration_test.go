package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/configs"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/book"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/metrics/metricstest"
	"github.com/tickline/tickline/shared/wire"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// topology returns configs/demo.yaml pointed at the simulator, keeping only the given
// exchanges (all when none) on every gateway.
func topology(t *testing.T, simAddr string, exchanges ...string) *config.Topology {
	t.Helper()
	topo, err := configs.DemoAt(configs.Demo, simAddr, exchanges...)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// simTopology starts a simulator with opts and returns the demo topology pointed at it,
// keeping the simulator's exchanges (all when opts.Exchanges is empty).
func simTopology(t *testing.T, opts sim.Options) *config.Topology {
	t.Helper()
	return topology(t, startSim(t, opts).Addr(), opts.Exchanges...)
}

func startSim(t *testing.T, opts sim.Options) *sim.Server {
	t.Helper()
	s, err := sim.New(opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Close() })
	return s
}

// startGateway builds a gateway, subscribes a collector to it, and runs the gateway once
// the collector's subscription is in place, so that the collector sees every record.
func startGateway(t *testing.T, topo *config.Topology, id string) (*Gateway, *collector) {
	t.Helper()
	g, c, _ := startGatewayWith(t, topo, id, Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0", MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, quiet)
	return g, c
}

// startGatewayWith is startGateway with the gateway's options and logger; stop stops the
// gateway (runGateway).
func startGatewayWith(t *testing.T, topo *config.Topology, id string, opts Options, log *slog.Logger) (g *Gateway, c *collector, stop func()) {
	t.Helper()
	g, err := New(topo, id, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	c = collect(t, g.Endpoint())
	if !g.AwaitSubscribers(context.Background(), 1, 10*time.Second) {
		t.Fatal("timed out waiting for the collector's subscription")
	}
	return g, c, runGateway(t, g)
}

// runGateway runs g until stop is called or the test ends: stop cancels Run and waits up
// to 15 s for it to return.
func runGateway(t *testing.T, g *Gateway) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

// collector subscribes to a gateway and rebuilds what a consumer sees: per-symbol books
// (valid between a snapshot and an invalidating status), status counts, kinds seen, and
// the gateway sequence (which must have no hole on loopback).
type collector struct {
	mu       sync.Mutex
	books    map[string]*bookState
	status   map[string]map[wire.StatusCode]int // exchange → code → count
	kinds    map[string]map[wire.Kind]int
	firstGw  uint64
	lastGw   uint64
	gwHoles  uint64
	records  int
	lastRecv time.Time
}

type bookState struct {
	b     book.Book
	valid bool
}

func collect(t *testing.T, endpoint string) *collector {
	c := &collector{books: map[string]*bookState{}, status: map[string]map[wire.StatusCode]int{}, kinds: map[string]map[wire.Kind]int{}}
	sub := bus.NewSubscriber(bus.SubOptions{MaxMessageBytes: 4 << 20}, quiet)
	if err := sub.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	sub.Subscribe("")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var r wire.Record
		sub.Run(ctx, func(batch []bus.Message) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, m := range batch {
				if _, err := wire.DecodeRecord(m.Payload, &r); err != nil {
					t.Errorf("undecodable record: %v", err)
					continue
				}
				c.on(&r)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done; sub.Close() })
	return c
}

func (c *collector) on(r *wire.Record) {
	c.records++
	c.lastRecv = time.Now()
	if c.firstGw == 0 {
		c.firstGw = r.GatewaySeq
	}
	if c.lastGw != 0 && r.GatewaySeq != c.lastGw+1 {
		c.gwHoles++
	}
	c.lastGw = r.GatewaySeq
	ex := r.Exchange.String()
	if c.kinds[ex] == nil {
		c.kinds[ex] = map[wire.Kind]int{}
		c.status[ex] = map[wire.StatusCode]int{}
	}
	if r.Kind != wire.KindBookSnapshot {
		c.kinds[ex][r.Kind]++
	}
	key := ex + "/" + r.Symbol.String()
	bs := c.books[key]
	if bs == nil {
		bs = &bookState{}
		c.books[key] = bs
	}
	switch r.Kind {
	case wire.KindStatus:
		c.status[ex][r.Status]++
		if r.Flags&wire.FlagBookInvalid != 0 {
			bs.valid = false
		}
	case wire.KindBookSnapshot:
		c.kinds[ex][r.Kind]++
		if r.Flags&wire.FlagRefresh != 0 && bs.valid {
			break
		}
		bs.b.Snapshot(r.Bids, r.Asks)
		bs.valid = true
	case wire.KindBookDelta:
		if bs.valid {
			bs.b.Apply(r.Bids, r.Asks)
		}
	}
}

func (c *collector) count(ex string, f func(kinds map[wire.Kind]int, status map[wire.StatusCode]int) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[ex] != nil && f(c.kinds[ex], c.status[ex])
}

// quiesce pauses the market and waits until nothing has arrived for a while.
func quiesce(t *testing.T, s *sim.Server, c *collector) {
	s.Pause()
	testkit.Poll(t, 10*time.Second, "quiet stream", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return time.Since(c.lastRecv) > 300*time.Millisecond
	})
}

// sameBook compares the consumer's book with the simulator's, by value.
func (c *collector) sameBook(s *sim.Server, ex, sym string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	bs := c.books[ex+"/"+sym]
	if bs == nil || !bs.valid {
		return fmt.Errorf("%s %s: no valid book", ex, sym)
	}
	bids, asks, ok := s.Book(ex, sym)
	if !ok {
		return fmt.Errorf("%s %s: simulator has no book", ex, sym)
	}
	for _, side := range []struct {
		name string
		got  []wire.Level
		want []sim.Level
	}{{"bids", bs.b.Bids(), bids}, {"asks", bs.b.Asks(), asks}} {
		if len(side.got) != len(side.want) {
			return fmt.Errorf("%s %s %s: %d levels, simulator has %d", ex, sym, side.name, len(side.got), len(side.want))
		}
		for i, w := range side.want {
			p, s := wire.MustDecimal(w.Price), wire.MustDecimal(w.Size)
			if side.got[i].Price.Cmp(p) != 0 || side.got[i].Size.Cmp(s) != 0 {
				return fmt.Errorf("%s %s %s[%d]: %s@%s, simulator %s@%s", ex, sym, side.name, i, side.got[i].Size, side.got[i].Price, w.Size, w.Price)
			}
		}
	}
	return nil
}

// TestIntegrationAllExchangesStream: all ten exchanges stream BBO, trades and books from
// the simulator through a running gateway onto the bus, with no hole in the gateway
// sequence.
func TestIntegrationAllExchangesStream(t *testing.T) {
	topo := simTopology(t, sim.Options{Seed: 1, Rate: 50})
	g, c := startGateway(t, topo, "gw-korea")
	for _, ex := range wire.Exchanges() {
		testkit.Poll(t, 30*time.Second, ex.String()+" bbo, trades and books", func() bool {
			return c.count(ex.String(), func(k map[wire.Kind]int, _ map[wire.StatusCode]int) bool {
				return k[wire.KindBBO] > 0 && k[wire.KindTrade] > 0 && k[wire.KindBookSnapshot] > 0
			})
		})
	}
	// The simulator speaks each venue's documented layout, which is what the fast paths
	// read: most of its frames must take one (the rest are acks, heartbeats, first
	// snapshots and the message types without a fast path).
	for _, ex := range wire.Exchanges() {
		st := g.sessionStats(ex.String())
		t.Logf("%s: %d frames, %d by the fastjson path", ex, st.Frames, st.TreeFrames)
		if st.Frames == 0 || st.TreeFrames*2 > st.Frames {
			t.Errorf("%s: %d of %d frames missed the fast paths", ex, st.TreeFrames, st.Frames)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gwHoles != 0 {
		t.Fatalf("%d holes in the gateway sequence", c.gwHoles)
	}
	for ex, st := range c.status {
		if st[wire.StatusGap]+st[wire.StatusChecksum]+st[wire.StatusCrossed] != 0 {
			t.Errorf("%s: book breaks without faults: %v", ex, st)
		}
	}
}

// TestIntegrationFaults runs the simulator's faults through a gateway, one exchange at a
// time: no crash, every injected gap marked, books equal to the simulator's after resync,
// reconnects bounded by backoff.
func TestIntegrationFaults(t *testing.T) {
	type check func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string)
	bookEqual := func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
		// Stop injecting, and let the market run on so that a gap injected last is
		// revealed by the next message (a gap is only visible once something follows it).
		s.Inject(ex, sim.Fault{})
		from := s.Stats().ByExchange[ex].Frames
		testkit.Poll(t, 20*time.Second, "fault-free traffic", func() bool { return s.Stats().ByExchange[ex].Frames > from+100 })
		for sym, ch := range g.feedSymbols(ex) {
			if hasBook(ch) {
				testkit.Poll(t, 20*time.Second, "a valid book for "+sym, func() bool {
					c.mu.Lock()
					defer c.mu.Unlock()
					bs := c.books[ex+"/"+sym]
					return bs != nil && bs.valid
				})
			}
		}
		quiesce(t, s, c)
		for sym, ch := range g.feedSymbols(ex) {
			if !hasBook(ch) {
				continue
			}
			var last error
			deadline := time.Now().Add(10 * time.Second)
			for last = c.sameBook(s, ex, sym); last != nil && time.Now().Before(deadline); last = c.sameBook(s, ex, sym) {
				time.Sleep(20 * time.Millisecond)
			}
			if last != nil {
				t.Fatalf("book after resync: %v (gateway %+v)", last, g.sessionStats(ex))
			}
		}
	}
	gapsMarked := func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
		testkit.Poll(t, 30*time.Second, "injected gaps", func() bool {
			st := s.Stats().ByExchange[ex]
			return st.Gaps+st.Reorders >= 3
		})
		bookEqual(t, s, g, c, ex)
		st := s.Stats().ByExchange[ex]
		injected := st.Gaps + st.Reorders
		c.mu.Lock()
		marked := uint64(c.status[ex][wire.StatusGap] + c.status[ex][wire.StatusChecksum])
		c.mu.Unlock()
		// A gap injected while the book is already resyncing from the previous one falls
		// into the same invalid period: it is never marked twice. A reorder of two frames
		// of different symbols breaks no chain. Whatever was missed shows in the books,
		// which bookEqual compares with the simulator's.
		if marked > injected || marked == 0 && st.Gaps > 0 {
			t.Fatalf("%s: %d gaps injected, %d marked", ex, injected, marked)
		}
		t.Logf("%s: %d gaps/reorders injected, %d marked, gateway stats %+v", ex, injected, marked, g.sessionStats(ex))
	}
	reconnected := func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
		testkit.Poll(t, 30*time.Second, "reconnect status", func() bool {
			return c.count(ex, func(_ map[wire.Kind]int, st map[wire.StatusCode]int) bool {
				return st[wire.StatusReconnect]+st[wire.StatusStale] > 0
			})
		})
		bookEqual(t, s, g, c, ex)
	}
	cases := []struct {
		name  string
		ex    string
		fault sim.Fault
		check check
	}{
		{"none/binance", "binance", sim.Fault{}, bookEqual},
		{"none/kraken", "kraken", sim.Fault{}, bookEqual},
		{"gap/binance", "binance", sim.Fault{GapEvery: 60}, gapsMarked},
		{"gap/gateio", "gateio", sim.Fault{GapEvery: 60}, gapsMarked},
		{"gap/okx", "okx", sim.Fault{GapEvery: 60}, gapsMarked},
		{"gap/bybit", "bybit", sim.Fault{GapEvery: 60}, gapsMarked},
		{"checksum/kraken", "kraken", sim.Fault{GapEvery: 60}, gapsMarked},
		{"reorder/binance", "binance", sim.Fault{ReorderEvery: 60}, gapsMarked},
		{"duplicate/okx", "okx", sim.Fault{DuplicateEvery: 5}, func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
			testkit.Poll(t, 20*time.Second, "duplicates", func() bool { return s.Stats().ByExchange[ex].Duplicates >= 20 })
			bookEqual(t, s, g, c, ex)
			if c.count(ex, func(_ map[wire.Kind]int, st map[wire.StatusCode]int) bool { return st[wire.StatusGap] > 0 }) {
				t.Fatal("duplicates taken for gaps")
			}
		}},
		{"malformed/bybit", "bybit", sim.Fault{MalformedEvery: 10}, func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
			testkit.Poll(t, 20*time.Second, "malformed frames counted", func() bool { return g.sessionStats(ex).ParseErrors >= 5 })
			bookEqual(t, s, g, c, ex)
		}},
		{"oversized/binance", "binance", sim.Fault{OversizedEvery: 200}, func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
			testkit.Poll(t, 30*time.Second, "oversized frame refused", func() bool { return g.sessionStats(ex).Oversized >= 1 })
			reconnected(t, s, g, c, ex)
		}},
		{"disconnect/upbit", "upbit", sim.Fault{DisconnectAfter: 100}, reconnected},
		{"disconnect/coinbase", "coinbase", sim.Fault{DisconnectAfter: 150}, reconnected},
		{"stall/okx", "okx", sim.Fault{StallAfter: 50, StallHeartbeats: true}, func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
			testkit.Poll(t, 60*time.Second, "stale detection", func() bool { return g.sessionStats(ex).Stale >= 1 })
			s.Inject(ex, sim.Fault{})
			reconnected(t, s, g, c, ex)
		}},
		{"refused/gateio", "gateio", sim.Fault{DisconnectAfter: 50, RefuseConnects: 2, RefuseStatus: 429, RetryAfter: time.Second}, func(t *testing.T, s *sim.Server, g *Gateway, c *collector, ex string) {
			testkit.Poll(t, 30*time.Second, "refusals and a disconnect", func() bool {
				st := s.Stats().ByExchange[ex]
				return st.Refused >= 2 && st.Disconnects >= 1
			})
			reconnected(t, s, g, c, ex)
			if st := g.sessionStats(ex); st.RateLimited < 2 {
				t.Fatalf("rate-limit answers not counted: %+v", st)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, sim.Options{Seed: 7, Rate: 200, Exchanges: []string{tc.ex}, Faults: map[string]sim.Fault{tc.ex: tc.fault}})
			topo := topology(t, s.Addr(), tc.ex)
			for _, f := range topo.Gateways[0].Feeds {
				f.StaleAfter = 2 * time.Second // let the stall test finish quickly
			}
			g, c := startGateway(t, topo, "gw-korea")
			tc.check(t, s, g, c, tc.ex)
		})
	}
}

// TestIntegrationMetricsScrape: /metrics exposes the session counters per exchange and
// /healthz turns healthy once frames flow.
func TestIntegrationMetricsScrape(t *testing.T) {
	topo := simTopology(t, sim.Options{Seed: 2, Rate: 50, Exchanges: []string{"binance"}})
	g, c := startGateway(t, topo, "gw-korea")
	reg := metrics.NewRegistry()
	g.Register(reg)
	srv := httptest.NewServer(reg.Handler(g.Health))
	defer srv.Close()
	testkit.Poll(t, 10*time.Second, "traffic", func() bool {
		return c.count("binance", func(k map[wire.Kind]int, _ map[wire.StatusCode]int) bool { return k[wire.KindTrade] > 0 })
	})
	get := func(path string) (int, string) { return metricstest.Get(t, srv.URL+path) }
	if code, body := get("/healthz"); code != 200 {
		t.Fatalf("healthz %d %s", code, body)
	}
	_, body := get("/metrics")
	for _, want := range []string{`tickline_gateway_frames_total{exchange="binance",gateway="gw-korea"}`, `tickline_gateway_published_total{gateway="gw-korea"}`,
		`tickline_bus_subscribers{gateway="gw-korea"} 1`, `tickline_bus_subscriber_dropped_total{gateway="gw-korea",subscriber=`,
		`tickline_gateway_trade_gaps_total{exchange="binance",gateway="gw-korea"} 0`, `tickline_gateway_content_repeats_total{exchange="binance",gateway="gw-korea"}`,
		`tickline_bus_refused_total{gateway="gw-korea",reason="handshake_timeout"} 0`, `tickline_bus_handshakes{gateway="gw-korea"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	re := regexp.MustCompile(`tickline_gateway_frames_total\{exchange="binance",gateway="gw-korea"\} (\d+)`)
	if m := re.FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Fatalf("frames counter not counting: %v", m)
	}
}

// TestIntegrationWaitSubscribers: a gateway told to wait for a receiver opens no exchange
// session and publishes nothing until one subscribes; that receiver then sees the stream
// from gateway sequence 1. A gateway whose wait times out starts anyway — and, started
// after the first, is the witness that the first one's sessions had time to connect,
// were they started.
func TestIntegrationWaitSubscribers(t *testing.T) {
	s := startSim(t, sim.Options{Listen: "127.0.0.1:0", Seed: 7, Rate: 50})
	topo := topology(t, s.Addr(), "okx", "binance")
	newWaiting := func(id string, timeout time.Duration) *Gateway {
		g, err := New(topo, id, Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0",
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, WaitSubscribers: 1, WaitTimeout: timeout}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := newWaiting("gw-korea", time.Minute)
	g2 := newWaiting("gw-global", 200*time.Millisecond) // nobody comes: it starts once the wait times out
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { g.Run(ctx) })
	wg.Go(func() { g2.Run(ctx) })
	testkit.Poll(t, 15*time.Second, "the unwatched gateway publishing after its wait", func() bool { return g2.Stats.Published.Load() > 0 })
	if n := g.Stats.Published.Load(); n != 0 {
		t.Fatalf("published %d records before any receiver subscribed", n)
	}
	for _, ss := range g.Sessions() {
		if n := ss.Stats.Connects.Load() + ss.Stats.DialFailures.Load(); n != 0 {
			t.Fatalf("a session dialed %d times before any receiver subscribed", n)
		}
	}
	c := collect(t, g.Endpoint())
	testkit.Poll(t, 15*time.Second, "records after the subscription", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.records > 50
	})
	c.mu.Lock()
	first := c.firstGw
	c.mu.Unlock()
	if first != 1 {
		t.Errorf("the first receiver's first record has gateway sequence %d, want 1", first)
	}
}
