// Package strategy is the strategy process: it subscribes to every gateway, arbitrates the
// redundant lines (shared/arbiter), keeps per-exchange books and BBOs per instrument, and
// looks for cross-exchange arbitrage net of taker fees, with KRW markets converted through
// an FX rate; it reports the kimchi premium, tracks what taking each opportunity would have
// earned (paper executor) and measures every hop's latency.
//
// The Engine is deterministic: its clock is the records' own gateway receive time, never the
// wall clock, so replaying an archived window through it yields exactly the opportunities it
// found live (replay equivalence).
package strategy

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/tickline/tickline/shared/book"
	"github.com/tickline/tickline/shared/wire"
)

// EngineConfig are the detection parameters (from the topology's strategy section).
type EngineConfig struct {
	ThresholdBps float64                   // minimum edge net of fees, basis points
	MaxNotional  float64                   // USD cap per opportunity
	StalenessNs  int64                     // quotes older than this (by receive time) are excluded
	FeesBps      map[wire.Exchange]float64 // taker fee per exchange, basis points
	// OnBreak, when set, is told about every real gap found in the merged stream.
	OnBreak func(what string)
	// HoldNs is how long a delta past a hole in the merged stream waits for another line
	// to fill it before the hole counts as a real gap (default 250 ms); HoldMax bounds
	// how many deltas wait (default 256).
	HoldNs  int64
	HoldMax int
	// FX: KRW per USD. Either a static rate, or the mid of a market (exchange + instrument,
	// e.g. upbit USDT-KRW).
	FXStatic     float64
	FXExchange   wire.Exchange
	FXInstrument wire.Name
}

// Quote is one exchange's top of book for one instrument.
type Quote struct {
	BidPx, BidSz, AskPx, AskSz float64
	TsRecv, TsExchange         int64
	OK                         bool // both sides present
}

// market is one (exchange, instrument): its book (when books are subscribed), its quote
// and whether its data can be trusted.
type market struct {
	ex         wire.Exchange
	instrument wire.Name
	base       string
	quote      string // USD for USD/USDT/USDC, KRW, or other
	book       book.Book
	bookSeq    uint64 // last applied book id (chained deltas)
	hasBook    bool
	valid      bool // false after a real gap/invalid status until a snapshot
	q          Quote
	held       []wire.Record // deltas past a hole, waiting for a slower line to fill it
	heldSince  int64
}

type marketKey struct {
	ex   wire.Exchange
	inst wire.Name
}

// Opportunity is one cross-exchange arbitrage: buy on BuyExchange at its ask, sell on
// SellExchange at its bid, sizes capped by both tops and MaxNotional.
type Opportunity struct {
	TsNs         int64   `json:"ts_ns"` // receive time of the record that revealed it
	Base         string  `json:"base"`
	BuyExchange  string  `json:"buy_exchange"`
	BuyMarket    string  `json:"buy_instrument"`
	BuyPrice     float64 `json:"buy_px"`     // in the market's quote currency
	BuyPriceUSD  float64 `json:"buy_px_usd"` // converted (KRW through FX)
	SellExchange string  `json:"sell_exchange"`
	SellMarket   string  `json:"sell_instrument"`
	SellPrice    float64 `json:"sell_px"`
	SellPriceUSD float64 `json:"sell_px_usd"`
	Size         float64 `json:"size"`       // base units
	EdgeBps      float64 `json:"edge_bps"`   // net of both taker fees
	ProfitUSD    float64 `json:"profit_usd"` // size × net edge per unit
	FX           float64 `json:"fx,omitempty"`
}

// Engine holds the state the strategy's detection needs. It is owned by one goroutine.
type Engine struct {
	cfg     EngineConfig
	markets map[marketKey]*market
	byBase  map[string][]*market
	fx      float64
	last    map[[2]string]Opportunity // last emitted per (buy, sell) pair and base
	out     []Opportunity
	Paper   Paper
	Stats   EngineStats
}

// EngineStats count what the engine saw.
type EngineStats struct {
	Records, Gaps, Invalidations, Snapshots, StaleExcluded, InvalidExcluded, Opportunities uint64
	ChainBreaks                                                                            uint64
	LastBreak                                                                              string // which market broke last, and how (diagnostics)
}

// Paper is the paper executor: it takes every emitted opportunity at its quoted size.
type Paper struct {
	Trades    int     `json:"trades"`
	Notional  float64 `json:"notional_usd"`
	ProfitUSD float64 `json:"profit_usd"`
}

// NewEngine returns an Engine.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{cfg: cfg, markets: map[marketKey]*market{}, byBase: map[string][]*market{}, last: map[[2]string]Opportunity{}}
	e.fx = cfg.FXStatic
	return e
}

func splitInstrument(n *wire.Name) (base, quote string) {
	s := n.String()
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			base, quote = s[:i], s[i+1:]
			break
		}
	}
	switch quote {
	case "USD", "USDT", "USDC":
		quote = "USD"
	}
	return base, quote
}

func (e *Engine) market(ex wire.Exchange, inst *wire.Name) *market {
	k := marketKey{ex, *inst}
	if m, ok := e.markets[k]; ok {
		return m
	}
	m := &market{ex: ex, instrument: *inst, valid: true}
	m.base, m.quote = splitInstrument(inst)
	e.markets[k] = m
	e.byBase[m.base] = append(e.byBase[m.base], m)
	return m
}

// FX returns the current KRW per USD rate (0 when unknown).
func (e *Engine) FX() float64 { return e.fx }

// OnRecord applies one arbitrated record and returns the opportunities it revealed (valid
// until the next call).
func (e *Engine) OnRecord(r *wire.Record) []Opportunity {
	e.out = e.out[:0]
	e.Stats.Records++
	m := e.market(r.Exchange, &r.Instrument)
	switch r.Kind {
	case wire.KindBBO:
		m.q = Quote{BidPx: r.BidPx.Float64(), BidSz: r.BidSz.Float64(), AskPx: r.AskPx.Float64(), AskSz: r.AskSz.Float64(),
			TsRecv: r.TsRecv, TsExchange: r.TsExchange}
		m.q.OK = m.q.BidPx > 0 && m.q.AskPx > 0
	case wire.KindBookSnapshot:
		if m.hasBook && m.valid && (r.Flags&wire.FlagRefresh != 0 || r.Flags&(wire.FlagNoSeq|wire.FlagSeqReset) == 0 && r.Seq <= m.bookSeq) {
			// A late joiner's copy of what this book already holds, or a snapshot older
			// than what another line has already delivered (a restarted gateway). A
			// snapshot that starts a new epoch of ids (Bybit u = 1) is not older.
			return e.out
		}
		e.Stats.Snapshots++
		m.book.Snapshot(r.Bids, r.Asks)
		m.hasBook, m.valid, m.bookSeq = true, true, r.Seq
		e.afterSnapshot(m, r) // deltas kept meanwhile may continue the snapshot
		e.topFromBook(m, r)
	case wire.KindBookDelta:
		if !m.hasBook || !m.valid {
			// Keep it: the arbiter delivers each event once, so a delta that raced ahead
			// of the snapshot on another line is not coming again; the snapshot drains it.
			e.keep(m, r)
			break
		}
		if r.Flags&wire.FlagNoSeq == 0 && r.SeqFirst != 0 && r.SeqFirst != m.bookSeq+1 {
			if r.Seq <= m.bookSeq {
				break // older than the book (a snapshot from another line got ahead)
			}
			// A hole in the merged stream: a slower line may still fill it. Hold the
			// delta until the hole fills or the hold expires (then it is a real gap).
			e.hold(m, r)
			break
		}
		m.book.Apply(r.Bids, r.Asks)
		m.bookSeq = r.Seq
		e.drainHeld(m)
		e.topFromBook(m, r)
	case wire.KindStatus:
		if r.Flags&wire.FlagBookInvalid != 0 {
			e.Stats.Gaps++
			e.invalidate(m)
		}
		return e.out
	default:
		return e.out
	}
	if m.base == "USDT" && m.quote == "KRW" && e.cfg.FXStatic == 0 && m.ex == e.cfg.FXExchange && m.instrument == e.cfg.FXInstrument && m.q.OK {
		e.fx = (m.q.BidPx + m.q.AskPx) / 2
	}
	e.detect(m.base, r.TsRecv)
	return e.out
}

func (e *Engine) invalidate(m *market) {
	e.Stats.Invalidations++
	m.valid = false
	m.q.OK = false
	m.held = m.held[:0]
}

// hold keeps a delta that does not chain yet; a hole that outlives the hold window (by
// record time) or the hold bound is a real gap.
func (e *Engine) hold(m *market, r *wire.Record) {
	if len(m.held) == 0 {
		m.heldSince = r.TsRecv
	}
	holdNs, holdMax := e.cfg.HoldNs, e.cfg.HoldMax
	if holdNs <= 0 {
		holdNs = int64(250 * time.Millisecond)
	}
	if holdMax <= 0 {
		holdMax = 256
	}
	if r.TsRecv-m.heldSince > holdNs || len(m.held) >= holdMax {
		e.Stats.ChainBreaks++ // no line delivered the missing ids in time
		e.Stats.LastBreak = fmt.Sprintf("%s %s: book at %d, held %d deltas from %d (ts %d)", m.ex, m.instrument.String(), m.bookSeq, len(m.held), m.held[0].SeqFirst, r.TsRecv)
		if e.cfg.OnBreak != nil {
			e.cfg.OnBreak(e.Stats.LastBreak)
		}
		e.invalidate(m)
		return
	}
	e.insertHeld(m, r)
}

// keep holds a delta while the book waits for a snapshot (bounded: the oldest go first).
func (e *Engine) keep(m *market, r *wire.Record) {
	if r.Flags&wire.FlagNoSeq != 0 {
		return
	}
	holdMax := e.cfg.HoldMax
	if holdMax <= 0 {
		holdMax = 256
	}
	if len(m.held) >= holdMax {
		m.held = m.held[1:]
	}
	e.insertHeld(m, r)
}

func (e *Engine) insertHeld(m *market, r *wire.Record) {
	i := len(m.held)
	m.held = append(m.held, wire.Record{})
	for ; i > 0 && m.held[i-1].SeqFirst > r.SeqFirst; i-- {
		m.held[i] = m.held[i-1]
	}
	m.held[i] = *r
	m.held[i].Bids = append([]wire.Level(nil), r.Bids...)
	m.held[i].Asks = append([]wire.Level(nil), r.Asks...)
}

// drainHeld applies held deltas that now chain.
func (e *Engine) drainHeld(m *market) {
	for len(m.held) > 0 {
		h := &m.held[0]
		switch {
		case h.Seq <= m.bookSeq:
		case h.SeqFirst == m.bookSeq+1:
			m.book.Apply(h.Bids, h.Asks)
			m.bookSeq = h.Seq
		default:
			return
		}
		m.held = m.held[1:]
	}
	if len(m.held) > 0 {
		m.heldSince = m.held[0].TsRecv
	}
}

// afterSnapshot drains what was kept while the book had no snapshot; what still does not
// chain starts a fresh hold window.
func (e *Engine) afterSnapshot(m *market, r *wire.Record) {
	e.drainHeld(m)
	if len(m.held) > 0 {
		// The window starts now, in the newest record time seen: a snapshot from a slower
		// line carries an older receive time than the deltas held from a faster one.
		m.heldSince = max(r.TsRecv, m.held[len(m.held)-1].TsRecv)
	}
}

func (e *Engine) topFromBook(m *market, r *wire.Record) {
	bid, ask, ok := m.book.Best()
	if !ok || m.book.Crossed() {
		m.q.OK = false
		return
	}
	m.q = Quote{BidPx: bid.Price.Float64(), BidSz: bid.Size.Float64(), AskPx: ask.Price.Float64(), AskSz: ask.Size.Float64(),
		TsRecv: r.TsRecv, TsExchange: r.TsExchange, OK: true}
}

// usd converts a price in m's quote currency to USD; ok is false when it cannot.
func (e *Engine) usd(m *market, px float64) (float64, bool) {
	switch m.quote {
	case "USD":
		return px, true
	case "KRW":
		if e.fx > 0 {
			return px / e.fx, true
		}
	}
	return 0, false
}

// detect finds the best buy (lowest net ask) and best sell (highest net bid) for a base
// across exchanges, and emits an opportunity when the net edge clears the threshold.
func (e *Engine) detect(base string, now int64) {
	var buy, sell *market
	var buyNet, sellNet, buyUSD, sellUSD float64
	for _, m := range e.byBase[base] {
		if !m.q.OK {
			continue
		}
		if !m.valid {
			e.Stats.InvalidExcluded++
			continue
		}
		if e.cfg.StalenessNs > 0 && now-m.q.TsRecv > e.cfg.StalenessNs {
			e.Stats.StaleExcluded++
			continue
		}
		fee := e.cfg.FeesBps[m.ex] / 1e4
		if a, ok := e.usd(m, m.q.AskPx); ok && m.q.AskSz > 0 {
			if net := a * (1 + fee); buy == nil || net < buyNet {
				buy, buyNet, buyUSD = m, net, a
			}
		}
		if b, ok := e.usd(m, m.q.BidPx); ok && m.q.BidSz > 0 {
			if net := b * (1 - fee); sell == nil || net > sellNet {
				sell, sellNet, sellUSD = m, net, b
			}
		}
	}
	if buy == nil || sell == nil || buy == sell || buy.ex == sell.ex {
		return
	}
	edge := (sellNet - buyNet) / buyNet * 1e4
	if edge < e.cfg.ThresholdBps {
		return
	}
	size := math.Min(buy.q.AskSz, sell.q.BidSz)
	if e.cfg.MaxNotional > 0 {
		size = math.Min(size, e.cfg.MaxNotional/buyUSD)
	}
	o := Opportunity{TsNs: now, Base: base, BuyExchange: buy.ex.String(), BuyMarket: buy.instrument.String(), BuyPrice: buy.q.AskPx,
		BuyPriceUSD: buyUSD, SellExchange: sell.ex.String(), SellMarket: sell.instrument.String(), SellPrice: sell.q.BidPx,
		SellPriceUSD: sellUSD, Size: size, EdgeBps: edge, ProfitUSD: size * (sellNet - buyNet)}
	if buy.quote == "KRW" || sell.quote == "KRW" {
		o.FX = e.fx
	}
	k := [2]string{o.BuyMarket + "@" + o.BuyExchange, o.SellMarket + "@" + o.SellExchange}
	if prev, ok := e.last[k]; ok && prev.BuyPrice == o.BuyPrice && prev.SellPrice == o.SellPrice && prev.Size == o.Size {
		return // the same window, already reported
	}
	e.last[k] = o
	e.Stats.Opportunities++
	e.Paper.Trades++
	e.Paper.Notional += size * buyUSD
	e.Paper.ProfitUSD += o.ProfitUSD
	e.out = append(e.out, o)
}

// Premium is the kimchi premium of one Korean market against the USD markets' mid.
type Premium struct {
	Base       string  `json:"base"`
	Exchange   string  `json:"exchange"`
	PremiumPct float64 `json:"premium_pct"`
	KRWMid     float64 `json:"krw_mid"`
	USDMid     float64 `json:"usd_mid"` // mean of the valid, fresh USD(T) mids
	FX         float64 `json:"fx"`
	USDMarkets int     `json:"usd_markets"`
}

// Premiums returns the kimchi premium of every valid, fresh KRW market at time now.
func (e *Engine) Premiums(now int64) []Premium {
	var out []Premium
	if e.fx <= 0 {
		return nil
	}
	bases := make([]string, 0, len(e.byBase))
	for b := range e.byBase {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	for _, base := range bases {
		var sum float64
		n := 0
		for _, m := range e.byBase[base] {
			if m.quote == "USD" && e.fresh(m, now) {
				sum += (m.q.BidPx + m.q.AskPx) / 2
				n++
			}
		}
		if n == 0 {
			continue
		}
		usdMid := sum / float64(n)
		for _, m := range e.byBase[base] {
			if m.quote != "KRW" || !e.fresh(m, now) || base == "USDT" {
				continue
			}
			krw := (m.q.BidPx + m.q.AskPx) / 2
			out = append(out, Premium{Base: base, Exchange: m.ex.String(), KRWMid: krw, USDMid: usdMid, FX: e.fx, USDMarkets: n,
				PremiumPct: (krw/e.fx/usdMid - 1) * 100})
		}
	}
	return out
}

func (e *Engine) fresh(m *market, now int64) bool {
	return m.q.OK && m.valid && (e.cfg.StalenessNs <= 0 || now-m.q.TsRecv <= e.cfg.StalenessNs)
}

// QuoteView is one market's top of book for display.
type QuoteView struct {
	Exchange, Instrument string
	BidPx, BidSz         float64
	AskPx, AskSz         float64
	AgeNs                int64
	Valid                bool
}

// Quotes returns the current top of book of every market of base (e.g. "BTC") at time now,
// sorted by exchange.
func (e *Engine) Quotes(base string, now int64) []QuoteView {
	var out []QuoteView
	for _, m := range e.byBase[base] {
		if !m.q.OK && m.valid {
			continue
		}
		out = append(out, QuoteView{Exchange: m.ex.String(), Instrument: m.instrument.String(), BidPx: m.q.BidPx, BidSz: m.q.BidSz,
			AskPx: m.q.AskPx, AskSz: m.q.AskSz, AgeNs: now - m.q.TsRecv, Valid: m.valid && m.q.OK})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		return out[i].Instrument < out[j].Instrument
	})
	return out
}
