package replay

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/archiver"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/wire"

	"github.com/tickline/tickline/shared/metrics/metricstest"
)

// TestReplayRoundTripThroughArchiver archives records from two regions' gateways with the
// real archiver, replays everything, and checks the replay is the archive byte for byte,
// merged across partitions and regions in time order.
func TestReplayRoundTripThroughArchiver(t *testing.T) {
	_, topo := newArchive(t, "ticks.")
	pubs := map[string]*bus.Publisher{}
	eps := map[string]string{}
	for _, id := range []string{"gw-a", "gw-b", "gw-c"} {
		p, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{QueueDepth: 1 << 16}, testkit.Log(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		pubs[id], eps[id] = p, p.Endpoint()
	}
	a, err := archiver.New(topo, archiver.Options{Endpoints: eps}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, p := range pubs {
		testkit.Poll(t, 20*time.Second, "archiver subscribed", func() bool {
			st := p.Stats()
			return len(st) == 1 && len(st[0].Subscriptions) == 1
		})
	}

	// Interleaved event times across exchanges and regions; korea's two lines both publish.
	published := map[string]bool{}
	var topic []byte
	pub := func(p *bus.Publisher, v []byte) {
		published[string(v)] = true
		var h wire.Header
		wire.ReadHeader(v, &h)
		topic = wire.AppendTopic(topic[:0], h.Kind, h.Exchange, &h.Instrument)
		p.Publish(topic, v)
	}
	const n = 600
	for i := 1; i <= n; i++ {
		at := time.Duration(i) * 997 * time.Microsecond
		ex := wire.Binance
		if i%3 == 0 {
			ex = wire.OKX
		}
		pub(pubs["gw-a"], rec(ex, wire.KindTrade, "BTC-USDT", uint64(i), at, 1))
		pub(pubs["gw-b"], rec(ex, wire.KindTrade, "BTC-USDT", uint64(i), at, 2))
		pub(pubs["gw-c"], rec(ex, wire.KindBBO, "BTC-USDT", uint64(i), at+300*time.Microsecond, 3))
	}
	testkit.Poll(t, 30*time.Second, "archived", func() bool { return a.Stats.Produced.Load() >= 2*n })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil

	var c collected
	r := runReplay(t, topo, Options{}, c.sink())
	if len(c.values) != 2*n || r.Stats.Written.Load() != 2*n {
		t.Fatalf("replayed %d records, want %d", len(c.values), 2*n)
	}
	c.checkMergeOrder(t)
	seen := map[string]bool{}
	for _, v := range c.values {
		if !published[string(archived(t, v))] {
			t.Fatalf("replayed bytes not published by any gateway: %x", v[:32])
		}
		var h wire.Header
		wire.ReadHeader(v, &h)
		key := h.Exchange.String() + h.Kind.String() + strconv.FormatUint(h.Seq, 10)
		if seen[key] {
			t.Fatalf("event %s replayed twice", key)
		}
		seen[key] = true
	}
	// Both regions interleave: the first records alternate korea trades and global BBOs.
	if k := c.values[0][1]; wire.Kind(k) != wire.KindTrade || wire.Kind(c.values[1][1]) != wire.KindBBO {
		t.Errorf("merge did not interleave regions: kinds %d, %d", c.values[0][1], c.values[1][1])
	}
}

// threeStreams archives n records per stream (binance BTC-USDT trades, binance ETH-USDT
// trades, okx BTC-USDT bbo) 1 ms apart (+ sub-ms offsets) into topic <prefix>korea.
func threeStreams(t testing.TB, seeds []string, prefix string, n int) {
	var vals [][]byte
	for i := 1; i <= n; i++ {
		at := time.Duration(i) * time.Millisecond
		vals = append(vals,
			rec(wire.Binance, wire.KindTrade, "BTC-USDT", uint64(i), at, 1),
			rec(wire.Binance, wire.KindTrade, "ETH-USDT", uint64(i), at+100*time.Microsecond, 1),
			rec(wire.OKX, wire.KindBBO, "BTC-USDT", uint64(i), at+200*time.Microsecond, 1))
	}
	archive(t, seeds, prefix+"korea", "korea", vals)
}

func TestReplayTimeRangeAndFilters(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	threeStreams(t, seeds, "ticks.", 100)
	archive(t, seeds, "ticks.global", "global", [][]byte{rec(wire.Binance, wire.KindTrade, "BTC-USDT", 1, 50*time.Millisecond, 3)})
	ms := int64(time.Millisecond)
	tests := []struct {
		name string
		opts Options
		want int
	}{
		{"everything", Options{}, 301},
		{"korea only", Options{Regions: []string{"korea"}}, 300},
		{"topic by name", Options{Topics: []string{"ticks.global"}}, 1},
		// [10 ms + 100 µs, 20 ms + 100 µs): ETH 10..19, BTC 11..20, OKX 10..19 (sub-ms bounds).
		{"sub-millisecond range", Options{Regions: []string{"korea"}, From: base + 10*ms + ms/10, To: base + 20*ms + ms/10}, 30},
		{"open end", Options{Regions: []string{"korea"}, From: base + 91*ms}, 30},
		{"open start", Options{Regions: []string{"korea"}, To: base + 2*ms}, 3},
		{"exchange okx", Options{Regions: []string{"korea"}, Exchanges: []wire.Exchange{wire.OKX}}, 100},
		{"instrument", Options{Regions: []string{"korea"}, Instruments: []string{"ETH-USDT"}}, 100},
		{"kind bbo", Options{Kinds: []wire.Kind{wire.KindBBO}}, 100},
		{"combined", Options{Exchanges: []wire.Exchange{wire.Binance}, Instruments: []string{"BTC-USDT"}, To: base + 60*ms}, 60},
		{"nothing in range", Options{From: base + time.Hour.Nanoseconds()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c collected
			r := runReplay(t, topo, tt.opts, c.sink())
			if len(c.values) != tt.want {
				t.Fatalf("replayed %d records, want %d (stats: read %d filtered %d)", len(c.values), tt.want, r.Stats.Read.Load(), r.Stats.Filtered.Load())
			}
			c.checkMergeOrder(t)
			for i, ts := range c.times {
				if ts < tt.opts.From || tt.opts.To > 0 && ts >= tt.opts.To {
					t.Fatalf("record %d at %d outside [%d, %d)", i, ts, tt.opts.From, tt.opts.To)
				}
			}
		})
	}
}

// TestReplaySpeedPauseResume checks pacing loosely: 1x spans about the archive's time, 10x
// at most half of 1x's span (about a tenth is expected; first to last record written: the
// client's setup is not paced); a paused replay writes nothing until resumed. No tight
// thresholds.
func TestReplaySpeedPauseResume(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	threeStreams(t, seeds, "ticks.", 200) // 200 ms of archive time
	span := map[float64]time.Duration{}
	for _, speed := range []float64{1, 10, 0} {
		var c collected
		runReplay(t, topo, Options{Speed: speed}, c.sink())
		if len(c.values) != 600 {
			t.Fatalf("speed %v: %d records", speed, len(c.values))
		}
		c.checkMergeOrder(t)
		span[speed] = c.at[len(c.at)-1].Sub(c.at[0])
	}
	t.Logf("first to last record: 1x %v, 10x %v, max %v", span[1], span[10], span[0])
	if span[1] < 150*time.Millisecond {
		t.Errorf("1x replayed 200 ms of archive in %v", span[1])
	}
	if span[10] > span[1]/2 {
		t.Errorf("10x (%v) not at least twice as fast as 1x (%v)", span[10], span[1])
	}

	// Pause before the first record; nothing is written until Resume. Pause leaves a
	// wake-up in r.ctl, and at max speed the only reader of r.ctl is hold's pause: once the
	// wake-up is taken, Run is parked in the pause with the first record in hand. A replay
	// that ignored the pause would write everything and return with the wake-up untaken.
	var c collected
	r, err := New(topo, Options{Speed: 0}, c.sink(), testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Pause()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	var runErr error
	finished := false
	testkit.Poll(t, 10*time.Second, "Run parked in the pause", func() bool {
		select {
		case runErr = <-done:
			finished = true
		default:
		}
		return finished || len(r.ctl) == 0
	})
	if w := r.Stats.Written.Load(); w != 0 || finished {
		t.Fatalf("paused replay wrote %d records (finished: %v)", w, finished)
	}
	r.Resume()
	if runErr = <-done; runErr != nil {
		t.Fatal(runErr)
	}
	if len(c.values) != 600 {
		t.Fatalf("after resume: %d records", len(c.values))
	}
}

// TestReplayZMQByteIdentical replays to the bus at max speed into a small subscriber queue:
// pacing on MaxQueued loses nothing, and a plain bus subscriber (what the strategy uses)
// receives every record byte for byte with the gateway's topic, but for the gateway
// sequence, which the output restamps 1, 2, 3, … (the replay is the subscriber's line).
func TestReplayZMQByteIdentical(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	const n = 3000
	threeStreams(t, seeds, "ticks.", n)
	var want [][]byte
	var wc collected
	runReplay(t, topo, Options{}, wc.sink())
	want = wc.values

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sink, err := NewZMQSink(ctx, "tcp://127.0.0.1:0", ZMQOptions{Bus: bus.Options{QueueDepth: 256}, WaitSubscribers: 1}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	sub := bus.NewSubscriber(bus.SubOptions{}, testkit.Log(t))
	if err := sub.Connect(sink.Endpoint()); err != nil {
		t.Fatal(err)
	}
	sub.Subscribe("")
	got := make(chan [2][]byte, 3*n)
	sctx, stopSub := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() {
		subDone <- sub.Run(sctx, func(batch []bus.Message) {
			for _, m := range batch {
				got <- [2][]byte{append([]byte(nil), m.Topic...), append([]byte(nil), m.Payload...)}
			}
		})
	}()
	r := runReplay(t, topo, Options{}, sink)
	for i, w := range want {
		var m [2][]byte
		select {
		case m = <-got:
		case <-time.After(20 * time.Second):
			t.Fatalf("received %d of %d records", i, len(want))
		}
		var h, gh wire.Header
		wire.ReadHeader(w, &h)
		if err := wire.ReadHeader(m[1], &gh); err != nil || gh.GatewaySeq != uint64(i+1) {
			t.Fatalf("record %d: gateway sequence %d (%v), want the output's %d", i, gh.GatewaySeq, err, i+1)
		}
		wire.SetGatewaySeq(m[1], h.GatewaySeq)
		if !bytes.Equal(m[1], w) {
			t.Fatalf("record %d differs", i)
		}
		if string(m[0]) != string(wire.AppendTopic(nil, h.Kind, h.Exchange, &h.Instrument)) {
			t.Fatalf("record %d topic %q", i, m[0])
		}
	}
	stopSub()
	<-subDone
	t.Logf("%d records, paced %d times, dropped %d", r.Stats.Written.Load(), sink.Paced.Load(), sink.Publisher().Totals().Dropped)
	if d := sink.Publisher().Totals().Dropped; d != 0 {
		t.Errorf("publisher dropped %d", d)
	}
	// The ZMQ output adds its publisher's counters to the replay's metrics.
	reg := metrics.NewRegistry()
	r.Register(reg)
	w := httptest.NewRecorder()
	reg.Handler(r.Health).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"tickline_replay_bus_dropped_total 0\n", "tickline_replay_bus_paced_total ",
		"tickline_replay_bus_subscribers ", fmt.Sprintf("tickline_replay_written_total %d\n", 3*n)} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestReplayMetrics: with Options.Metrics a replay serves /metrics and /healthz until Run
// returns, closing the output included. The written counter equals what the output took;
// a refused record turns /healthz unhealthy, naming the error.
func TestReplayMetrics(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	threeStreams(t, seeds, "ticks.", 20) // 60 records
	tests := []struct {
		name   string
		failAt int // the output refuses this record (1-based); 0 = none
		health int
	}{
		{"complete", 0, http.StatusOK},
		{"output error", 25, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &heldSink{failAt: tt.failAt, closing: make(chan struct{}), release: make(chan struct{})}
			defer sink.free()
			r, err := New(topo, Options{Metrics: "127.0.0.1:0"}, sink, testkit.Log(t))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- r.Run(context.Background()) }()
			select {
			case <-sink.closing:
			case err := <-done:
				t.Fatalf("Run returned %v without closing its output", err)
			case <-time.After(60 * time.Second):
				t.Fatal("output not closed within 60 s")
			}
			base := "http://" + r.MetricsAddr()
			code, body := metricstest.Get(t, base+"/metrics")
			if code != http.StatusOK {
				t.Fatalf("/metrics: %d %s", code, body)
			}
			written := scrape(t, body, "tickline_replay_written_total")
			if code, hb := metricstest.Get(t, base+"/healthz"); code != tt.health {
				t.Errorf("/healthz: %d %s, want %d", code, hb, tt.health)
			} else if tt.failAt > 0 && !strings.Contains(hb, errRefused.Error()) {
				t.Errorf("/healthz body %q does not name the error", hb)
			}
			sink.free()
			err = <-done
			if tt.failAt > 0 != errors.Is(err, errRefused) {
				t.Fatalf("Run: %v", err)
			}
			if written != float64(sink.took) || sink.took == 0 {
				t.Errorf("tickline_replay_written_total %v, the output took %d records", written, sink.took)
			}
			if tt.failAt == 0 {
				if sink.took != 60 || scrape(t, body, "tickline_replay_progress_ratio") != 1 || scrape(t, body, "tickline_replay_range_records") != 60 {
					t.Errorf("took %d records; metrics:\n%s", sink.took, body)
				}
			}
			if _, err := http.Get(base + "/healthz"); err == nil {
				t.Error("metrics still served after Run returned")
			}
		})
	}
}

var errRefused = errors.New("output refused the record")

// heldSink takes records, refuses record failAt (1-based; 0 = none), and holds Close until
// free is called, so a test can scrape a replay that has stopped writing.
type heldSink struct {
	failAt, n, took  int
	closing, release chan struct{}
	once             sync.Once
}

func (s *heldSink) Write([]byte, *wire.Header) error {
	if s.n++; s.n == s.failAt {
		return errRefused
	}
	s.took++
	return nil
}

func (s *heldSink) Close() error {
	close(s.closing)
	<-s.release
	return nil
}

func (s *heldSink) free() { s.once.Do(func() { close(s.release) }) }

// scrape returns the value of an unlabelled metric in a /metrics body.
func scrape(t *testing.T, body, name string) float64 {
	t.Helper()
	v, ok := metricstest.Value(body, name)
	if !ok {
		t.Fatalf("metrics lack %s:\n%s", name, body)
	}
	return v
}

func TestReplayJSONLAndCSV(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	threeStreams(t, seeds, "ticks.", 20)
	dir := t.TempDir()

	jf, err := os.Create(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	runReplay(t, topo, Options{Progress: &progress}, NewJSONLSink(jf))
	if !strings.Contains(progress.String(), "100.0%") || !strings.HasSuffix(progress.String(), "\n") {
		t.Errorf("progress output %q", progress.String())
	}
	data, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 60 {
		t.Fatalf("%d JSON lines", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		switch m["kind"] {
		case "trade":
			if m["price"] != "65000.10" || m["side"] != "sell" || m["exchange"] != "binance" {
				t.Fatalf("trade line %s", l)
			}
		case "bbo":
			if m["bid_px"] != "64999.9" || m["ask_sz"] != "2" || m["exchange"] != "okx" {
				t.Fatalf("bbo line %s", l)
			}
		default:
			t.Fatalf("line %s", l)
		}
		if _, ok := m["ts_recv_ns"].(float64); !ok || m["gateway_id"] != float64(1) {
			t.Fatalf("line %s", l)
		}
	}

	cf, err := os.Create(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	runReplay(t, topo, Options{}, NewCSVSink(cf))
	cf2, _ := os.Open(filepath.Join(dir, "out.csv"))
	defer cf2.Close()
	rows, err := csv.NewReader(cf2).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 61 {
		t.Fatalf("%d CSV rows", len(rows))
	}
	head := rows[0]
	col := func(name string) int {
		for i, h := range head {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	for _, row := range rows[1:] {
		if len(row) != len(head) {
			t.Fatalf("row %v", row)
		}
		switch row[col("kind")] {
		case "trade":
			if row[col("price")] != "65000.10" || row[col("bid_px")] != "" {
				t.Fatalf("trade row %v", row)
			}
		case "bbo":
			if row[col("ask_px")] != "65000.1" || row[col("price")] != "" {
				t.Fatalf("bbo row %v", row)
			}
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"2026-03-01T12:00:00Z", base, false},
		{"2026-03-01T12:00:00.000000123Z", base + 123, false},
		{"2026-03-01T21:00:00.5+09:00", base + 5e8, false},
		{strconv.FormatInt(base+7, 10), base + 7, false},
		{"yesterday", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}
