package gateio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
)

// TestSeqMapping checks what the JSON form does not show: SeqFirst, FlagNoSeq and the
// tickers' content key. The two sample keys were computed independently (python: FNV-1a
// 64 over the documented fields, each followed by a zero byte).
func TestSeqMapping(t *testing.T) {
	rows := []adaptertest.Seq{
		{Frame: `{"time":1631836142,"channel":"spot.order_book_update","event":"update","result":{"t":1631836142325,"e":"depthUpdate","E":1631836142,"s":"BTC_USDT","U":4622074361,"u":4622074364,"b":[],"a":[]}}`, SeqFirst: 4622074361, Seq: 4622074364},
		{Frame: `{"time":1654029559,"channel":"spot.book_ticker","event":"update","result":{"t":1654029559473,"u":6765708346,"s":"BTC_USDT","b":"1","B":"1","a":"2","A":"1"}}`, Seq: 6765708346},
		{Frame: `{"time":1631824310,"channel":"spot.trades","event":"update","result":{"id":1638417041,"create_time":1631824310,"create_time_ms":"1631824310261.896","side":"buy","currency_pair":"BTC_USDT","amount":"1","price":"1"}}`, Seq: 1638417041},
	}
	for i, seq := range map[int]uint64{1: 3696250954061259896, 2: 13346846478540043047} {
		b, err := os.ReadFile(filepath.Join(adaptertest.SamplesDir, fmt.Sprintf("spot.tickers-%d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, adaptertest.Seq{Frame: string(b), Seq: seq, NoSeq: true})
	}
	adaptertest.SeqMapping(t, New(), rows)
	// The key depends on content only: the same ticker at another envelope time keeps it.
	a := `{"time":1619093533,"channel":"spot.tickers","event":"update","result":{"currency_pair":"NEO_BTC","last":"0.0018716"}}`
	b := strings.Replace(a, "1619093533", "1619093534", 1)
	c := strings.Replace(a, "0.0018716", "0.0018717", 1)
	key := func(f string) uint64 {
		var out adapter.Batch
		if _, err := New().NewParser().Parse([]byte(f), 1, &out); err != nil {
			t.Fatal(err)
		}
		return out.At(0).Seq
	}
	if key(a) != key(b) || key(a) == key(c) {
		t.Fatalf("ticker keys: %d %d %d", key(a), key(b), key(c))
	}
}

// The REST body as Gate documents it (GET /spot/order_book, with_id=true).
const restBody = `{"id":123456,"current":1623898993123,"update":1623898993121,"asks":[["1.52","1.151"],["1.53","1.218"]],"bids":[["1.17","201.863"],["1.16","725.464"]]}`

func TestSnapshot(t *testing.T) {
	var out adapter.Batch
	if err := New().NewParser().ParseSnapshot([]byte(restBody), "BTC_USDT", 1, &out); err != nil {
		t.Fatal(err)
	}
	got := string(adapter.AppendJSON(nil, out.At(0)))
	want := `{"exchange":"gateio","symbol":"BTC_USDT","instrument":"BTC-USDT","kind":"book_snapshot","ts_exchange_ns":1623898993121000000,"seq":"123456","bids":[["1.17","201.863"],["1.16","725.464"]],"asks":[["1.52","1.151"],["1.53","1.218"]]}`
	if out.Len() != 1 || got != want {
		t.Fatalf("snapshot\n got %s\nwant %s", got, want)
	}
}

func TestSnapshotMalformed(t *testing.T) {
	p := New().NewParser()
	var out adapter.Batch
	for _, body := range []string{`{`, `[]`, `{"current":1623898993123,"asks":[],"bids":[]}`, `{"id":"x","asks":[],"bids":[]}`,
		`{"id":1,"asks":[["1"]],"bids":[]}`, `{"id":1,"update":5,"asks":[],"bids":[]}`, `{"label":"INVALID_CURRENCY","message":"Invalid currency"}`} {
		if err := p.ParseSnapshot([]byte(body), "BTC_USDT", 1, &out); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
	if err := p.ParseSnapshot([]byte(restBody), "BTCUSDT", 1, &out); err == nil {
		t.Error("symbol without _ accepted")
	}
	if out.Len() != 0 {
		t.Errorf("failed snapshots left %d records", out.Len())
	}
}

func TestPlan(t *testing.T) {
	a := New()
	a.now = func() time.Time { return time.Unix(1619093532, 0) }
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	subs := []adapter.Sub{{Symbol: "BTC_USDT", Channels: append(all, adapter.ChanTicker)}}
	for i := 0; i < 150; i++ { // 4 + 150 × 3 = 454 topics: two connections of ≤ 300
		subs = append(subs, adapter.Sub{Symbol: fmt.Sprintf("S%d_USDT", i), Channels: all})
	}
	type request struct {
		Time    int64
		Channel string
		Event   string
		Payload []string
	}
	plans := adaptertest.PlanSplit(t, a, "wss://api.gateio.ws/ws/v4/", subs, adaptertest.Split{Conns: 2, Symbols: 151, Subs: 454},
		func(_ adapter.ConnPlan, req *request) (int, bool) {
			if req.Time != 1619093532 || req.Event != "subscribe" || len(req.Payload) == 0 || len(req.Payload) > maxPairsPerFrame {
				return 0, false
			}
			if req.Channel == chBook { // one pair per frame, with its interval
				return 1, len(req.Payload) == 2 && req.Payload[1] == "100ms"
			}
			return len(req.Payload), true
		})
	if got := string(plans[0].Subscribe[0]); !strings.HasPrefix(got, `{"time":1619093532,"channel":"spot.book_ticker","event":"subscribe","payload":["BTC_USDT","S0_USDT",`) {
		t.Fatalf("first frame %s", got)
	}
	last := plans[0].Subscribe[len(plans[0].Subscribe)-1]
	if !strings.HasPrefix(string(last), `{"time":1619093532,"channel":"spot.order_book_update","event":"subscribe","payload":["S`) {
		t.Fatalf("last frame %s", last)
	}
	if k, p := a.Ping(); k != adapter.PingText || string(p) != `{"time":1619093532,"channel":"spot.ping"}` {
		t.Fatalf("ping %d %s", k, p)
	}
	if got := a.SnapshotURL("https://api.gateio.ws/", "btc_usdt", 0); got != "https://api.gateio.ws/api/v4/spot/order_book?currency_pair=BTC_USDT&limit=100&with_id=true" {
		t.Fatalf("snapshot URL %s", got)
	}
	if a.Resubscribe(subs[0]) != nil {
		t.Fatal("books resync from REST")
	}
	if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: "BTC_USDT", Channels: []adapter.Channel{9}}}); err == nil {
		t.Fatal("unknown channel accepted")
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastUpdateTaken: trades and order-book updates as Gate writes them take the fast
// path (FuzzSame alone would pass with a fast path that never matched).
func TestFastUpdateTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastUpdate, map[string]int{
		`{"time":1796247292,"time_ms":1796247292928,"channel":"spot.order_book_update","event":"update","result":{"t":1796247292928,"e":"depthUpdate","E":1796247292,"s":"BTC_USDT","U":1560805066,"u":1560805066,"b":[["64941","0.277846"]],"a":[]}}`:                                           1,
		`{"time":1796247292,"time_ms":1796247292928,"channel":"spot.trades","event":"update","result":{"id":16819397,"create_time":1796247292,"create_time_ms":"1796247292928.3","side":"sell","currency_pair":"BTC_USDT","amount":"0.116677","price":"64953","range":"1560805070-1560805070"}}`: 1,
	})
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastBookTicker) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastBookTicker, map[string]int{
		`{"time":1606292218,"time_ms":1606292218231,"channel":"spot.book_ticker","event":"update","result":{"t":1606292218213,"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}`: 1,
	})
}
