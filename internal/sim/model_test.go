package sim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tickline/tickline/shared/wire"
)

// trace steps the books of a fresh model n times and records every event.
func trace(seed uint64, n int) []string {
	m := newModel(seed, 20, DefaultFX)
	v := venueBinance
	books := []*book{
		m.book("binance", instrument{"BTC", "USDT"}, 0, v),
		m.book("binance", instrument{"ETH", "USDT"}, 0, v),
	}
	var out []string
	for i := 0; i < n; i++ {
		m.advance(0.001)
		for _, b := range books {
			ev := b.step(int64(i))
			out = append(out, fmt.Sprintf("%v %v %v %d %d %d %d", ev.changes, ev.trade, ev.takerBuy,
				ev.tradePx, ev.tradeSz, ev.seqFirst, ev.seq))
		}
	}
	return out
}

func TestModelDeterministic(t *testing.T) {
	a, b := trace(42, 500), trace(42, 500)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different events")
	}
	if reflect.DeepEqual(a, trace(43, 500)) {
		t.Fatal("different seeds, same events")
	}
}

func TestModelInvariants(t *testing.T) {
	m := newModel(3, 10, DefaultFX)
	for _, ex := range []string{"binance", "upbit", "kraken"} {
		inst := instrument{"BTC", "USDT"}
		if ex == "upbit" {
			inst = instrument{"XRP", "KRW"}
		}
		b := m.book(ex, inst, 0, venueBinance)
		trades, tops := 0, 0
		for i := 0; i < 20000; i++ {
			m.advance(0.01)
			ev := b.step(0)
			if len(ev.changes) == 0 || ev.seq < ev.seqFirst || ev.seqFirst != ev.seq-uint64(len(ev.changes))+1 {
				t.Fatalf("%s: bad event %+v", ex, ev)
			}
			if !b.check() {
				t.Fatalf("%s: invariants broken after %d events: %v / %v", ex, i, b.bids, b.asks)
			}
			if ev.trade {
				trades++
			}
			if ev.top {
				tops++
			}
		}
		if trades < 1000 || tops < 1000 {
			t.Errorf("%s: %d trades, %d top changes in 20000 events", ex, trades, tops)
		}
	}
}

// TestModelArbitrageWindows: the same instrument on two exchanges (after FX for KRW)
// sometimes has one exchange's bid above the other's ask, in both directions.
func TestModelArbitrageWindows(t *testing.T) {
	m := newModel(1, 20, DefaultFX)
	bn := m.book("binance", instrument{"BTC", "USDT"}, 0, venueBinance)
	kr := m.book("kraken", instrument{"BTC", "USD"}, 10, venueKraken)
	up := m.book("upbit", instrument{"BTC", "KRW"}, 0, venueUpbit)
	usd := func(b *book, px int64) float64 { return float64(px) * b.tick() * m.quoteValueUSD(b.inst.quote) }
	var bnOverKr, krOverBn, upOverBn int
	for i := 0; i < 20000; i++ {
		m.advance(0.01)
		for _, b := range []*book{bn, kr, up} {
			b.step(0)
		}
		if usd(bn, bn.bids[0].px) > usd(kr, kr.asks[0].px) {
			bnOverKr++
		}
		if usd(kr, kr.bids[0].px) > usd(bn, bn.asks[0].px) {
			krOverBn++
		}
		if usd(up, up.bids[0].px) > usd(bn, bn.asks[0].px) {
			upOverBn++
		}
	}
	t.Logf("binance bid > kraken ask: %d, kraken bid > binance ask: %d, upbit bid > binance ask (kimchi premium): %d of 20000",
		bnOverKr, krOverBn, upOverBn)
	if bnOverKr == 0 || krOverBn == 0 || upOverBn == 0 {
		t.Error("no arbitrage window in some direction")
	}
	if bnOverKr == 20000 || krOverBn == 20000 {
		t.Error("a permanent window: the model does not mean-revert")
	}
}

func TestAppendDec(t *testing.T) {
	for _, c := range []struct {
		mant  int64
		scale int
		st    numStyle
		want  string
	}{
		{3521, 4, styleFixed8, "0.35210000"},
		{3521, 4, styleTrim, "0.3521"},
		{3520, 4, styleTrim, "0.352"},
		{3520, 4, styleNatural, "0.3520"},
		{1270, 1, stylePoint0, "127.0"},
		{1275, 1, stylePoint0, "127.5"},
		{12, -3, styleTrim, "12000"},
		{12, -3, styleFixed8, "12000.00000000"},
		{5, 8, styleTrim, "0.00000005"},
		{0, 2, styleTrim, "0"},
		{100, 2, styleTrim, "1"},
	} {
		if got := string(appendDec(nil, c.mant, c.scale, c.st)); got != c.want {
			t.Errorf("appendDec(%d, %d, %d) = %s, want %s", c.mant, c.scale, c.st, got, c.want)
		}
	}
}

func TestKrakenChecksumVector(t *testing.T) {
	// The doc's BTC/USD vector string starts "452852100000" for ask 45285.2 / 0.00100000.
	b := &book{pxExp: -1, szScale: 8, asks: []level{{452852, 100000}}, bids: []level{}}
	got := krakenDigits(b.appendPx(nil, 452852, styleNatural))
	got = append(got, krakenDigits(b.appendSz(nil, 100000, styleFixed8))...)
	if string(got) != "452852100000" {
		t.Fatalf("digits %s", got)
	}
}

// TestEncodeZeroAllocs: encoding an event for any stream of any exchange appends to the
// caller's buffer without allocating.
func TestEncodeZeroAllocs(t *testing.T) {
	m := newModel(1, 20, DefaultFX)
	keys := []streamKey{{kind: kBBO}, {kind: kTrade}, {kind: kDelta}, {kind: kFull, depth: 5},
		{kind: kTicker}, {kind: kDelta, v: bnCombined}, {kind: kFull, depth: 5, v: upSimple},
		{kind: kTrade, v: bhLegacy}, {kind: kDelta, v: bhLegacy}, {kind: kFull, v: bhLegacy}}
	buf := make([]byte, 0, 64<<10)
	for _, v := range allVenues() {
		inst := instrument{"BTC", "USDT"}
		if ex, _ := wire.ParseExchange(v.name()); mustVenue(t, ex).Quote == "KRW" {
			inst = instrument{"BTC", "KRW"}
		}
		b := m.book(v.name(), inst, v.depth(), v)
		for i := 0; i < 50; i++ {
			b.step(int64(i))
		}
		for _, k := range keys {
			allocs := testing.AllocsPerRun(100, func() {
				ev := b.step(1_700_000_000_000_000_000)
				buf = v.encode(buf[:0], b, ev, k)
			})
			if allocs != 0 {
				t.Errorf("%s %+v: %v allocs per event", v.name(), k, allocs)
			}
		}
	}
}
