package okx

import (
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// TestSeqMapping checks what the JSON form does not show: SeqFirst, FlagNoSeq and
// FlagSeqReset, for the chaining rule of the package doc (SeqFirst = prevSeqId+1,
// Seq = seqId; an update with seqId < prevSeqId starts a new epoch).
func TestSeqMapping(t *testing.T) {
	const pre = `{"arg":{"channel":"books","instId":"BTC-USDT"},`
	adaptertest.SeqMapping(t, New(), []adaptertest.Seq{
		{Frame: pre + `"action":"snapshot","data":[{"asks":[],"bids":[],"ts":"1597026383085","prevSeqId":-1,"seqId":100}]}`, Seq: 100, Kind: wire.KindBookSnapshot},
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[["1","1"]],"ts":"1597026383085","prevSeqId":100,"seqId":107}]}`, SeqFirst: 101, Seq: 107, Kind: wire.KindBookDelta, ContinuesPrev: true},
		// no change: seqId == prevSeqId
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026383085","prevSeqId":107,"seqId":107}]}`, SeqFirst: 108, Seq: 107, Kind: wire.KindBookDelta, ContinuesPrev: true},
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[["1","2"]],"ts":"1597026383085","prevSeqId":107,"seqId":110}]}`, SeqFirst: 108, Seq: 110, Kind: wire.KindBookDelta, ContinuesPrev: true},
		// maintenance reset: seqId < prevSeqId
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[["1","3"]],"ts":"1597026383085","prevSeqId":110,"seqId":3}]}`, SeqFirst: 111, Seq: 3, Reset: true, Kind: wire.KindBookDelta, ContinuesPrev: true},
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[["1","4"]],"ts":"1597026383085","prevSeqId":3,"seqId":9}]}`, SeqFirst: 4, Seq: 9, Kind: wire.KindBookDelta, ContinuesPrev: true},
		// 2022 format, no seqId: FlagNoSeq, Seq = ts in ms
		{Frame: pre + `"action":"update","data":[{"asks":[],"bids":[["1","4"]],"ts":"1652459225453","checksum":-652563973}]}`, Seq: 1652459225453, NoSeq: true, Kind: wire.KindBookDelta},
		{Frame: `{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","last":"1","lastSz":"2","bidPx":"1","bidSz":"1","askPx":"2","askSz":"1","ts":"1652459224956"}]}`, Seq: 1652459224956, NoSeq: true, Kind: wire.KindBBO},
		{Frame: `{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["2","1","0","1"]],"bids":[["1","1","0","1"]],"ts":"1749044565306","seqId":55729075884}]}`, Seq: 55729075884, Kind: wire.KindBBO},
	})
}

func TestPlan(t *testing.T) {
	a := New()
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	subs := []adapter.Sub{{Symbol: "BTC-USDT", Channels: append(all, adapter.ChanTicker)}}
	for i := 0; i < 150; i++ { // 4 + 150 × 3 = 454 args: two connections of ≤ 300
		subs = append(subs, adapter.Sub{Symbol: "S" + strings.Repeat("X", i%7) + "-USDT", Channels: all, Depth: 5 * (i % 2)})
	}
	type request struct {
		Op   string
		Args []struct {
			Channel string
			InstID  string `json:"instId"`
		}
	}
	plans := adaptertest.PlanSplit(t, a, "wss://ws.okx.com:8443/ws/v5/public", subs, adaptertest.Split{Conns: 2, Symbols: 151, Subs: 454},
		func(_ adapter.ConnPlan, req *request) (int, bool) {
			return len(req.Args), req.Op == "subscribe" && len(req.Args) > 0 && len(req.Args) <= maxArgsPerFrame
		})
	want := `{"op":"subscribe","args":[{"channel":"bbo-tbt","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"books","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"S-USDT"}`
	if !strings.HasPrefix(string(plans[0].Subscribe[0]), want) {
		t.Fatalf("first frame %s", plans[0].Subscribe[0])
	}
	if !strings.Contains(string(plans[0].Subscribe[0]), `{"channel":"books5","instId":"SX-USDT"}`) {
		t.Fatalf("depth 5 did not pick books5: %s", plans[0].Subscribe[0])
	}
	re := a.Resubscribe(adapter.Sub{Symbol: "BTC-USDT", Channels: all})
	if len(re) != 2 || string(re[0]) != `{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}` ||
		string(re[1]) != `{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}` {
		t.Fatalf("resubscribe %q", re)
	}
	if k, p := a.Ping(); k != adapter.PingText || string(p) != "ping" {
		t.Fatalf("ping %d %q", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","last":"1","lastSz":"2","bidPx":"1","bidSz":"1","askPx":"2","askSz":"1","ts":"1652459224956"}]}`, `1652459224956`, `1652459224957`},
	})
}

// TestFastPushTaken: trades and books-update pushes as OKX writes them take the fast path
// (FuzzSame alone would pass with a fast path that never matched).
func TestFastPushTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastPush, map[string]int{
		`{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"15751210","px":"65020","sz":"0.03935","side":"sell","ts":"1796247292928","count":"1"}]}`:                                                                                    1,
		`{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1796247292928","count":"1"},{"instId":"BTC-USDT","tradeId":"2","px":"1","sz":"1","side":"sell","ts":"1796247292928","count":"1"}]}`: 2,
		`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[["8476.97","300","0","13"]],"ts":"1597026383185","prevSeqId":123456,"seqId":123460}]}`:                                                           1,
		`{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026383285","prevSeqId":123460,"seqId":123460}]}`:                                                                                                            1,
	})
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastBBO) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastBBO, map[string]int{
		`{"arg":{"channel":"bbo-tbt","instId":"ETH-USDT"},"data":[{"asks":[["2000.01","1.5","0","2"]],"bids":[["2000","3","0","4"]],"ts":"1749044565306","seqId":123}]}`: 1,
	})
}
