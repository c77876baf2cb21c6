package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/metrics/metricstest"
	"github.com/tickline/tickline/shared/wire"
)

// pacer publishes BBO records through g.publish at a fixed rate. It catches up at most
// 50 ms of lag, so a publish path frozen for longer shows as a lower rate, not a burst.
func pacer(ctx context.Context, g *Gateway, perSec int) {
	var b adapter.Batch
	start := time.Now()
	sent := 0
	burst := perSec / 20
	clock.Every(ctx, time.Millisecond, func() {
		due := int(time.Since(start).Seconds()*float64(perSec)) - sent
		if due > burst {
			sent += due - burst // lost time is not made up
			due = burst
		}
		for due > 0 {
			n := min(due, 64)
			fillBBO(&b, n)
			g.publish(&b)
			sent += n
			due -= n
		}
	})
}

func fillBBO(b *adapter.Batch, n int) {
	b.Reset()
	for range n {
		r := b.Next()
		*r = wire.Record{Kind: wire.KindBBO, Exchange: wire.Binance, TsExchange: time.Now().UnixNano(),
			BidPx: wire.MustDecimal("100.5"), BidSz: wire.MustDecimal("1"), AskPx: wire.MustDecimal("100.6"), AskSz: wire.MustDecimal("2")}
		r.Instrument.SetString("BTC-USDT")
		r.Symbol.SetString("BTCUSDT")
	}
}

// TestIntegrationJournalAttack (issue 10 item 2): while the gateway publishes at a steady
// rate to a healthy subscriber, its retransmit endpoint is attacked by clients that ask for
// everything and never read, and by 100 parallel clients asking for a million records each
// (and reading). The subscriber's rate during the attack, and after it while the
// non-reading clients are still connected, stays within 10% of the rate just before in the
// same run (asserted when the test runs alone: testkit.RateCheck), with no hole in the gateway
// sequence; refusals are exported in /metrics and match what the clients saw; and the
// gateway stops promptly although the non-reading clients are still connected. On the code
// that held the journal lock while writing, publishing froze for the write timeout.
func TestIntegrationJournalAttack(t *testing.T) {
	topo := topology(t, "127.0.0.1:1", "binance") // sessions dial a closed port and back off
	gc := &topo.Gateways[0]
	g, err := New(topo, gc.ID, Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0",
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Journal: journal.ServerOptions{WriteTimeout: time.Minute, RequestTimeout: 2 * time.Minute}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	reg := metrics.NewRegistry()
	g.Register(reg)
	scrape := httptest.NewServer(reg.Handler(nil))
	defer scrape.Close()

	// A full journal first (nobody subscribed yet: these records reach no one).
	var b adapter.Batch
	for g.journal != nil && g.seq < uint64(gc.Journal.Records) {
		fillBBO(&b, 256)
		g.publish(&b)
	}
	c := collect(t, g.Endpoint())
	if !g.AwaitSubscribers(context.Background(), 1, 10*time.Second) {
		t.Fatal("subscriber did not subscribe")
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- g.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
	}()
	pctx, stopPacer := context.WithCancel(ctx)
	pacerDone := make(chan struct{})
	go func() { defer close(pacerDone); pacer(pctx, g, 10000) }()
	defer func() { stopPacer(); <-pacerDone }()

	received := func() int { c.mu.Lock(); defer c.mu.Unlock(); return c.records }
	rate := func(d time.Duration) float64 {
		n0, t0 := received(), time.Now()
		time.Sleep(d) // a measurement window, not synchronization
		return float64(received()-n0) / time.Since(t0).Seconds()
	}
	testkit.Poll(t, 10*time.Second, "the subscriber receiving", func() bool { return received() > 1000 })
	before := rate(2 * time.Second)

	addr := strings.TrimPrefix(g.RetransmitEndpoint(), "tcp://")
	req := func(from, to uint64) []byte {
		return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, from), to)
	}
	js := &g.jsrv.Stats
	// Clients that ask for everything and never read.
	const stuck = 8
	for i := range stuck {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(req(0, ^uint64(0)))
		testkit.Poll(t, 10*time.Second, "the server writing to the stuck client", func() bool { return js.Records.Load() >= uint64(512*(i+1)) })
	}
	// 100 parallel clients asking for a million records each, reading, over and over.
	var refusedSeen, served, gotBytes atomic.Uint64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				conn.Write(req(1, 1_000_000))
				conn.SetReadDeadline(time.Now().Add(time.Minute))
				n, _ := io.Copy(io.Discard, conn)
				conn.Close()
				if n == 0 {
					refusedSeen.Add(1)
				} else {
					served.Add(1)
					gotBytes.Add(uint64(n))
				}
			}
		}()
	}
	during := rate(3 * time.Second)
	stop.Store(true)
	wg.Wait()
	after := rate(2 * time.Second)

	t.Logf("subscriber rate: before %.0f/s, during the attack %.0f/s (ratio %.3f), after %.0f/s (ratio %.3f); attack: %d responses (%d MB) served, %d connections refused",
		before, during, during/before, after, after/before, served.Load(), gotBytes.Load()>>20, refusedSeen.Load())
	// The stuck clients are still connected in the "after" window: it must be normal too.
	testkit.RateCheck(t, during >= 0.9*before && after >= 0.9*before,
		"publish rate during the attack %.0f/s or after it %.0f/s is below 90%% of the rate before %.0f/s", during, after, before)
	if c.mu.Lock(); c.gwHoles != 0 {
		t.Errorf("%d holes in the gateway sequence", c.gwHoles)
	}
	c.mu.Unlock()
	if served.Load() == 0 || js.Cut.Load() == 0 {
		t.Errorf("the attack was not served (%d) or never cut (%d)", served.Load(), js.Cut.Load())
	}
	_, body := metricstest.Get(t, scrape.URL+"/metrics")
	lbl := `{gateway="` + gc.ID + `",reason="conn_limit"}`
	if v, ok := metricstest.Value(body, "tickline_journal_refused_total"+lbl); !ok || uint64(v) != refusedSeen.Load() || v == 0 {
		t.Errorf("journal_refused_total%s = %v (%v); the clients saw %d connections closed unanswered", lbl, v, ok, refusedSeen.Load())
	}
	if v, ok := metricstest.Value(body, `tickline_journal_cut_total{gateway="`+gc.ID+`"}`); !ok || v == 0 {
		t.Errorf("journal_cut_total = %v (%v)", v, ok)
	}

	// Stop (what SIGTERM does): Run returns while the stuck clients are still connected
	// and their write timeout (a minute) is far off.
	stopPacer()
	<-pacerDone
	stopAt := time.Now()
	cancel()
	select {
	case err := <-runDone:
		t.Logf("Run returned %v after the cancel, %d stuck clients still connected", time.Since(stopAt).Round(time.Microsecond), stuck)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		runDone <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return with clients that do not read")
	}
	if n := js.WriteTimeouts.Load(); n != 0 {
		t.Errorf("%d write timeouts: Run waited for the stuck clients", n)
	}
}

// TestMetricsPortTakenIsFatal: a metrics address that cannot be listened on fails New,
// like the bus and journal endpoints (it used to be only logged, with no metrics served);
// one that can is served by Run, journal counters included.
func TestMetricsPortTakenIsFatal(t *testing.T) {
	topo := topology(t, "127.0.0.1:1", "binance")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	opts := Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0", Metrics: taken.Addr().String()}
	if _, err := New(topo, topo.Gateways[0].ID, opts, quiet); err == nil || !strings.Contains(err.Error(), "metrics: listening on") {
		t.Fatalf("New with a taken metrics port: %v", err)
	}
	// The endpoints New bound before failing are released: the same endpoints work again.
	opts.Metrics = "127.0.0.1:0"
	g, err := New(topo, topo.Gateways[0].ID, opts, quiet)
	if err != nil {
		t.Fatal(err)
	}
	runGateway(t, g)
	var body string
	testkit.Poll(t, 10*time.Second, "metrics served", func() bool {
		_, body = metricstest.Get(t, "http://"+g.MetricsAddr()+"/metrics")
		return strings.Contains(body, "tickline_journal_refused_total")
	})
}
