package bybit

import (
	"hash/fnv"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
)

// TestSeqMapping checks what the JSON form does not show: SeqFirst, FlagNoSeq and
// FlagSeqReset (a snapshot with u = 1: Bybit's service-restart snapshot, orderbook.1
// included, on the fast path and the fastjson path alike).
func TestSeqMapping(t *testing.T) {
	adaptertest.SeqMapping(t, New(), []adaptertest.Seq{
		{Frame: `{"topic":"orderbook.50.BTCUSDT","ts":1731035685326,"type":"snapshot","data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":47474967800}}`, Seq: 1, Reset: true},
		{Frame: `{"topic":"orderbook.50.BTCUSDT","ts":1731035685345,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":47474967823}}`, SeqFirst: 1, Seq: 1},
		{Frame: `{"topic":"orderbook.1.BTCUSDT","ts":1748980103101,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":1,"seq":75829523783},"cts":1748980103098}`, Seq: 1, Reset: true},
		{Frame: `{"topic":"orderbook.1.BTCUSDT","ts":1748980103101,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":1}}`, Seq: 1, Reset: true},
		{Frame: `{"topic":"orderbook.1.BTCUSDT","ts":1748980103101,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":2,"seq":75829523783},"cts":1748980103098}`, Seq: 2},
		{Frame: `{"topic":"orderbook.50.BTCUSDT","ts":1731035685326,"type":"snapshot","data":{"s":"BTCUSDT","b":[],"a":[],"u":2876700,"seq":47474967800}}`, Seq: 2876700},
		{Frame: `{"topic":"orderbook.50.BTCUSDT","ts":1731035685345,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[],"u":2876701,"seq":47474967823}}`, SeqFirst: 2876701, Seq: 2876701},
		{Frame: `{"topic":"orderbook.1.BTCUSDT","ts":1680652806504,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":20404754,"seq":4281281856}}`, Seq: 20404754},
		{Frame: `{"topic":"publicTrade.BTCUSDT","ts":1703430744103,"type":"snapshot","data":[{"i":"2290000000090712222","T":1703430744102,"p":"1","v":"1","S":"Sell","s":"BTCUSDT"}]}`, Seq: 2290000000090712222},
		// a UUID trade id: FlagNoSeq, Seq = FNV-1a 64 of its text
		{Frame: `{"topic":"publicTrade.BTCUSDT","ts":1703430744103,"type":"snapshot","data":[{"i":"20f43950-d8dd-5b31-9112-a178eb6023af","T":1703430744102,"p":"1","v":"1","S":"Sell","s":"BTCUSDT","seq":5}]}`, SeqFirst: 5, Seq: fnv64a([]byte("20f43950-d8dd-5b31-9112-a178eb6023af")), NoSeq: true},
		{Frame: `{"topic":"tickers.BTCUSDT","ts":1673853746003,"type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"1"}}`, Seq: 1673853746003, NoSeq: true},
	})
	// FNV-1a 64 reference value ("a" → 0xaf63dc4c8601ec8c).
	if fnv64a([]byte("a")) != 0xaf63dc4c8601ec8c {
		t.Fatalf("fnv64a(a) = %#x", fnv64a([]byte("a")))
	}
}

// fnv64a is FNV-1a 64 of b computed independently of the adapter (hash/fnv).
func fnv64a(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

func TestPlan(t *testing.T) {
	a := New()
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	subs := []adapter.Sub{{Symbol: "BTCUSDT", Channels: append(all, adapter.ChanTicker), Depth: 200}}
	for i := 0; i < 100; i++ { // 4 + 100 × 3 = 304 topics: two connections of ≤ 200
		subs = append(subs, adapter.Sub{Symbol: "S" + strings.Repeat("X", i%7) + "USDT", Channels: all})
	}
	type request struct {
		ReqID string `json:"req_id"`
		Op    string
		Args  []string
	}
	plans := adaptertest.PlanSplit(t, a, "wss://stream.bybit.com/v5/public/spot", subs, adaptertest.Split{Conns: 2, Symbols: 101, Subs: 304},
		func(_ adapter.ConnPlan, req *request) (int, bool) {
			return len(req.Args), req.Op == "subscribe" && req.ReqID != "" && len(req.Args) > 0 && len(req.Args) <= 10
		})
	if got := string(plans[0].Subscribe[0]); got != `{"req_id":"1","op":"subscribe","args":["orderbook.1.BTCUSDT","publicTrade.BTCUSDT","orderbook.200.BTCUSDT","tickers.BTCUSDT","orderbook.1.SUSDT","publicTrade.SUSDT","orderbook.50.SUSDT","orderbook.1.SXUSDT","publicTrade.SXUSDT","orderbook.50.SXUSDT"]}` {
		t.Fatalf("first frame %s", got)
	}
	re := a.Resubscribe(adapter.Sub{Symbol: "BTCUSDT", Channels: all, Depth: 1000})
	if len(re) != 2 || !strings.Contains(string(re[0]), `"op":"unsubscribe","args":["orderbook.1000.BTCUSDT"]`) ||
		!strings.Contains(string(re[1]), `"op":"subscribe","args":["orderbook.1000.BTCUSDT"]`) {
		t.Fatalf("resubscribe %q", re)
	}
	if k, p := a.Ping(); k != adapter.PingText || string(p) != `{"op":"ping"}` {
		t.Fatalf("ping %d %q", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastPushTaken: orderbook and publicTrade pushes as Bybit writes them take the fast
// path (FuzzSame alone would pass with a fast path that never matched).
func TestFastPushTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastPush, map[string]int{
		`{"topic":"orderbook.50.BTCUSDT","ts":1796247292928,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[["65031","0"],["65096","0.104253"]],"u":982773,"seq":1685391764},"cts":1796247292928}`:                                                                                             1,
		`{"topic":"orderbook.50.BTCUSDT","ts":1796247292928,"type":"snapshot","data":{"s":"BTCUSDT","b":[["65030","1"]],"a":[["65031","2"]],"u":1,"seq":1685391764},"cts":1796247292928}`:                                                                                                       1,
		`{"topic":"publicTrade.BTCUSDT","ts":1796247292928,"type":"snapshot","data":[{"T":1796247292928,"s":"BTCUSDT","S":"Buy","v":"0.177861","p":"65031","i":"2290000000013024184","BT":false,"RPI":false,"seq":1685391764}]}`:                                                                1,
		`{"topic":"publicTrade.BTCUSDT","ts":1796247292928,"type":"snapshot","data":[{"T":1796247292928,"s":"BTCUSDT","S":"Sell","v":"1","p":"1","i":"a-b","BT":true,"RPI":false,"seq":1},{"T":1796247292928,"s":"BTCUSDT","S":"Buy","v":"1","p":"1","i":"2","BT":false,"RPI":false,"seq":2}]}`: 2,
	})
	var out adapter.Batch // orderbook.1 is fastBBO's
	if New().NewParser().(*Parser).fastPush([]byte(`{"topic":"orderbook.1.BTCUSDT","ts":1,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":2,"seq":1},"cts":1}`), 1, &out) {
		t.Error("orderbook.1 taken by fastPush")
	}
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastBBO) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastBBO, map[string]int{
		`{"topic":"orderbook.1.ETHUSDT","ts":1748980103101,"type":"snapshot","data":{"s":"ETHUSDT","b":[["2600.5","1.25"]],"a":[["2600.51","0.5"]],"u":7,"seq":75829523783},"cts":1748980103098}`: 1,
	})
}
