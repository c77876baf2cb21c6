package upbit

import (
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

func TestContentKey(t *testing.T) {
	p := New().NewParser()
	def := adaptertest.ParseOne(t, p, `{"type":"orderbook","code":"KRW-BTC","timestamp":1704867306396,"orderbook_units":[{"ask_price":52418000,"bid_price":52412000,"ask_size":0.2542,"bid_size":0E-8}],"stream_type":"REALTIME"}`)
	simple := adaptertest.ParseOne(t, p, `{"ty":"orderbook","cd":"KRW-BTC","tms":1704867306396,"obu":[{"ap":52418000,"bp":52412000,"as":0.2542,"bs":0E-8}],"st":"SNAPSHOT"}`)
	want := adaptertest.ContentKey("KRW-BTC", "1704867306396", "52418000", "0.2542", "52412000", "0E-8")
	if def.Flags&wire.FlagNoSeq == 0 || def.Seq != want || simple.Seq != want {
		t.Fatalf("content keys %x (DEFAULT) %x (SIMPLE), want %x with FlagNoSeq", def.Seq, simple.Seq, want)
	}
	other := adaptertest.ParseOne(t, p, `{"type":"orderbook","code":"KRW-BTC","timestamp":1704867306396,"orderbook_units":[{"ask_price":52418000,"bid_price":52412000,"ask_size":0.2543,"bid_size":0E-8}]}`)
	if other.Seq == want {
		t.Fatal("a different book got the same content key")
	}
	tk := adaptertest.ParseOne(t, p, `{"type":"ticker","code":"KRW-BTC","trade_price":8629000.0,"trade_volume":0.0105675,"timestamp":1524046049766}`)
	if tk.Flags&wire.FlagNoSeq == 0 || tk.Seq != adaptertest.ContentKey("KRW-BTC", "1524046049766", "8629000.0", "0.0105675") {
		t.Fatalf("ticker key %x", tk.Seq)
	}
	tr := adaptertest.ParseOne(t, p, `{"type":"trade","code":"KRW-BTC","trade_timestamp":1676965262139,"trade_price":1,"trade_volume":1,"ask_bid":"ASK","sequential_id":77}`)
	if tr.Flags&wire.FlagNoSeq != 0 || tr.Seq != 77 {
		t.Fatalf("trade seq %d flags %b", tr.Seq, tr.Flags)
	}
}

func TestPlan(t *testing.T) {
	a := New()
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	plans, err := a.Plan("wss://api.upbit.com/websocket/v1", []adapter.Sub{
		{Symbol: "KRW-BTC", Channels: all},
		{Symbol: "krw-eth", Channels: all, Depth: 10},
		{Symbol: "KRW-USDT", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade}},
		{Symbol: "KRW-XRP", Channels: []adapter.Channel{adapter.ChanTicker}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || len(plans[0].Subscribe) != 1 || len(plans[0].Symbols) != 4 || plans[0].URL != "wss://api.upbit.com/websocket/v1" {
		t.Fatalf("plans %+v", plans)
	}
	want := `[{"ticket":"tickline-upbit-1"},{"type":"trade","codes":["KRW-BTC","KRW-ETH","KRW-USDT"]},{"type":"orderbook","codes":["KRW-BTC","KRW-ETH.15","KRW-USDT.1"]},{"type":"ticker","codes":["KRW-XRP"]},{"format":"DEFAULT"}]`
	if got := string(plans[0].Subscribe[0]); got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}
	if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: "BTCKRW", Channels: all}}); err == nil || !strings.Contains(err.Error(), "BTCKRW") {
		t.Fatalf("bad symbol accepted: %v", err)
	}
	if k, p := a.Ping(); k != adapter.PingText || string(p) != "PING" {
		t.Fatalf("ping %v %q", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"type":"orderbook","code":"KRW-BTC","timestamp":1704867306396,"total_ask_size":1,"total_bid_size":2,"orderbook_units":[{"ask_price":52418000,"bid_price":52412000,"ask_size":0.2542,"bid_size":1}],"stream_type":"REALTIME"}`, `1704867306396`, `1704867306397`},
		{`{"ty":"orderbook","cd":"KRW-LAMB","tms":1618678262640,"tas":1,"tbs":2,"obu":[{"ap":127.0,"bp":126.0,"as":1.5,"bs":2.5}],"st":"REALTIME"}`, `1618678262640`, `1618678262641`},
		{`{"ty":"ticker","cd":"KRW-ETH","tp":3300000.0,"tv":0.5,"ttms":1524046049000,"tms":1524046049767,"st":"REALTIME"}`, `1524046049767`, `1524046049768`},
	})
}

// FuzzSame: the fast path (upbitapi.Parser.Fast) gives what the fastjson path gives.
func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastTaken: orderbook and trade messages as Upbit writes them take the fast path
// (FuzzSame alone would pass with a fast path that never matched).
func TestFastTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).Fast, map[string]int{
		`{"type":"orderbook","code":"KRW-BTC","timestamp":1704867306396,"total_ask_size":7.3265964,"total_bid_size":29.08127282,"orderbook_units":[{"ask_price":52418000,"bid_price":52412000,"ask_size":0.2542,"bid_size":0E-8},{"ask_price":0,"bid_price":0,"ask_size":0,"bid_size":0}],"stream_type":"REALTIME","level":0}`:                                                                                                                          1,
		`{"type":"trade","code":"KRW-BTC","timestamp":1796246569756,"trade_date":"2026-12-02","trade_time":"21:22:49","trade_timestamp":1796246569755,"trade_price":91934000.0,"trade_volume":0.080637,"ask_bid":"BID","prev_closing_price":91934000.0,"change":"EVEN","change_price":0.0,"sequential_id":16827315,"best_ask_price":91936000.0,"best_ask_size":0.122593,"best_bid_price":91934000.0,"best_bid_size":0.080637,"stream_type":"REALTIME"}`: 1,
	})
}
