package korbit

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

func TestContentKeys(t *testing.T) {
	p := New().NewParser()
	var out adapter.Batch
	if _, err := p.Parse([]byte(`{"symbol":"btc_krw","timestamp":1790134243081,"type":"orderbook","data":{"timestamp":1790134243067,"asks":[{"price":"3","qty":"4"}],"bids":[{"price":"1","qty":"2"}]}}`), 1, &out); err != nil {
		t.Fatal(err)
	}
	if r := out.At(0); r.Flags&wire.FlagNoSeq == 0 || r.Seq != adaptertest.ContentKey("btc_krw", "1790134243067", "1", "2", "3", "4") {
		t.Fatalf("book key %x flags %b", r.Seq, r.Flags)
	}
	out.Reset()
	if _, err := p.Parse([]byte(`{"symbol":"btc_krw","timestamp":1790134313071,"type":"ticker","data":{"close":"116463000","bestAskPrice":"1","bestBidPrice":"2"}}`), 1, &out); err != nil {
		t.Fatal(err)
	}
	if r := out.At(0); r.Seq != adaptertest.ContentKey("btc_krw", "1790134313071", "116463000") {
		t.Fatalf("ticker key %x", r.Seq)
	}
}

func TestPlan(t *testing.T) {
	a := New()
	plans, err := a.Plan("wss://ws-api.korbit.co.kr/v2/public", []adapter.Sub{
		{Symbol: "btc_krw", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}},
		{Symbol: "ETH_KRW", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTicker}},
		{Symbol: "xrp_krw", Channels: []adapter.Channel{adapter.ChanTrade}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"requestId":1,"method":"subscribe","type":"orderbook","symbols":["btc_krw","eth_krw"]},{"requestId":2,"method":"subscribe","type":"trade","symbols":["btc_krw","xrp_krw"]},{"requestId":3,"method":"subscribe","type":"ticker","symbols":["eth_krw"]}]`
	if len(plans) != 1 || len(plans[0].Subscribe) != 1 || string(plans[0].Subscribe[0]) != want || len(plans[0].Symbols) != 3 {
		t.Fatalf("plans %+v\nwant %s", plans, want)
	}
	if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: "BTC-KRW", Channels: []adapter.Channel{adapter.ChanTrade}}}); err == nil {
		t.Fatal("bad symbol accepted")
	}
	if k, _ := a.Ping(); k != adapter.PingNone {
		t.Fatal("korbit's server pings")
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"symbol":"btc_krw","timestamp":1790134243081,"type":"orderbook","data":{"timestamp":1790134243067,"asks":[{"price":"116506000","qty":"0.27522"}],"bids":[{"price":"116455000","qty":"0.00499"}]}}`, `1790134243067`, `1790134243068`},
		{`{"symbol":"btc_krw","timestamp":1790134313071,"type":"ticker","data":{"open":"115370000","high":"116765000","low":"114412000","close":"116463000","prevClose":"115304000","bestAskPrice":"116477000","bestBidPrice":"116463000","lastTradedAt":1790134313000}}`, `1790134313071`, `1790134313072`},
	})
}

// FuzzSame: the fast path (fastBook) gives what the fastjson path gives.
func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastBookTaken: orderbook pushes as Korbit writes them take the fast path (FuzzSame
// alone would pass with a fast path that never matched).
func TestFastBookTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastBook, map[string]int{
		`{"symbol":"btc_krw","timestamp":1790134243081,"type":"orderbook","snapshot":false,"data":{"timestamp":1790134243067,"asks":[{"price":"116506000","qty":"0.27522"},{"price":"116507000","qty":"0.0321"}],"bids":[{"price":"116455000","qty":"0.00499"}]}}`: 1,
		`{"symbol":"klay_krw","timestamp":1790134242857,"type":"orderbook","snapshot":true,"data":{"timestamp":1789456789897,"asks":[],"bids":[]}}`:                                                                                                                1,
	})
}
