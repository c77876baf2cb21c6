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
