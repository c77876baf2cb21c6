package bithumb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

func parse(t *testing.T, frame string) []wire.Record {
	return adaptertest.ParseAll(t, New().NewParser(), frame)
}

func TestContentKeys(t *testing.T) {
	tx := parse(t, `{"type":"transaction","content":{"list":[{"symbol":"BTC_KRW","buySellGb":"1","contPrice":"10579000","contQty":"0.01","contDtm":"2022-01-25 17:13:46.366317"},{"symbol":"BTC_KRW","buySellGb":"1","contPrice":"10579000","contQty":"0.01","contDtm":"2022-01-25 17:13:46.366317"}]}}`)
	k0 := adaptertest.ContentKey("BTC_KRW", "2022-01-25 17:13:46.366317", "1", "10579000", "0.01", "0")
	k1 := adaptertest.ContentKey("BTC_KRW", "2022-01-25 17:13:46.366317", "1", "10579000", "0.01", "1")
	if len(tx) != 2 || tx[0].Seq != k0 || tx[1].Seq != k1 || tx[0].Flags&wire.FlagNoSeq == 0 {
		t.Fatalf("transaction keys %x %x, want %x %x", tx[0].Seq, tx[1].Seq, k0, k1)
	}
	depth := parse(t, `{"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"ask","price":"1","quantity":"2"},{"symbol":"ETH_KRW","orderType":"bid","price":"3","quantity":"0"}],"datetime":"1628835823604483"}}`)
	msg := []string{"1628835823604483", "BTC_KRW", "ask", "1", "2", "ETH_KRW", "bid", "3", "0"}
	if len(depth) != 2 || depth[0].Seq != adaptertest.ContentKey(append(msg, "BTC_KRW")...) || depth[1].Seq != adaptertest.ContentKey(append(msg, "ETH_KRW")...) {
		t.Fatalf("depth keys %x %x", depth[0].Seq, depth[1].Seq)
	}
	tk := parse(t, `{"type":"ticker","content":{"symbol":"UNI_KRW","tickType":"24H","date":"20210811","time":"132017","closePrice":"34010","volume":"1359398.4"}}`)
	if tk[0].Seq != adaptertest.ContentKey("UNI_KRW", "24H", "20210811", "132017", "34010", "1359398.4") {
		t.Fatalf("ticker key %x", tk[0].Seq)
	}
	// The same new-API book in DEFAULT and SIMPLE keys, SNAPSHOT or REALTIME: one key.
	a := parse(t, `{"type":"orderbook","code":"KRW-BTC","timestamp":1727163842716,"orderbook_units":[{"ask_price":2,"bid_price":1,"ask_size":0.5,"bid_size":3}],"stream_type":"SNAPSHOT"}`)
	b := parse(t, `{"ty":"orderbook","cd":"KRW-BTC","tms":1727163842716,"obu":[{"ap":2,"bp":1,"as":0.5,"bs":3}],"st":"REALTIME"}`)
	if a[0].Seq != b[0].Seq || a[0].Seq != adaptertest.ContentKey("KRW-BTC", "1727163842716", "2", "0.5", "1", "3") {
		t.Fatalf("book keys %x %x", a[0].Seq, b[0].Seq)
	}
}

func TestPlanLegacy(t *testing.T) {
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	plans, err := New().Plan("wss://pubwss.bithumb.com/pub/ws", []adapter.Sub{
		{Symbol: "BTC_KRW", Channels: all},
		{Symbol: "eth_krw", Channels: []adapter.Channel{adapter.ChanTrade, adapter.ChanTicker}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"type":"transaction","symbols":["BTC_KRW","ETH_KRW"]}`,
		`{"type":"orderbooksnapshot","symbols":["BTC_KRW"]}`,
		`{"type":"ticker","symbols":["ETH_KRW"],"tickTypes":["24H"]}`,
	}
	if len(plans) != len(want) {
		t.Fatalf("%d connections, want %d", len(plans), len(want))
	}
	for i, p := range plans {
		if len(p.Subscribe) != 1 || string(p.Subscribe[0]) != want[i] || p.URL != "wss://pubwss.bithumb.com/pub/ws" {
			t.Errorf("connection %d: %s", i, p.Subscribe)
		}
	}
}

func TestPlanV2(t *testing.T) {
	all := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	plans, err := New().Plan("ws://127.0.0.1:18080/bithumb/websocket/v1", []adapter.Sub{
		{Symbol: "BTC_KRW", Channels: all},
		{Symbol: "KRW-ETH", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTicker}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"ticket":"tickline-bithumb-1"},{"type":"trade","codes":["KRW-BTC"]},{"type":"orderbook","codes":["KRW-BTC","KRW-ETH.1"]},{"type":"ticker","codes":["KRW-ETH"]},{"format":"DEFAULT"}]`
	if len(plans) != 1 || len(plans[0].Subscribe) != 1 || string(plans[0].Subscribe[0]) != want || len(plans[0].Symbols) != 2 {
		t.Fatalf("plans %+v\nwant %s", plans, want)
	}
	if _, err := New().Plan("wss://example.com/stream", []adapter.Sub{{Symbol: "BTC_KRW", Channels: all}}); err == nil || !strings.Contains(err.Error(), "/pub/ws") {
		t.Fatalf("unknown endpoint accepted: %v", err)
	}
	if _, err := New().Plan("wss://pubwss.bithumb.com/pub/ws", []adapter.Sub{{Symbol: "BTCKRW", Channels: all}}); err == nil {
		t.Fatal("bad symbol accepted")
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"type":"orderbook","code":"KRW-BTC","timestamp":1727163842716,"total_ask_size":1.2,"total_bid_size":3.4,"orderbook_units":[{"ask_price":87615000,"bid_price":87614000,"ask_size":0.2,"bid_size":3.4}],"stream_type":"REALTIME","level":1}`, `1727163842716`, `1727163842717`},
		{`{"ty":"ticker","cd":"BTC-ETH","tp":0.0401,"tv":1.25,"ttms":1727163842000,"tms":1727163842717,"st":"REALTIME"}`, `1727163842717`, `1727163842718`},
		{`{"type":"transaction","content":{"list":[{"symbol":"BTC_KRW","buySellGb":"1","contPrice":"10579000","contQty":"0.01","contAmt":"105790.00","contDtm":"2022-01-25 17:13:46.366317","updn":"dn"}]}}`, `46.366317`, `46.366318`},
		{`{"type":"orderbooksnapshot","content":{"symbol":"BTC_KRW","datetime":"1643098426366317","asks":[{"price":"10580000","quantity":"1.5"}],"bids":[{"price":"10579000","quantity":"0.7"}]}}`, `1643098426366317`, `1643098426366318`},
		{`{"type":"orderbookdepth","content":{"list":[{"symbol":"BTC_KRW","orderType":"ask","price":"10593000","quantity":"1.11223318","total":"3"}],"datetime":"1580268255864325"}}`, `1580268255864325`, `1580268255864326`},
		{`{"type":"ticker","content":{"symbol":"BTC_KRW","tickType":"24H","date":"20200129","time":"121844","openPrice":"2302","closePrice":"2317","lowPrice":"2272","highPrice":"2344","value":"2831915078.07065789","volume":"1222314.51355788","sellVolume":"760129.34079004","buyVolume":"462185.17276784","prevClosePrice":"2326","chgRate":"0.5","chgAmt":"11","volumePower":"60.80"}}`, `"121844"`, `"121845"`},
	})
}

// TestBookCode: a new-API orderbook code carries an explicit depth capped at 30 (the Plan
// test covers BBO-only and default depths).
func TestBookCode(t *testing.T) {
	if got := bookCode("KRW-BTC", 7, false) + " " + bookCode("KRW-BTC", 50, true); got != "KRW-BTC.7 KRW-BTC.30" {
		t.Fatalf("book codes %s", got)
	}
}

// FuzzSame: the fast paths (upbitapi's Fast, fastLegacy) give what the fastjson path gives.
func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestFastTaken: legacy orderbooksnapshot and transaction messages as Bithumb writes them
// take the fast path (FuzzSame alone would pass with a fast path that never matched).
func TestFastTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastLegacy, map[string]int{
		`{"type":"orderbooksnapshot","content":{"symbol":"ETH_KRW","datetime":"1643098426366317","asks":[["3000000","1"]],"bids":[["2999000","2"],["2998000","3"]]}}`:                                         1,
		`{"type":"orderbooksnapshot","content":{"symbol":"ETH_KRW","datetime":"1643098426366","asks":[],"bids":[]}}`:                                                                                          1,
		`{"type":"transaction","content":{"list":[{"buySellGb":"2","contPrice":"3.908","contQty":"12365.191","contAmt":"48323.166","contDtm":"2021-06-02 08:43:34.555058","updn":"dn","symbol":"CON_KRW"}]}}`: 1,
	})
}

// TestFastGivesUp: a message the fast path cannot take whole leaves nothing behind and
// goes to the fastjson path, which reports it (a bad second trade must not drop only
// itself).
func TestFastGivesUp(t *testing.T) {
	const item = `{"buySellGb":"%s","contPrice":"3.908","contQty":"12365.191","contAmt":"48323.166","contDtm":"2021-06-02 08:43:34.555058","updn":"dn","symbol":"CON_KRW"}`
	for _, fr := range []string{
		`{"type":"transaction","content":{"list":[` + fmt.Sprintf(item, "2") + `,` + fmt.Sprintf(item, "3") + `]}}`,
		`{"type":"transaction","content":{"list":[` + fmt.Sprintf(item, "2") + `,` + strings.Replace(fmt.Sprintf(item, "1"), "CON_KRW", "CONKRW", 1) + `]}}`,
		`{"type":"orderbooksnapshot","content":{"symbol":"ETH_KRW","datetime":"1643098426366317","asks":[["3000000","1"]],"bids":[["2999000","-2"]]}}`,
	} {
		p := New().NewParser().(*Parser)
		var out adapter.Batch
		if p.fastLegacy([]byte(fr), 1, &out) || out.Len() != 0 {
			t.Errorf("%.80s: taken by the fast path (%d records)", fr, out.Len())
		}
		if _, err := p.Parse([]byte(fr), 1, &out); err == nil {
			t.Errorf("%.80s: no error from Parse", fr)
		}
	}
}
