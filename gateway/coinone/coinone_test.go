package coinone

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
)

func TestPlan(t *testing.T) {
	a := New()
	plans, err := a.Plan("wss://stream.coinone.co.kr", []adapter.Sub{
		{Symbol: "BTC-KRW", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}},
		{Symbol: "xrp-krw", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTicker}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"request_type":"SUBSCRIBE","channel":"TICKER","topic":{"quote_currency":"KRW","target_currency":"BTC"}}`,
		`{"request_type":"SUBSCRIBE","channel":"TRADE","topic":{"quote_currency":"KRW","target_currency":"BTC"}}`,
		`{"request_type":"SUBSCRIBE","channel":"ORDERBOOK","topic":{"quote_currency":"KRW","target_currency":"BTC"}}`,
		`{"request_type":"SUBSCRIBE","channel":"TICKER","topic":{"quote_currency":"KRW","target_currency":"XRP"}}`,
	}
	if len(plans) != 1 || len(plans[0].Subscribe) != len(want) || len(plans[0].Symbols) != 2 {
		t.Fatalf("plans %+v", plans)
	}
	for i, f := range plans[0].Subscribe {
		if string(f) != want[i] {
			t.Errorf("frame %d\n got %s\nwant %s", i, f, want[i])
		}
	}
	for _, bad := range []string{"KRW", "XRP_KRW", "XRP-KRW-X"} {
		if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: bad, Channels: []adapter.Channel{adapter.ChanTrade}}}); err == nil {
			t.Errorf("symbol %q accepted", bad)
		}
	}
	if k, p := a.Ping(); k != adapter.PingText || string(p) != `{"request_type":"PING"}` {
		t.Fatalf("ping %v %s", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

// FuzzSame: the fast path (fast) gives what the fastjson path gives.
func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastTaken: trade, orderbook and ticker messages as Coinone documents them take the
// fast path (FuzzSame alone would pass with a fast path that never matched).
func TestFastTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fast, map[string]int{
		`{"response_type":"DATA","channel":"TRADE","data":{"quote_currency":"KRW","target_currency":"XRP","id":"1693560450996001","timestamp":1693560450996,"price":"688.3","qty":"5000","is_seller_maker":true}}`:                                                                                                                                       1,
		`{"response_type":"DATA","channel":"TRADE","data":{"quote_currency":"KRW","target_currency":"XRP","id":"1693560450996001","timestamp":1693560450996,"price":"688.3","qty":"5000","is_seller_maker":false}}`:                                                                                                                                      1,
		`{"response_type":"DATA","channel":"ORDERBOOK","data":{"quote_currency":"KRW","target_currency":"XRP","timestamp":1693560155038,"id":"1693560155038001","asks":[{"price":"695.5","qty":"5000"},{"price":"692.1","qty":"15000"},{"price":"690.9","qty":"118063.7475"}],"bids":[{"price":"688.3","qty":"1000"},{"price":"688.2","qty":"250.5"}]}}`: 1,
		`{"response_type":"DATA","channel":"TICKER","data":{"quote_currency":"KRW","target_currency":"BTC","timestamp":1790133796484,"quote_volume":"30947007404.5912","target_volume":"267.27610034","high":"116470000","low":"115570000","first":"115650000","last":"116380000","volume_power":"0","ask_best_price":"116400000","ask_best_qty":"0.00562817","bid_best_price":"116370000","bid_best_qty":"8.60554308","id":"1790133796484001","yesterday_high":"117140000","yesterday_low":"114430000","yesterday_first":"117130000","yesterday_last":"115640000","yesterday_quote_volume":"57912858642.8004","yesterday_target_volume":"504.17975762"}}`: 1,
	})
}
