package binance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// TestSnapshotSample parses the REST snapshot sample, which no case of the stream can
// name (the gateway's TestAdapters leaves it to this test).
func TestSnapshotSample(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(adaptertest.SamplesDir, "depthSnapshot-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out adapter.Batch
	if err := New().NewParser().ParseSnapshot(body, "nknusdt", 1, &out); err != nil {
		t.Fatal(err)
	}
	r := out.At(0)
	if out.Len() != 1 || r.Kind != wire.KindBookSnapshot || r.Seq != 499869752 || r.Instrument.String() != "NKN-USDT" {
		t.Fatalf("snapshot record %+v", r)
	}
	// The sample holds 609 bids and 1000 asks, best first.
	if len(r.Bids) != 609 || len(r.Asks) != 1000 || r.Bids[0].Price.String() != "0.35210000" || r.Bids[0].Size.String() != "672.00000000" {
		t.Fatalf("levels: %d bids (%v), %d asks", len(r.Bids), r.Bids[0], len(r.Asks))
	}
	if r.Asks[0].Price.Cmp(r.Bids[0].Price) <= 0 {
		t.Fatalf("sample book crossed: ask %s <= bid %s", r.Asks[0].Price, r.Bids[0].Price)
	}
}

func TestSnapshotMalformed(t *testing.T) {
	p := New().NewParser()
	var out adapter.Batch
	for _, body := range []string{`{`, `{"lastUpdateId":"x","bids":[],"asks":[]}`, `{"lastUpdateId":1,"bids":[["1"]],"asks":[]}`} {
		if err := p.ParseSnapshot([]byte(body), "BTCUSDT", 1, &out); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
	if out.Len() != 0 {
		t.Errorf("failed snapshots left %d records", out.Len())
	}
}

func TestPlan(t *testing.T) {
	a := New()
	subs := []adapter.Sub{{Symbol: "BTCUSDT", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}}}
	for i := 0; i < 400; i++ { // 1 + 400 symbols × 3 streams = 1203 streams: two connections
		subs = append(subs, adapter.Sub{Symbol: "S" + strings.Repeat("X", i%5) + "USDT", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}})
	}
	plans, err := a.Plan("wss://example/stream", subs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 {
		t.Fatalf("%d connections, want 2", len(plans))
	}
	total := 0
	for _, p := range plans {
		n := 0
		for _, f := range p.Subscribe {
			n += strings.Count(string(f), "@")
		}
		if n/1 > 3*1024 || n > 2*1024 { // depth streams carry two '@'
			t.Errorf("connection with %d '@' marks exceeds the 1024-stream limit", n)
		}
		total += len(p.Symbols)
	}
	if total != 401 {
		t.Fatalf("%d symbols planned, want 401", total)
	}
	if !strings.Contains(string(plans[0].Subscribe[0]), `"btcusdt@bookTicker","btcusdt@trade","btcusdt@depth@100ms"`) {
		t.Fatalf("first frame %s", plans[0].Subscribe[0])
	}
	if _, err := a.Plan("wss://x", []adapter.Sub{{Symbol: "BTCUSDT", Channels: []adapter.Channel{adapter.ChanTicker}}}); err == nil {
		t.Fatal("ticker channel accepted")
	}
	if got := a.SnapshotURL("http://127.0.0.1:1/binance/", "btcusdt", 0); got != "http://127.0.0.1:1/binance/api/v3/depth?symbol=BTCUSDT&limit=1000" {
		t.Fatalf("snapshot URL %s", got)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastStreamTaken: trade and depthUpdate frames as Binance writes them take the fast
// path (FuzzSame alone would pass with a fast path that never matched).
func TestFastStreamTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastStream, map[string]int{
		`{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}`:                              1,
		`{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":false,"M":true}}`:                             1,
		`{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0.00000000"]]}}`: 1,
		`{"stream":"bnbbtc@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[],"a":[]}}`:                                                        1,
	})
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastBookTicker) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastBookTicker, map[string]int{
		`{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}`: 1,
	})
}
