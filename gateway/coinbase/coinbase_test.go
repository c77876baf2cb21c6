package coinbase

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// TestLastMatchIsTicker1Trade checks the maker→taker inversion against the recording:
// the samples README notes that ticker-1 (taker side "buy") and last_match (maker side
// "sell") are the same trade 881613. Parse publishes nothing for last_match, so this
// parses its body as a match.
func TestLastMatchIsTicker1Trade(t *testing.T) {
	dir := adaptertest.SamplesDir
	lm, err := os.ReadFile(filepath.Join(dir, "matches-last_match-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := os.ReadFile(filepath.Join(dir, "ticker-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ticker struct {
		TradeID uint64 `json:"trade_id"`
		Side    string `json:"side"`
		Price   string `json:"price"`
		Size    string `json:"last_size"`
		Time    string `json:"time"`
	}
	if err := json.Unmarshal(tk, &ticker); err != nil {
		t.Fatal(err)
	}
	ps := New().NewParser().(*Parser)
	v, err := ps.JSON.ParseBytes(lm)
	if err != nil {
		t.Fatal(err)
	}
	var out adapter.Batch
	if err := ps.match(v, 1, &out); err != nil {
		t.Fatal(err)
	}
	r := out.At(0)
	if r.Seq != ticker.TradeID || r.Side.String() != ticker.Side || r.Price.String() != ticker.Price || r.Size.String() != ticker.Size {
		t.Fatalf("last_match as trade: id %d side %s %s@%s; ticker-1: id %d side %s %s@%s",
			r.Seq, r.Side, r.Size, r.Price, ticker.TradeID, ticker.Side, ticker.Size, ticker.Price)
	}
	if ts, _ := adapter.ISONs([]byte(ticker.Time), 0); r.TsExchange != ts {
		t.Fatalf("time %d, ticker-1 %d", r.TsExchange, ts)
	}
}

// TestContentKey: level2 records carry FlagNoSeq and a key that depends only on content,
// not on the receive time, key order or spacing, and differs when a level differs.
func TestContentKey(t *testing.T) {
	p := New().NewParser()
	parse := func(frame string, recv int64) *wire.Record {
		t.Helper()
		var out adapter.Batch
		if _, err := p.Parse([]byte(frame), recv, &out); err != nil || out.Len() != 1 {
			t.Fatalf("%s: %v (%d records)", frame, err, out.Len())
		}
		r := *out.At(0)
		if r.Flags&wire.FlagNoSeq == 0 || r.SeqFirst != 0 {
			t.Fatalf("%s: flags %b seqFirst %d", frame, r.Flags, r.SeqFirst)
		}
		return &r
	}
	a := parse(`{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80","0.16"],["sell","10102","1"]]}`, 1)
	b := parse(`{ "changes":[["buy","10101.80","0.16"],["sell","10102","1"]], "time":"2019-08-14T20:42:27.265Z", "product_id":"BTC-USD", "type":"l2update"}`, 99)
	if a.Seq != b.Seq {
		t.Fatalf("same content, keys %x and %x", a.Seq, b.Seq)
	}
	for _, f := range []string{
		`{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80","0.17"],["sell","10102","1"]]}`,
		`{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.266Z","changes":[["buy","10101.80","0.16"],["sell","10102","1"]]}`,
		`{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["sell","10101.80","0.16"],["sell","10102","1"]]}`,
		`{"type":"l2update","product_id":"ETH-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80","0.16"],["sell","10102","1"]]}`,
	} {
		if c := parse(f, 1); c.Seq == a.Seq {
			t.Errorf("%s: same key as a different message", f)
		}
	}
	s1 := parse(`{"type":"snapshot","product_id":"BTC-USD","bids":[["1","2"]],"asks":[["3","4"]]}`, 1)
	s2 := parse(`{"type":"snapshot","product_id":"BTC-USD","bids":[["1","2"]],"asks":[["3","5"]]}`, 1)
	if s1.Seq == s2.Seq {
		t.Fatal("different snapshots share a key")
	}
}

func TestPlan(t *testing.T) {
	a := New()
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTicker, adapter.ChanTrade, adapter.ChanBook}
	subs := []adapter.Sub{{Symbol: "BTC-USD", Channels: all}, {Symbol: "ETH-USD", Channels: []adapter.Channel{adapter.ChanTrade}}}
	plans, err := a.Plan("wss://ws-feed.exchange.coinbase.com", subs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || len(plans[0].Subscribe) != 1 || strings.Join(plans[0].Symbols, ",") != "BTC-USD,ETH-USD" {
		t.Fatalf("plans %+v", plans)
	}
	want := `{"type":"subscribe","channels":[{"name":"ticker","product_ids":["BTC-USD"]},{"name":"matches","product_ids":["BTC-USD","ETH-USD"]},{"name":"level2_batch","product_ids":["BTC-USD"]},{"name":"heartbeat","product_ids":["BTC-USD","ETH-USD"]}]}`
	if got := string(plans[0].Subscribe[0]); got != want {
		t.Fatalf("frame\n got %s\nwant %s", got, want)
	}

	// 120 symbols × 3 channels = 360 subscriptions: 4 connections of at most 100.
	subs = subs[:0]
	for i := 0; i < 120; i++ {
		subs = append(subs, adapter.Sub{Symbol: "S" + strings.Repeat("X", i%7) + "-USD", Channels: all})
	}
	// The heartbeat channel, on every product of the connection, is not a subscription.
	adaptertest.PlanSplit(t, a, "wss://x", subs, adaptertest.Split{Conns: 4, Symbols: 120, Subs: 360},
		func(p adapter.ConnPlan, f *subFrame) (int, bool) {
			n := 0
			for _, c := range f.Channels {
				if c.Name != chanHeartbeat {
					n += len(c.ProductIDs)
				} else if len(c.ProductIDs) != len(p.Symbols) {
					return 0, false
				}
			}
			return n, len(p.Subscribe) == 1
		})
	if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: "BTC-USD", Channels: []adapter.Channel{9}}}); err == nil {
		t.Fatal("unknown channel accepted")
	}
}

func TestResubscribe(t *testing.T) {
	a := New()
	if f := a.Resubscribe(adapter.Sub{Symbol: "BTC-USD", Channels: []adapter.Channel{adapter.ChanTrade}}); f != nil {
		t.Fatalf("resubscribe without a book: %s", f)
	}
	f := a.Resubscribe(adapter.Sub{Symbol: "BTC-USD", Channels: []adapter.Channel{adapter.ChanTrade, adapter.ChanBook}})
	if len(f) != 2 ||
		string(f[0]) != `{"type":"unsubscribe","channels":[{"name":"level2_batch","product_ids":["BTC-USD"]}]}` ||
		string(f[1]) != `{"type":"subscribe","channels":[{"name":"level2_batch","product_ids":["BTC-USD"]}]}` {
		t.Fatalf("frames %q", f)
	}
	// The frames are valid JSON the parser's own library reads back.
	for _, b := range f {
		if err := fastjson.ValidateBytes(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSession(t *testing.T) {
	a := New()
	if k, p := a.Ping(); k != adapter.PingNone || p != nil {
		t.Fatalf("ping %v %q", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"type":"l2update","product_id":"BTC-USD","time":"2019-08-14T20:42:27.265Z","changes":[["buy","10101.80000000","0.162567"]]}`, `27.265Z`, `27.266Z`},
	})
}

// TestFastMessageTaken: match and l2update messages as Coinbase writes them take the fast
// path (FuzzSame alone would pass with a fast path that never matched).
func TestFastMessageTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastMessage, map[string]int{
		`{"type":"match","trade_id":19959575,"maker_order_id":"00000000-0000-4000-8000-000039919150","taker_order_id":"00000000-0000-4000-8000-000039919151","side":"buy","size":"0.03075800","price":"64948","product_id":"BTC-USD","sequence":1441910665,"time":"2026-12-02T21:34:52.928317Z"}`: 1,
		`{"type":"l2update","product_id":"BTC-USD","changes":[["buy","64948","0.02520500"],["sell","64950","0"]],"time":"2026-12-02T21:34:52.928317Z"}`:                                                                                                                                           1,
	})
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastTicker) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastTicker, map[string]int{
		`{"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22","open_24h":"1310.79","volume_24h":"245532.79269678","low_24h":"1280.52","high_24h":"1313.8","volume_30d":"9788783.60117027","best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27","best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"11.4396987"}`: 1,
	})
}
