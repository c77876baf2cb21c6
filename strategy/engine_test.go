package strategy

import (
	"math"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

func bbo(ex wire.Exchange, inst string, bid, bidSz, ask, askSz string, ts int64) *wire.Record {
	r := &wire.Record{Kind: wire.KindBBO, Exchange: ex, TsRecv: ts, BidPx: wire.MustDecimal(bid), BidSz: wire.MustDecimal(bidSz),
		AskPx: wire.MustDecimal(ask), AskSz: wire.MustDecimal(askSz)}
	r.Instrument.SetString(inst)
	return r
}

func cfg() EngineConfig {
	return EngineConfig{ThresholdBps: 5, MaxNotional: 100000, StalenessNs: int64(2 * time.Second),
		FeesBps: map[wire.Exchange]float64{wire.Binance: 10, wire.OKX: 10, wire.Upbit: 5, wire.Coinbase: 60}}
}

func TestSpreadEatenByFeesNoSignal(t *testing.T) {
	e := NewEngine(cfg())
	const s = int64(time.Second)
	e.OnRecord(bbo(wire.Binance, "BTC-USDT", "99990", "1", "100000", "1", s))
	// OKX bid 100 150 is 15 bps above Binance's ask: less than the 20 bps of fees + 5 bps threshold.
	if got := e.OnRecord(bbo(wire.OKX, "BTC-USDT", "100150", "1", "100160", "1", s)); len(got) != 0 {
		t.Fatalf("fees should eat this spread: %+v", got)
	}
	// At 100 260 the gross spread is 26 bps: net ≈ 6 bps ≥ 5: a signal.
	got := e.OnRecord(bbo(wire.OKX, "BTC-USDT", "100260", "0.4", "100270", "1", s))
	if len(got) != 1 {
		t.Fatalf("no signal for a spread above fees + threshold")
	}
	o := got[0]
	if o.BuyExchange != "binance" || o.SellExchange != "okx" || o.Size != 0.4 {
		t.Fatalf("opportunity %+v", o)
	}
	wantEdge := (100260*(1-0.001) - 100000*(1+0.001)) / (100000 * (1 + 0.001)) * 1e4
	if math.Abs(o.EdgeBps-wantEdge) > 1e-9 {
		t.Fatalf("edge %v, want %v", o.EdgeBps, wantEdge)
	}
	// The same window again is not a new opportunity.
	if again := e.OnRecord(bbo(wire.OKX, "BTC-USDT", "100260", "0.4", "100270", "1", s)); len(again) != 0 {
		t.Fatalf("repeated window reported twice")
	}
	if e.Paper.Trades != 1 || math.Abs(e.Paper.ProfitUSD-o.ProfitUSD) > 1e-9 {
		t.Fatalf("paper %+v", e.Paper)
	}
}

func TestStaleQuoteNoSignal(t *testing.T) {
	e := NewEngine(cfg())
	e.OnRecord(bbo(wire.Binance, "BTC-USDT", "99990", "1", "100000", "1", int64(1*time.Second)))
	// 3 s later (staleness 2 s) Binance's quote is stale: no signal despite a 100 bps spread.
	if got := e.OnRecord(bbo(wire.OKX, "BTC-USDT", "101000", "1", "101010", "1", int64(4*time.Second))); len(got) != 0 {
		t.Fatalf("stale quote used: %+v", got)
	}
	if e.Stats.StaleExcluded == 0 {
		t.Fatal("stale exclusion not counted")
	}
}

func TestInvalidBookExcluded(t *testing.T) {
	e := NewEngine(cfg())
	e.OnRecord(bbo(wire.Binance, "BTC-USDT", "99990", "1", "100000", "1", 1))
	st := &wire.Record{Kind: wire.KindStatus, Exchange: wire.Binance, Status: wire.StatusGap, Flags: wire.FlagBookInvalid, TsRecv: 2}
	st.Instrument.SetString("BTC-USDT")
	e.OnRecord(st)
	if got := e.OnRecord(bbo(wire.OKX, "BTC-USDT", "101000", "1", "101010", "1", 3)); len(got) != 0 {
		t.Fatalf("invalid market used: %+v", got)
	}
}

func TestKRWWithFXAndPremium(t *testing.T) {
	c := cfg()
	c.FXExchange = wire.Upbit
	c.FXInstrument.SetString("USDT-KRW")
	e := NewEngine(c)
	s := int64(time.Second)
	e.OnRecord(bbo(wire.Upbit, "USDT-KRW", "1399", "1000", "1401", "1000", s)) // FX mid 1400
	if e.FX() != 1400 {
		t.Fatalf("fx %v", e.FX())
	}
	e.OnRecord(bbo(wire.Binance, "BTC-USDT", "99990", "1", "100010", "1", s))
	// Upbit BTC-KRW mid 147 000 000 KRW = 105 000 USD: a 5% kimchi premium over 100 000.
	got := e.OnRecord(bbo(wire.Upbit, "BTC-KRW", "146990000", "0.5", "147010000", "0.5", s))
	if len(got) != 1 || got[0].BuyExchange != "binance" || got[0].SellExchange != "upbit" || got[0].FX != 1400 {
		t.Fatalf("KRW arbitrage: %+v", got)
	}
	if math.Abs(got[0].SellPriceUSD-146990000.0/1400) > 1e-6 {
		t.Fatalf("sell px usd %v", got[0].SellPriceUSD)
	}
	ps := e.Premiums(s)
	if len(ps) != 1 || ps[0].Exchange != "upbit" || math.Abs(ps[0].PremiumPct-5) > 1e-9 {
		t.Fatalf("premiums %+v", ps)
	}
	// Size cap by notional: 10 000 USD at ~100 010 USD per BTC.
	c2 := cfg()
	c2.FXStatic, c2.MaxNotional = 1400, 10000
	e2 := NewEngine(c2)
	e2.OnRecord(bbo(wire.Binance, "BTC-USDT", "99990", "1", "100010", "1", s))
	got = e2.OnRecord(bbo(wire.Upbit, "BTC-KRW", "146990000", "0.5", "147010000", "0.5", s))
	if len(got) != 1 || math.Abs(got[0].Size-10000.0/100010) > 1e-12 {
		t.Fatalf("notional cap: %+v", got)
	}
}

func TestBookChainBreakInvalidates(t *testing.T) {
	e := NewEngine(cfg())
	snap := &wire.Record{Kind: wire.KindBookSnapshot, Exchange: wire.Binance, Seq: 10, TsRecv: 1,
		Bids: []wire.Level{{Price: wire.MustDecimal("99990"), Size: wire.MustDecimal("1")}},
		Asks: []wire.Level{{Price: wire.MustDecimal("100000"), Size: wire.MustDecimal("1")}}}
	snap.Instrument.SetString("BTC-USDT")
	e.OnRecord(snap)
	d := *snap
	d.Kind, d.SeqFirst, d.Seq, d.Asks = wire.KindBookDelta, 11, 12, nil
	d.Bids = []wire.Level{{Price: wire.MustDecimal("99995"), Size: wire.MustDecimal("2")}}
	e.OnRecord(&d)
	if q := e.markets[marketKey{wire.Binance, snap.Instrument}].q; q.BidPx != 99995 {
		t.Fatalf("delta not applied: %+v", q)
	}
	// 13..14 come late (another line is slower): the hole is held, then filled.
	d.SeqFirst, d.Seq, d.TsRecv = 15, 16, 2
	e.OnRecord(&d)
	fill := d
	fill.SeqFirst, fill.Seq, fill.TsRecv = 13, 14, 3
	fill.Bids = []wire.Level{{Price: wire.MustDecimal("99996"), Size: wire.MustDecimal("1")}}
	e.OnRecord(&fill)
	mk := e.markets[marketKey{wire.Binance, snap.Instrument}]
	if e.Stats.ChainBreaks != 0 || !mk.valid || mk.bookSeq != 16 {
		t.Fatalf("late fill not merged: %+v seq %d", e.Stats, mk.bookSeq)
	}
	// 17..19 never arrive on any line: after the hold window it is a real gap.
	d.SeqFirst, d.Seq, d.TsRecv = 20, 21, 4
	e.OnRecord(&d)
	d.SeqFirst, d.Seq, d.TsRecv = 22, 22, 4+int64(time.Second)
	e.OnRecord(&d)
	if e.Stats.ChainBreaks != 1 || mk.valid {
		t.Fatalf("chain break not detected: %+v", e.Stats)
	}
}

// TestSeqResetSnapshotStartsNewEpoch: after a service restart Bybit sends a snapshot with
// u = 1 (FlagSeqReset); it replaces the book although its Seq is below the book's, and the
// deltas after it (u = 2, 3, ...) apply. Without the flag check the book froze.
func TestSeqResetSnapshotStartsNewEpoch(t *testing.T) {
	e := NewEngine(cfg())
	lv := func(p string) []wire.Level {
		return []wire.Level{{Price: wire.MustDecimal(p), Size: wire.MustDecimal("1")}}
	}
	snap := &wire.Record{Kind: wire.KindBookSnapshot, Exchange: wire.Bybit, Seq: 10000, TsRecv: 1, Bids: lv("99990"), Asks: lv("100000")}
	snap.Instrument.SetString("BTC-USDT")
	e.OnRecord(snap)
	reset := *snap
	reset.Seq, reset.Flags, reset.Bids, reset.Asks = 1, wire.FlagSeqReset, lv("98000"), lv("98010")
	e.OnRecord(&reset)
	d := reset
	d.Kind, d.Flags, d.SeqFirst, d.Seq, d.Asks = wire.KindBookDelta, 0, 2, 2, nil
	d.Bids = []wire.Level{{Price: wire.MustDecimal("98005"), Size: wire.MustDecimal("2")}}
	e.OnRecord(&d)
	mk := e.markets[marketKey{wire.Bybit, snap.Instrument}]
	if q := mk.q; q.BidPx != 98005 || q.AskPx != 98010 || !mk.valid || mk.bookSeq != 2 {
		t.Fatalf("after the reset snapshot: quote %+v valid %v seq %d", q, mk.valid, mk.bookSeq)
	}
}
