package tap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

func trade(gw uint16, gwSeq, id uint64) []byte {
	r := wire.Record{Kind: wire.KindTrade, Exchange: wire.OKX, GatewayID: gw, GatewaySeq: gwSeq,
		TsExchange: 1_700_000_000_000_000_000 + int64(id)*1e6, TsRecv: time.Now().UnixNano(), Seq: id, Side: wire.SideBuy}
	_ = r.Instrument.SetString("BTC-USDT")
	_ = r.Symbol.SetString(`BTC"USDT`) // a quote in a symbol must come out escaped
	r.Price, _ = wire.ParseDecimalString("65000.10")
	r.Size, _ = wire.ParseDecimalString("0.5")
	b, err := wire.AppendRecord(nil, &r)
	if err != nil {
		panic(err)
	}
	return b
}

// TestTapDeliversEachEventOnce: two lines carry overlapping copies of the same trades; the
// tap prints each trade exactly once, with the line and gateway it came from, as valid JSON
// in normalize's schema.
func TestTapDeliversEachEventOnce(t *testing.T) {
	var pubs []*bus.Publisher
	topo := &config.Topology{Bus: config.Bus{MaxMessageBytes: 1 << 20}}
	for i := 0; i < 2; i++ {
		p, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		pubs = append(pubs, p)
		topo.Gateways = append(topo.Gateways, config.Gateway{ID: "gw-" + strconv.Itoa(i+1), Num: uint16(i + 1), Publish: p.Endpoint()})
	}
	out := &testkit.SyncBuffer{}
	tp, err := New(topo, Options{Out: out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tp.Run(ctx) }()
	testkit.Poll(t, 10*time.Second, "both lines subscribed", func() bool {
		for _, p := range pubs {
			if n := p.Stats(); len(n) == 0 || len(n[0].Subscriptions) == 0 {
				return false
			}
		}
		return true
	})
	// line 0 carries 1..60, line 1 carries 40..100: 100 distinct trades.
	for id := uint64(1); id <= 100; id++ {
		if id <= 60 {
			pubs[0].Publish([]byte("t"), trade(1, id, id))
		}
		if id >= 40 {
			pubs[1].Publish([]byte("t"), trade(2, id-39, id))
		}
	}
	testkit.Poll(t, 10*time.Second, "100 records", func() bool { return tp.Stats.Received.Load() >= 121 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range out.Lines() {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %s: %v", l, err)
		}
		if m["symbol"] != `BTC"USDT` || m["kind"] != "trade" || m["price"] != "65000.10" || m["side"] != "buy" {
			t.Errorf("line %s", l)
		}
		id := m["trade_id"].(string)
		seen[id]++
		n, _ := strconv.Atoi(id)
		line, gw := m["line"].(float64), m["gateway_id"].(string)
		if n < 40 && (line != 0 || gw != "gw-1") || n > 60 && (line != 1 || gw != "gw-2") {
			t.Errorf("trade %d from line %v gateway %s", n, line, gw)
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct trades printed, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("trade %s printed %d times", id, n)
		}
	}
}

func TestTapOptions(t *testing.T) {
	topo := &config.Topology{Gateways: []config.Gateway{{ID: "a", Num: 1, Publish: "tcp://127.0.0.1:1"}}}
	if _, err := New(topo, Options{}, nil); !errors.Is(err, ErrNoOutput) {
		t.Errorf("no output: %v", err)
	}
	if _, err := New(topo, Options{Out: &bytes.Buffer{}, Gateways: []string{"b"}}, nil); err == nil {
		t.Error("unknown gateway accepted")
	}
	if _, err := New(topo, Options{Out: &bytes.Buffer{}, Gateways: []string{"a", "a"}}, nil); err == nil {
		t.Error("gateway listed twice accepted")
	}
}

func TestAppendJSONZeroAlloc(t *testing.T) {
	var r wire.Record
	if _, err := wire.DecodeRecord(trade(1, 1, 1), &r); err != nil {
		t.Fatal(err)
	}
	r.Flags = wire.FlagNoSeq | wire.FlagRefresh
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], &r, "gw-1", 0) }); n != 0 {
		t.Errorf("AppendJSON allocates %v per record", n)
	}
	var m map[string]any
	if err := json.Unmarshal(buf, &m); err != nil {
		t.Fatalf("%s: %v", buf, err)
	}
	if f := m["flags"].([]any); len(f) != 2 || f[0] != "no_seq" || f[1] != "refresh" {
		t.Errorf("flags %v", f)
	}
	if _, ok := m["trade_id"]; ok {
		t.Errorf("trade_id printed for a FlagNoSeq trade: %s", buf)
	}
}
