package kraken

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// parseOne parses frame into exactly one record.
func parseOne(t *testing.T, p adapter.Parser, frame []byte) *wire.Record {
	t.Helper()
	return adaptertest.ParseOne(t, p, string(frame))
}

// testBook applies Kraken book records the way the checksum guide says: absolute
// sizes, qty 0 deletes, sides sorted best first and truncated to depth. Unlike a book that
// canonicalises prices, it keeps each price's text as Kraken printed it.
type testBook struct{ bids, asks []wire.Level }

func (b *testBook) apply(r *wire.Record, depth int) {
	if r.Kind == wire.KindBookSnapshot {
		b.bids, b.asks = nil, nil
	}
	set := func(side []wire.Level, l wire.Level) []wire.Level {
		for i := range side {
			if side[i].Price.Cmp(l.Price) == 0 {
				side = append(side[:i], side[i+1:]...)
				break
			}
		}
		if !l.Size.IsZero() {
			side = append(side, l)
		}
		return side
	}
	for _, l := range r.Bids {
		b.bids = set(b.bids, l)
	}
	for _, l := range r.Asks {
		b.asks = set(b.asks, l)
	}
	sort.Slice(b.bids, func(i, j int) bool { return b.bids[i].Price.Cmp(b.bids[j].Price) > 0 })
	sort.Slice(b.asks, func(i, j int) bool { return b.asks[i].Price.Cmp(b.asks[j].Price) < 0 })
	b.bids, b.asks = b.bids[:min(len(b.bids), depth)], b.asks[:min(len(b.asks), depth)]
}

// TestChecksumSamples verifies Checksum against the real captures: book-1 (snapshot,
// 2375857985) on its own, book-2 (update, 1100635717) applied to book-1, as the samples
// README says. book-3 is an update whose prior BTC/USD book was not captured: only the
// checksum it carries is checked.
func TestChecksumSamples(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(adaptertest.SamplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := New()
	p := a.NewParser()
	var book testBook

	snap := parseOne(t, p, read("book-1.json"))
	if !snap.HasChecksum || snap.Checksum != 2375857985 {
		t.Fatalf("book-1 carries checksum %d (has %v)", snap.Checksum, snap.HasChecksum)
	}
	if got := a.Checksum(snap.Bids, snap.Asks); got != snap.Checksum {
		t.Fatalf("book-1 snapshot: checksum %d, message says %d", got, snap.Checksum)
	}
	book.apply(snap, 10)

	upd := parseOne(t, p, read("book-2.json"))
	if !upd.HasChecksum || upd.Checksum != 1100635717 {
		t.Fatalf("book-2 carries checksum %d", upd.Checksum)
	}
	book.apply(upd, 10)
	if got := a.Checksum(book.bids, book.asks); got != upd.Checksum {
		t.Fatalf("book-1 + book-2: checksum %d, message says %d", got, upd.Checksum)
	}
	// A lost update must show: book-1 alone does not match book-2's checksum.
	if a.Checksum(snap.Bids, snap.Asks) == upd.Checksum {
		t.Fatal("checksum did not change with the update")
	}

	b3 := parseOne(t, p, read("book-3.json"))
	if !b3.HasChecksum || b3.Checksum != 4249465476 || b3.Kind != wire.KindBookDelta {
		t.Fatalf("book-3: checksum %d, kind %s", b3.Checksum, b3.Kind)
	}
}

// TestChecksumDocVector: the BTC/USD snapshot of Kraken's checksum guide, whose checksum
// is 3310070434 and whose first ask (45285.2, 0.00100000) formats as "452852100000".
func TestChecksumDocVector(t *testing.T) {
	var frame []byte
	for _, c := range adaptertest.LoadCases(t, adaptertest.Cases, "kraken") {
		if strings.Contains(string(c.Frame), `"checksum":3310070434`) {
			frame = c.Frame
		}
	}
	if frame == nil {
		t.Fatal("doc vector missing from cases")
	}
	a := New()
	r := parseOne(t, a.NewParser(), frame)
	if got := a.Checksum(r.Bids, r.Asks); got != 3310070434 || r.Checksum != 3310070434 {
		t.Fatalf("checksum %d, message %d, want 3310070434", got, r.Checksum)
	}
	ask := r.Asks[0]
	if got := string(appendDigits(appendDigits(nil, ask.Price), ask.Size)); got != "452852100000" {
		t.Fatalf("first ask formats as %q", got)
	}
}

// TestChecksumRules: only the top 10 per side count, zero sizes are skipped, and the
// printed digits matter (a canonical price gives another checksum).
func TestChecksumRules(t *testing.T) {
	a := New()
	lv := func(p, s string) wire.Level { return wire.Level{Price: wire.MustDecimal(p), Size: wire.MustDecimal(s)} }
	var bids, asks []wire.Level
	for i := 0; i < 12; i++ {
		bids = append(bids, lv("0.1229"+string(rune('9'-i%10)), "1.00000000"))
		asks = append(asks, lv("0.1230"+string(rune('0'+i%10)), "2.00000000"))
	}
	base := a.Checksum(bids, asks)
	if a.Checksum(bids[:10], asks[:10]) != base {
		t.Fatal("levels below the top 10 changed the checksum")
	}
	withZero := append([]wire.Level{lv("0.12299", "0")}, bids[1:]...)
	if a.Checksum(withZero, asks) != a.Checksum(bids[1:], asks) {
		t.Fatal("a zero-size level was not skipped")
	}
	canon := append([]wire.Level(nil), bids...)
	canon[0] = lv("0.1230", "1.00000000") // 0.12300 would be a different text
	canon[0].Price = canon[0].Price.Canonical()
	if a.Checksum(canon, asks) == a.Checksum(append([]wire.Level{lv("0.12300", "1.00000000")}, bids[1:]...), asks) {
		t.Fatal("canonical and printed prices gave the same checksum")
	}
	if n := testing.AllocsPerRun(100, func() { a.Checksum(bids, asks) }); n != 0 {
		t.Fatalf("Checksum allocates %v times", n)
	}
}

// TestContentKey: ticker and book records carry FlagNoSeq and a key that depends only on
// content, not on receive time, key order or spacing.
func TestContentKey(t *testing.T) {
	p := New().NewParser()
	key := func(frame string) uint64 {
		t.Helper()
		r := parseOne(t, p, []byte(frame))
		if r.Flags&wire.FlagNoSeq == 0 || r.SeqFirst != 0 {
			t.Fatalf("%s: flags %b", frame, r.Flags)
		}
		return r.Seq
	}
	tick := `{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1.0,"bid_qty":2,"ask":3,"ask_qty":4,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`
	if key(tick) != key(`{"type":"update", "data":[{"timestamp":"2023-10-06T17:35:55.440295Z","ask_qty":4,"ask":3,"bid_qty":2,"bid":1.0,"symbol":"BTC/USD"}],"channel":"ticker"}`) {
		t.Fatal("same ticker, different keys")
	}
	for _, other := range []string{
		strings.Replace(tick, `"bid":1.0`, `"bid":1.1`, 1),
		strings.Replace(tick, `"bid":1.0`, `"bid":1.00`, 1), // other digits: another message
		strings.Replace(tick, `55.440295Z`, `55.440296Z`, 1),
		strings.Replace(tick, `BTC/USD`, `ETH/USD`, 1),
	} {
		if key(other) == key(tick) {
			t.Errorf("%s: same key as a different ticker", other)
		}
	}
	book := `{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1.5,"qty":2}],"asks":[],"checksum":7,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`
	for _, other := range []string{
		strings.Replace(book, `"checksum":7`, `"checksum":8`, 1),
		strings.Replace(book, `"bids":[{"price":1.5,"qty":2}],"asks":[]`, `"bids":[],"asks":[{"price":1.5,"qty":2}]`, 1),
	} {
		if key(other) == key(book) {
			t.Errorf("%s: same key as a different book message", other)
		}
	}
}

func TestPlan(t *testing.T) {
	a := New()
	subs := []adapter.Sub{
		{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTicker, adapter.ChanTrade, adapter.ChanBook}},
		{Symbol: "ETH/USD", Channels: []adapter.Channel{adapter.ChanTicker, adapter.ChanBook}, Depth: 20},
	}
	plans, err := a.Plan("wss://ws.kraken.com/v2", subs)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 || strings.Join(plans[0].Symbols, ",") != "BTC/USD,ETH/USD" {
		t.Fatalf("plans %+v", plans)
	}
	var got []string
	for _, f := range plans[0].Subscribe {
		got = append(got, string(f))
	}
	want := []string{
		`{"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD"],"event_trigger":"bbo"}}`,
		`{"method":"subscribe","params":{"channel":"ticker","symbol":["ETH/USD"],"event_trigger":"trades"}}`,
		`{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"],"snapshot":false}}`,
		`{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":10}}`,
		`{"method":"subscribe","params":{"channel":"book","symbol":["ETH/USD"],"depth":25}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("frames\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// 150 symbols × 3 subscriptions = 450: three connections of at most 200, frames of at
	// most 50 symbols.
	subs = subs[:0]
	for i := 0; i < 150; i++ {
		subs = append(subs, adapter.Sub{Symbol: "S" + strings.Repeat("X", i%9) + "/USD",
			Channels: []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}})
	}
	// A symbol's three subscriptions share its connection.
	adaptertest.PlanSplit(t, a, "wss://x", subs, adaptertest.Split{Conns: 3, Symbols: 150, Subs: 450},
		func(p adapter.ConnPlan, req *request) (int, bool) {
			for _, s := range req.Params.Symbol {
				if !slices.Contains(p.Symbols, s) {
					return 0, false
				}
			}
			return len(req.Params.Symbol), len(req.Params.Symbol) <= maxSymbolsPerFrame
		})
	for _, bad := range []adapter.Sub{
		{Symbol: "BTC/USD", Channels: []adapter.Channel{9}},
		{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBook}, Depth: 1001},
	} {
		if _, err := a.Plan("wss://x", []adapter.Sub{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestResubscribe(t *testing.T) {
	a := New()
	if f := a.Resubscribe(adapter.Sub{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBBO}}); f != nil {
		t.Fatalf("resubscribe without a book: %s", f)
	}
	f := a.Resubscribe(adapter.Sub{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBook}, Depth: 100})
	if len(f) != 2 ||
		string(f[0]) != `{"method":"unsubscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":100}}` ||
		string(f[1]) != `{"method":"subscribe","params":{"channel":"book","symbol":["BTC/USD"],"depth":100}}` {
		t.Fatalf("frames %q", f)
	}
}

func TestSession(t *testing.T) {
	a := New()
	if k, p := a.Ping(); k != adapter.PingText || string(p) != `{"method":"ping"}` {
		t.Fatalf("ping %v %q", k, p)
	}
}

func FuzzParse(f *testing.F) { adaptertest.Fuzz(f, New()) }

func FuzzSame(f *testing.F) { adaptertest.FuzzSameTree(f, New(), (*Parser).parseTree) }

// TestTimeInContentKeys: the exchange time is part of every content key where the venue
// sends one: the same content at another time is another event.
func TestTimeInContentKeys(t *testing.T) {
	adaptertest.TimeInContentKeys(t, New(), [][3]string{
		{`{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1240.00000000,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`, `55.440295`, `55.440296`},
		{`{"channel":"ticker","type":"update","data":[{"symbol":"NEW/EUR","bid":1.5,"bid_qty":2,"ask":null,"ask_qty":null,"last":1.55,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`, `55.440295`, `55.440296`},
		{`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":45283.6,"qty":0.5}],"asks":[],"checksum":1,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`, `55.440295`, `55.440296`},
	})
}

// TestBookDepth: the depth the gateway keeps its book to is the depth Plan subscribes
// (Kraken's book for the subscription, which its checksum covers): 0 → 10, 20 → 25.
func TestBookDepth(t *testing.T) {
	for want, got := range map[int]int{0: 10, 1: 10, 10: 10, 20: 25, 26: 100, 500: 500, 1000: 1000} {
		if d := New().BookDepth(want); d != got {
			t.Errorf("BookDepth(%d) = %d, want %d", want, d, got)
		}
		plans, err := New().Plan("wss://ws.kraken.com/v2", []adapter.Sub{{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBook}, Depth: want}})
		if err != nil || len(plans) != 1 || !strings.Contains(string(plans[0].Subscribe[0]), fmt.Sprintf(`"depth":%d`, got)) {
			t.Errorf("Plan for depth %d: %v %q, want depth %d subscribed", want, err, plans, got)
		}
	}
}

// TestFastUpdateTaken: book and trade updates as Kraken writes them take the fast path
// (FuzzSame alone would pass with a fast path that never matched).
func TestFastUpdateTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastUpdate, map[string]int{
		`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[{"price":65008,"qty":0.16113300}],"checksum":517547829,"timestamp":"2026-12-02T21:34:52.928317Z"}]}`:                                   1,
		`{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{"price":65007,"qty":0.31382500}],"asks":[{"price":65008,"qty":0.16642400}],"checksum":452569457,"timestamp":"2026-12-02T21:34:52.927344Z"}]}`: 1,
		`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":65008,"qty":0.00529100,"ord_type":"market","trade_id":10471332,"timestamp":"2026-12-02T21:34:52.928317Z"}]}`:                       1,
	})
}

// TestFastBBOTaken: the best bid/offer frame as the exchange writes it takes the fast
// path (fastTicker) and gives what the fastjson path gives.
func TestFastBBOTaken(t *testing.T) {
	adaptertest.FastTaken(t, New(), (*Parser).parseTree, (*Parser).fastTicker, map[string]int{
		`{"channel":"ticker","type":"update","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1240.00000000,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`: 1,
	})
}
