package sim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/internal/testkit"
)

// TestUnknownSymbol: every exchange answers a subscription to a symbol it cannot map
// with its own error reply, which its adapter classifies as an exchange error.
func TestUnknownSymbol(t *testing.T) {
	cases := []struct {
		ex, path, frame, want string
	}{
		{"binance", "/stream", `{"method":"SUBSCRIBE","params":["nopexyz@trade"],"id":5}`, `"code":2`},
		{"coinbase", "/", `{"type":"subscribe","product_ids":["NOPE"],"channels":["matches"]}`, `"type":"error"`},
		{"kraken", "/v2", `{"method":"subscribe","params":{"channel":"trade","symbol":["NOPE"]}}`, `"success":false`},
		{"okx", "/ws/v5/public", `{"op":"subscribe","args":[{"channel":"trades","instId":"NOPE"}]}`, `"event":"error"`},
		{"bybit", "/v5/public/spot", `{"op":"subscribe","args":["publicTrade.NOPE"]}`, `"success":false`},
		{"gateio", "/ws/v4/", `{"time":1,"channel":"spot.trades","event":"subscribe","payload":["NOPE"]}`, `"error":{`},
		{"upbit", "/websocket/v1", `[{"ticket":"t"},{"type":"trade","codes":["NOPE"]}]`, `"error":{`},
		{"bithumb", "/pub/ws", `{"type":"transaction","symbols":["NOPE"]}`, `"status":"5100"`},
		{"bithumb", "/websocket/v1", `[{"ticket":"t"},{"type":"trade","codes":["NOPE"]}]`, `"error":{`},
		{"korbit", "/v2/public", `[{"requestId":3,"method":"subscribe","type":"trade","symbols":["nope"]}]`, `"status":"fail"`},
		{"coinone", "/", `{"request_type":"SUBSCRIBE","channel":"TRADE","topic":{"quote_currency":"KRW","target_currency":"N-O"}}`, `"response_type":"ERROR"`},
	}
	s := start(t, Options{Seed: 1})
	adapters := map[string]adapter.Adapter{}
	for _, vc := range venueCases() {
		adapters[strings.TrimSuffix(vc.ex, "-v2")] = vc.adapter
	}
	for _, c := range cases {
		t.Run(c.ex+c.path, func(t *testing.T) {
			cl := dial(t, s, c.ex, c.path)
			cl.send(c.frame)
			got := cl.expect(5*time.Second, c.want)
			if a := adapters[c.ex]; a != nil {
				var b adapter.Batch
				res, err := a.NewParser().Parse(got, 0, &b)
				if res != adapter.ResultError || !errors.Is(err, adapter.ErrExchange) {
					t.Errorf("adapter: %v %v for %s", res, err, got)
				}
			}
		})
	}
}

// TestHeartbeats: each exchange's heartbeat is answered its way.
func TestHeartbeats(t *testing.T) {
	s := start(t, Options{Seed: 1, PingInterval: 20 * time.Millisecond})
	for _, c := range []struct{ ex, path, ping, want string }{
		{"okx", "/ws/v5/public", "ping", "pong"},
		{"bybit", "/v5/public/spot", `{"req_id":"9","op":"ping"}`, `"ret_msg":"pong"`},
		{"gateio", "/ws/v4/", `{"time":1,"channel":"spot.ping"}`, `"channel":"spot.pong"`},
		{"kraken", "/v2", `{"method":"ping","req_id":7}`, `"method":"pong","req_id":7`},
		{"upbit", "/websocket/v1", "PING", `{"status":"UP"}`},
		{"bithumb", "/websocket/v1", "PING", `{"status":"UP"}`},
		{"coinone", "/", `{"request_type":"PING"}`, `{"response_type":"PONG"}`},
	} {
		cl := dial(t, s, c.ex, c.path)
		cl.send(c.ping)
		cl.expect(5*time.Second, c.want)
	}
	// Kraken's server heartbeat, Binance's server pings.
	dial(t, s, "kraken", "/v2").expect(5*time.Second, `{"channel":"heartbeat"}`)
	cl := dial(t, s, "binance", "/ws")
	testkit.Poll(t, 5*time.Second, "a server ping from binance", func() bool { return cl.pings.Load() > 0 })
	// Upbit-protocol data frames are binary.
	up := dial(t, s, "upbit", "/websocket/v1")
	up.send(`[{"ticket":"t"},{"type":"orderbook","codes":["KRW-BTC.5"]}]`)
	m := up.next(5 * time.Second)
	if m.typ != websocket.BinaryMessage || !bytes.Contains(m.data, []byte(`"orderbook_units"`)) {
		t.Fatalf("upbit: type %d %s", m.typ, m.data)
	}
}

func TestRESTSnapshotErrors(t *testing.T) {
	s := start(t, Options{Seed: 1})
	for _, c := range []struct {
		url  string
		code int
		want string
	}{
		{"/binance/api/v3/depth?symbol=NOPE", 400, "-1121"},
		{"/binance/api/v3/depth?symbol=BTCUSDT&limit=0", 400, "-1100"},
		{"/binance/api/v3/depth?symbol=BTCUSDT&limit=5", 200, `"lastUpdateId"`},
		{"/gateio/api/v4/spot/order_book?currency_pair=NOPE", 400, "INVALID_CURRENCY_PAIR"},
		{"/gateio/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=5&with_id=true", 200, `"id":`},
		{"/bithumb/public/orderbook/BTC_KRW", 200, `"status":"0000"`},
	} {
		code, body, _ := httpGet(t, "http://"+s.Addr()+c.url)
		if code != c.code || !bytes.Contains(body, []byte(c.want)) {
			t.Errorf("%s: %d %s", c.url, code, body)
		}
	}
}

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "okx.jsonl")
	lines := []string{
		`{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]}`,
		`# a comment`,
		``,
		`{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"2","px":"1","sz":"1","side":"buy","ts":"2"}]}`,
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, loop := range []bool{false, true} {
		s := start(t, Options{Rate: 1000, Exchanges: []string{"okx"}, Replay: map[string][]string{"okx": {file}}, ReplayLoop: loop})
		c := dial(t, s, "okx", "/ws/v5/public")
		c.send(`{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}`)
		c.expect(5*time.Second, `"event":"subscribe"`)
		want := []string{lines[0], lines[3]}
		if loop {
			want = append(want, lines[0], lines[3], lines[0])
		}
		for _, w := range want {
			if m := c.next(5 * time.Second); string(m.data) != w {
				t.Fatalf("loop=%v: got %s, want %s", loop, m.data, w)
			}
		}
	}
	if _, err := New(Options{Replay: map[string][]string{"okx": {filepath.Join(dir, "missing")}}}, nil); err == nil {
		t.Error("New accepted a missing replay file")
	}
}

// TestThroughputBounded: a bounded load run stops by itself (MaxEvents) and sustains at
// least a few thousand messages per second on one connection. Rates are measured by
// BenchmarkServerThroughput, not asserted here.
func TestThroughputBounded(t *testing.T) {
	const maxEvents = 10000
	s := start(t, Options{Seed: 1, Rate: 5000, MaxEvents: maxEvents, Exchanges: []string{"binance"}})
	c := binanceDepth(t, s, "btcusdt@depth@100ms", "btcusdt@bookTicker", "btcusdt@trade",
		"ethusdt@depth@100ms", "ethusdt@bookTicker", "ethusdt@trade")
	begin := time.Now()
	n := 0
	testkit.Poll(t, 20*time.Second, "MaxEvents", func() bool {
		for {
			select {
			case m := <-c.msgs:
				if m.err != nil {
					t.Fatal(m.err)
				}
				n++
				continue
			default:
			}
			return s.Stats().Events == maxEvents && s.Stats().Total.Frames == uint64(n)
		}
	})
	rate := float64(n) / time.Since(begin).Seconds()
	t.Logf("%d frames for %d events in %v: %.0f msgs/s", n, maxEvents, time.Since(begin), rate)
	if rate < 2000 {
		t.Errorf("only %.0f msgs/s", rate)
	}
}

func TestRunDurationAndClose(t *testing.T) {
	s, err := New(Options{Duration: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	c := dial(t, s, "okx", "/ws/v5/public")
	c.send("ping")
	c.expect(5*time.Second, "pong")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Duration")
	}
	c.until(5*time.Second, func(m msg) bool { return m.err != nil }) // closed by Run
	// Close without Start, twice.
	s2, err := New(Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Depth: 1}, nil); !errors.Is(err, ErrOptions) {
		t.Errorf("Depth 1: %v", err)
	}
	if _, err := New(Options{Exchanges: []string{"nope"}}, nil); !errors.Is(err, ErrOptions) {
		t.Errorf("unknown exchange: %v", err)
	}
}

func TestMain_(t *testing.T) {
	var out, errb testkit.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := Main(ctx, []string{"--listen", "127.0.0.1:0", "--seed", "3", "--rate", "50", "--duration", "50ms",
		"--exchanges", "binance,okx", "--fault", "okx:gap=5", "--max-events", "10"}, &out, &errb)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "serving 2 exchanges on 127.0.0.1:") {
		t.Errorf("stdout: %s", out.String())
	}
	if err := Main(ctx, []string{"--fault", "okx"}, &out, &errb); err == nil {
		t.Error("bad --fault accepted")
	}
	if err := Main(ctx, []string{"--replay", "okx"}, &out, &errb); err == nil {
		t.Error("bad --replay accepted")
	}
}

// TestBinanceURLStreams: streams named in the URL need no SUBSCRIBE; raw streams have no
// envelope.
func TestBinanceURLStreams(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"}})
	c := dial(t, s, "binance", "/stream?streams=btcusdt@trade/ethusdt@depth5@100ms")
	c.expect(5*time.Second, `{"stream":"btcusdt@trade","data":{"e":"trade"`)
	c.expect(5*time.Second, `{"stream":"ethusdt@depth5@100ms","data":{"lastUpdateId"`)
	raw := dial(t, s, "binance", "/ws/btcusdt@bookTicker")
	if m := raw.next(5 * time.Second); !bytes.HasPrefix(m.data, []byte(`{"u":`)) {
		t.Fatalf("raw stream frame %s", m.data)
	}
}
