package session

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/binance"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/wire"
)

// exchange is a tiny Binance-like server: every connection that subscribes receives the
// same broadcast events (like a real exchange), with hooks to misbehave.
type exchange struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	conns    map[*websocket.Conn]bool
	refuse   atomic.Int32 // refuse the next N upgrades with 429 Retry-After: 1
	mute     atomic.Bool  // stop sending and stop answering pings (dead but open socket)
	attempts atomic.Int32
	attemptT []time.Time
	subs     atomic.Int32
	seq      atomic.Uint64
	depthU   atomic.Uint64 // last depth update id sent
	snapshot func() string // REST depth snapshot body
	// lagFirst delays every frame to the first subscribed connection by this much (a
	// connection behind the others), written in order by its own goroutine.
	lagFirst time.Duration
	lagged   map[*websocket.Conn]chan lagFrame
}

type lagFrame struct {
	at    time.Time
	frame string
}

func newExchange(t *testing.T) *exchange {
	x := &exchange{t: t, conns: map[*websocket.Conn]bool{}, lagged: map[*websocket.Conn]chan lagFrame{}}
	mux := http.NewServeMux()
	up := websocket.Upgrader{}
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		x.attempts.Add(1)
		x.mu.Lock()
		x.attemptT = append(x.attemptT, time.Now())
		x.mu.Unlock()
		if x.refuse.Load() > 0 {
			x.refuse.Add(-1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.SetPingHandler(func(data string) error {
			if x.mute.Load() {
				return nil
			}
			return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		_, msg, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(msg), "SUBSCRIBE") {
			c.Close()
			return
		}
		first := x.subs.Add(1) == 1
		x.mu.Lock()
		x.conns[c] = true
		if first && x.lagFirst > 0 {
			ch := make(chan lagFrame, 1<<16)
			x.lagged[c] = ch
			go func() {
				for f := range ch {
					time.Sleep(time.Until(f.at.Add(x.lagFirst)))
					c.SetWriteDeadline(time.Now().Add(time.Second))
					c.WriteMessage(websocket.TextMessage, []byte(f.frame))
				}
			}()
		}
		x.mu.Unlock()
		for { // keep reading so control frames are handled
			if _, _, err := c.ReadMessage(); err != nil {
				x.mu.Lock()
				delete(x.conns, c)
				if ch := x.lagged[c]; ch != nil {
					close(ch)
					delete(x.lagged, c)
				}
				x.mu.Unlock()
				return
			}
		}
	})
	mux.HandleFunc("/api/v3/depth", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, x.snapshot())
	})
	x.srv = httptest.NewServer(mux)
	t.Cleanup(x.srv.Close)
	return x
}

func (x *exchange) url() string { return "ws" + strings.TrimPrefix(x.srv.URL, "http") + "/stream" }

// broadcast sends one frame to every subscribed connection.
func (x *exchange) broadcast(frame string) {
	if x.mute.Load() {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for c := range x.conns {
		if ch := x.lagged[c]; ch != nil {
			ch <- lagFrame{time.Now(), frame}
			continue
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.WriteMessage(websocket.TextMessage, []byte(frame))
	}
}

func (x *exchange) trade() {
	id := x.seq.Add(1)
	x.broadcast(fmt.Sprintf(`{"stream":"btcusdt@trade","data":{"e":"trade","E":1700000000000,"s":"BTCUSDT","t":%d,"p":"100.5","q":"1","T":1700000000000,"m":false}}`, id))
}

func (x *exchange) depth(first, last uint64, px string) {
	x.depthU.Store(last)
	x.broadcast(fmt.Sprintf(`{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1700000000000,"s":"BTCUSDT","U":%d,"u":%d,"b":[["%s","1"]],"a":[]}}`, first, last, px))
}

func (x *exchange) closeAll() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for c := range x.conns {
		c.Close()
		delete(x.conns, c)
	}
}

// recorder collects emitted records (copies) for assertions.
type recorder struct {
	mu   sync.Mutex
	recs []wire.Record
}

func (r *recorder) emit(b *adapter.Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		rec := *b.At(i)
		rec.Bids = append([]wire.Level(nil), rec.Bids...)
		rec.Asks = append([]wire.Level(nil), rec.Asks...)
		r.recs = append(r.recs, rec)
	}
}

func (r *recorder) snapshot() []wire.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wire.Record(nil), r.recs...)
}

func (r *recorder) count(f func(*wire.Record) bool) int {
	n := 0
	for _, rec := range r.snapshot() {
		if f(&rec) {
			n++
		}
	}
	return n
}

func start(t *testing.T, x *exchange, opts Options) (*Session, *recorder) {
	t.Helper()
	a := binance.New()
	if opts.Subs == nil {
		opts.Subs = []adapter.Sub{{Symbol: "BTCUSDT", Channels: []adapter.Channel{adapter.ChanTrade, adapter.ChanBook}}}
	}
	plans, err := a.Plan(x.url(), opts.Subs)
	if err != nil {
		t.Fatal(err)
	}
	opts.Adapter, opts.Plan, opts.RESTURL = a, plans[0], x.srv.URL
	opts.Seed = 1
	return run(t, opts)
}

// run starts a session with opts, its records going to a recorder, until the test ends
// (which cancels it and waits up to 10 s for Run to return).
func run(t *testing.T, opts Options) (*Session, *recorder) {
	t.Helper()
	rec := &recorder{}
	s, err := New(opts, rec.emit, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s, rec
}

func isStatus(code wire.StatusCode) func(*wire.Record) bool {
	return func(r *wire.Record) bool { return r.Kind == wire.KindStatus && r.Status == code }
}

func TestTradesAndReconnect(t *testing.T) {
	x := newExchange(t)
	s, rec := start(t, x, Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	for i := 0; i < 10; i++ {
		x.trade()
	}
	testkit.Poll(t, 20*time.Second, "10 trades", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindTrade }) == 10
	})
	x.closeAll()
	testkit.Poll(t, 20*time.Second, "reconnect", func() bool { return x.subs.Load() == 2 })
	if n := rec.count(isStatus(wire.StatusReconnect)); n != 1 {
		t.Fatalf("%d reconnect status records, want 1", n)
	}
	r := rec.snapshot()
	last := r[len(r)-1]
	if last.Kind != wire.KindStatus || last.Instrument.String() != "BTC-USDT" || last.Symbol.String() != "BTCUSDT" || last.Flags&wire.FlagBookInvalid == 0 {
		t.Fatalf("reconnect status %+v", last)
	}
	if s.Stats.Reconnects.Load() != 1 {
		t.Fatalf("reconnects %d", s.Stats.Reconnects.Load())
	}
}

func TestStaleSocketDetected(t *testing.T) {
	x := newExchange(t)
	s, rec := start(t, x, Options{StaleAfter: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	x.mute.Store(true) // open, but silent and deaf to pings
	testkit.Poll(t, 10*time.Second, "stale detection", func() bool { return s.Stats.Stale.Load() >= 1 })
	x.mute.Store(false)
	testkit.Poll(t, 10*time.Second, "reconnect after stale", func() bool { return x.subs.Load() >= 2 })
	if rec.count(isStatus(wire.StatusStale)) < 1 {
		t.Fatal("no stale status record")
	}
}

// TestQuietMarketIsNotStale: no data but pongs answered → the socket stays.
func TestQuietMarketIsNotStale(t *testing.T) {
	x := newExchange(t)
	s, _ := start(t, x, Options{StaleAfter: 150 * time.Millisecond})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	testkit.Poll(t, 10*time.Second, "several probe rounds", func() bool { return time.Since(s.connectedAtSafe()) > time.Second })
	if s.Stats.Stale.Load() != 0 || x.subs.Load() != 1 {
		t.Fatalf("quiet market treated as dead: stale=%d subs=%d", s.Stats.Stale.Load(), x.subs.Load())
	}
}

func TestRateLimitedReconnectHonoursRetryAfter(t *testing.T) {
	x := newExchange(t)
	x.refuse.Store(2)
	s, _ := start(t, x, Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	testkit.Poll(t, 15*time.Second, "subscription after refusals", func() bool { return x.subs.Load() == 1 })
	x.mu.Lock()
	ts := append([]time.Time(nil), x.attemptT...)
	x.mu.Unlock()
	if len(ts) != 3 || s.Stats.RateLimited.Load() != 2 {
		t.Fatalf("%d attempts, %d rate limited", len(ts), s.Stats.RateLimited.Load())
	}
	for i := 1; i < len(ts); i++ {
		// Retry-After: 1 is a floor on the wait (a correctness bound, not a performance one).
		if gap := ts[i].Sub(ts[i-1]); gap < time.Second {
			t.Fatalf("attempt %d came %v after a Retry-After: 1 answer", i, gap)
		}
	}
}

func TestBackoffBoundedAndJittered(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second, rng: newRand(7)}
	seen := map[time.Duration]bool{}
	for n := 0; n < 100; n++ {
		w := b.Wait(n, 0)
		ceil := min(b.Max, b.Min<<min(n, 30))
		if w < 0 || w > ceil {
			t.Fatalf("wait %v for attempt %d outside [0,%v]", w, n, ceil)
		}
		seen[w] = true
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct waits: no jitter", len(seen))
	}
	if w := b.Wait(0, 3*time.Second); w != 3*time.Second {
		t.Fatalf("floor ignored: %v", w)
	}
}

// TestBookRESTSnapshotAndGap: deltas, REST snapshot, chaining, then a gap → status and a
// fresh snapshot.
func TestBookRESTSnapshotAndGap(t *testing.T) {
	x := newExchange(t)
	x.snapshot = func() string {
		return fmt.Sprintf(`{"lastUpdateId":%d,"bids":[["100","1"]],"asks":[["101","1"]]}`, x.depthU.Load())
	}
	s, rec := start(t, x, Options{})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	x.depth(1, 10, "99")
	testkit.Poll(t, 20*time.Second, "snapshot", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindBookSnapshot }) == 1
	})
	x.depth(11, 12, "98")
	x.depth(13, 13, "97")
	testkit.Poll(t, 20*time.Second, "deltas", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindBookDelta }) == 2
	})
	x.depth(20, 21, "96") // gap: 14..19 missing
	testkit.Poll(t, 20*time.Second, "gap + resync", func() bool {
		return rec.count(isStatus(wire.StatusGap)) == 1 && rec.count(isStatus(wire.StatusResync)) == 1
	})
	if s.Stats.Gaps.Load() != 1 || s.Stats.SnapshotFetches.Load() != 2 {
		t.Fatalf("gaps %d fetches %d", s.Stats.Gaps.Load(), s.Stats.SnapshotFetches.Load())
	}
}

// TestRolloverWithoutGap: connections are replaced every few hundred ms while trades
// stream; the emitted trade ids are exactly 1..N, no gap, no duplicate.
func TestRolloverWithoutGap(t *testing.T) {
	rolloverWithoutGap(t, newExchange(t))
}

// TestRolloverNewAheadOfOld: the old connection runs 50 ms behind the new one, so when
// the new one delivers its first trade the old socket still owes earlier ones; the session
// keeps reading the old connection until it has caught up, and loses nothing.
func TestRolloverNewAheadOfOld(t *testing.T) {
	x := newExchange(t)
	x.lagFirst = 50 * time.Millisecond
	rolloverWithoutGap(t, x)
}

// rolloverWithoutGap trades through at least one planned rollover and checks that every
// trade id arrives once, in order, with no status record.
func rolloverWithoutGap(t *testing.T, x *exchange) {
	subs := []adapter.Sub{{Symbol: "BTCUSDT", Channels: []adapter.Channel{adapter.ChanTrade}}}
	s, rec := start(t, x, Options{Subs: subs, MaxConnAge: 400 * time.Millisecond, RolloverLead: 300 * time.Millisecond})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	const n = 3000
	for i := 0; i < n; i++ {
		x.trade()
		if i%10 == 0 {
			time.Sleep(time.Millisecond) // pace the producer: ~3 s of trading
		}
	}
	testkit.Poll(t, 10*time.Second, "all trades", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindTrade && r.Seq == n }) == 1
	})
	if s.Stats.Rollovers.Load() == 0 {
		t.Fatal("no rollover happened")
	}
	var ids []uint64
	for _, r := range rec.snapshot() {
		if r.Kind == wire.KindTrade {
			ids = append(ids, r.Seq)
		}
		if r.Kind == wire.KindStatus {
			t.Fatalf("status record during rollover: %+v", r)
		}
	}
	for i, id := range ids {
		if id != uint64(i+1) {
			t.Fatalf("trade %d has id %d (rollovers %d): gap or duplicate", i, id, s.Stats.Rollovers.Load())
		}
	}
}
