package sim

import (
	"math"
	"math/rand/v2"
)

// level is one price level in integer units: price = px × 10^pxExp, size = sz × 10^-szScale.
type level struct{ px, sz int64 }

// change is one level update of an event: the absolute new size, 0 = removed.
type change struct {
	ask    bool
	px, sz int64
}

// event is one step of a book: the level changes (always at least one), and the trade
// that caused them, if any. It is reused: valid until the book's next step.
type event struct {
	changes  []change
	trade    bool
	takerBuy bool
	tradePx  int64
	tradeSz  int64
	tradeID  uint64
	seqFirst uint64 // first update id of this event (previous seq + 1)
	seq      uint64 // last update id of this event
	top      bool   // the best bid or ask (price or size) changed
	ns       int64  // event time, ns since the epoch
	n        uint64 // events of this book so far, this one included (Bybit u)
}

// book is one exchange's L2 book of one instrument. Each side always holds exactly depth
// levels, best first, strictly ordered, with bids below asks and positive sizes, so that a
// client applying every change to a snapshot holds the same book.
//
// Ownership: the model lock (Server.mu) guards every field; the generator goroutine steps
// books, connection goroutines read them when a client subscribes or fetches a snapshot.
type book struct {
	m       *model
	ex      string
	inst    instrument
	v       venue
	pxExp   int // tick = 10^pxExp
	szScale int // size unit = 10^-szScale
	depth   int
	bids    []level
	asks    []level
	rng     *rand.Rand
	idio    float64 // mean-reverting idiosyncratic noise (fraction)
	unitUSD float64 // rough USD value of one base unit, for sizing levels

	seq     uint64 // last update id (Binance u, Gate u, OKX seqId, Coinbase sequence)
	events  uint64 // events so far (Bybit u)
	tops    uint64 // top-of-book changes so far (Bybit orderbook.1 u)
	tradeID uint64 // last trade id
	lastPx  int64  // last trade price (the initial mid before any trade)
	lastSz  int64  // last trade size
	lastBuy bool   // the last trade was a taker buy (snapshots that repeat the last trade)
	volume  int64  // traded size since start (size units), for tickers
	ev      event

	streams []*stream // delivery state, owned by the hub under the same lock
	due     float64   // events owed by the generator's pacing
	live    bool      // stepped by the generator (someone subscribed once)
}

func newBook(m *model, ex string, inst instrument, depth int, v venue) *book {
	s := hash64(m.seed, "book", ex, inst.String())
	b := &book{m: m, ex: ex, inst: inst, v: v, depth: depth,
		rng: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
	p := m.fair(ex, inst)
	usd := p * m.quoteValueUSD(inst.quote)
	b.unitUSD = usd
	b.pxExp = max(int(math.Floor(math.Log10(p)))-4, -8) // ~1-10 bp ticks: 1 USDT for BTC, 1000 KRW on Upbit
	b.szScale = min(max(int(math.Floor(math.Log10(usd)))+2, 2), 8)
	b.seq = 1_000_000_000 + s%1_000_000_000
	b.tradeID = 10_000_000 + s>>32%10_000_000
	b.events = 100_000 + s>>16%1_000_000 // Bybit u: 1 would mean "service restart"
	b.tops = b.events
	b.idio = 0.001 * b.rng.NormFloat64()
	mid := int64(p * (1 + b.idio) / b.tick())
	bb := mid - int64(b.rng.IntN(2))
	ba := bb + 1 + int64(b.rng.IntN(2))
	b.bids = make([]level, 0, depth+1)
	b.asks = make([]level, 0, depth+1)
	for i := 0; i < depth; i++ {
		b.bids = append(b.bids, level{bb, b.randSize()})
		b.asks = append(b.asks, level{ba, b.randSize()})
		bb -= 1 + int64(b.rng.IntN(3))
		ba += 1 + int64(b.rng.IntN(3))
	}
	b.ev.changes = make([]change, 0, 8)
	b.lastPx, b.lastSz = b.bids[0].px, b.bids[0].sz
	return b
}

// tick returns the price increment.
func (b *book) tick() float64 { return math.Pow10(b.pxExp) }

// randSize returns a level size worth roughly $2k-$30k.
func (b *book) randSize() int64 {
	usd := 2000 + 28000*b.rng.Float64()*b.rng.Float64()
	sz := int64(usd / b.unitUSD * math.Pow10(b.szScale))
	return max(sz, 1)
}

// side returns a pointer to the levels of one side.
func (b *book) side(ask bool) *[]level {
	if ask {
		return &b.asks
	}
	return &b.bids
}

// better reports whether price a is better than b on that side.
func better(ask bool, a, b int64) bool {
	if ask {
		return a < b
	}
	return a > b
}

// set records an absolute level change.
func (b *book) set(ask bool, px, sz int64) {
	b.ev.changes = append(b.ev.changes, change{ask, px, sz})
}

// remove deletes level i of a side and refills the far end, keeping depth levels.
func (b *book) remove(ask bool, i int) {
	s := b.side(ask)
	b.set(ask, (*s)[i].px, 0)
	*s = append((*s)[:i], (*s)[i+1:]...)
	worst := (*s)[len(*s)-1].px
	step := 1 + int64(b.rng.IntN(3))
	px := worst + step
	if !ask {
		px = worst - step
		if px <= 0 {
			px = worst - 1
		}
	}
	if px <= 0 { // a book crushed to the lowest tick: keep depth-1 (never seen with real prices)
		return
	}
	l := level{px, b.randSize()}
	*s = append(*s, l)
	b.set(ask, l.px, l.sz)
}

// insert adds a level at px (an existing level is resized), dropping the far end to keep
// depth levels. A price beyond the far end is ignored.
func (b *book) insert(ask bool, px, sz int64) {
	s := b.side(ask)
	i := 0
	for i < len(*s) && better(ask, (*s)[i].px, px) {
		i++
	}
	if i < len(*s) && (*s)[i].px == px {
		(*s)[i].sz = sz
		b.set(ask, px, sz)
		return
	}
	if i == len(*s) {
		return
	}
	*s = append(*s, level{})
	copy((*s)[i+1:], (*s)[i:])
	(*s)[i] = level{px, sz}
	b.set(ask, px, sz)
	last := len(*s) - 1
	b.set(ask, (*s)[last].px, 0)
	*s = (*s)[:last]
}

// take is a taker order against the touch of side ask (ask=true: a taker buy); full
// takes the whole level.
func (b *book) take(ask, full bool) {
	s := b.side(ask)
	l := (*s)[0]
	q := l.sz
	if !full && b.rng.IntN(3) != 0 {
		q = max(1, int64(float64(l.sz)*b.rng.Float64()))
	}
	b.ev.trade, b.ev.takerBuy, b.ev.tradePx, b.ev.tradeSz = true, ask, l.px, q
	b.tradeID++
	b.ev.tradeID = b.tradeID
	b.lastPx, b.lastSz, b.lastBuy = l.px, q, ask
	b.volume += q
	if q == l.sz {
		b.remove(ask, 0)
		return
	}
	(*s)[0].sz -= q
	b.set(ask, l.px, l.sz-q)
}

// nearIndex picks a level index, the top more often than the far end.
func (b *book) nearIndex() int {
	n := len(b.bids)
	i := int(float64(n) * b.rng.Float64() * b.rng.Float64())
	return min(i, n-1)
}

// step moves the book by one event toward the model's fair price and returns it.
func (b *book) step(ns int64) *event {
	ev := &b.ev
	ev.changes = ev.changes[:0]
	ev.trade = false
	bb0, ba0 := b.bids[0], b.asks[0]
	b.idio = b.idio*0.998 + 0.00004*b.rng.NormFloat64()        // stationary sd ≈ 6 bp
	target := b.m.fair(b.ex, b.inst) * (1 + b.idio) / b.tick() // in ticks
	bb, ba := bb0.px, ba0.px
	r := b.rng.Float64()
	switch {
	case float64(ba) < target: // the book is too low: lift the offer or raise the bid
		if r < 0.5 || ba-bb == 1 {
			b.take(true, target-float64(ba) > 2)
		} else {
			b.insert(false, min(ba-1, int64(target)), b.randSize())
		}
	case float64(bb) > target: // too high: hit the bid or lower the offer
		if r < 0.5 || ba-bb == 1 {
			b.take(false, float64(bb)-target > 2)
		} else {
			b.insert(true, max(bb+1, int64(math.Ceil(target))), b.randSize())
		}
	case ba-bb > 3 && r < 0.9: // a wide spread: quote inside it, near the target
		if b.rng.IntN(2) == 0 {
			b.insert(false, min(max(int64(target)-int64(b.rng.IntN(2)), bb+1), ba-1), b.randSize())
		} else {
			b.insert(true, max(min(int64(math.Ceil(target))+int64(b.rng.IntN(2)), ba-1), bb+1), b.randSize())
		}
	case r < 0.25:
		b.take(b.rng.IntN(2) == 0, false)
	case r < 0.6:
		ask := b.rng.IntN(2) == 0
		i := b.nearIndex()
		s := *b.side(ask)
		s[i].sz = b.randSize()
		b.set(ask, s[i].px, s[i].sz)
	case r < 0.8:
		b.remove(b.rng.IntN(2) == 0, b.nearIndex())
	default:
		ask := b.rng.IntN(2) == 0
		if ba-bb > 1 { // improve inside the spread
			px := bb + 1 + int64(b.rng.IntN(int(ba-bb-1)))
			b.insert(ask, px, b.randSize())
		} else { // fill a level somewhere in the book
			s := *b.side(ask)
			i := b.nearIndex()
			px := s[i].px + 1
			if ask {
				px = s[i].px - 1
			}
			if i == 0 {
				px = s[i].px // never cross: resize the touch instead
			}
			b.insert(ask, px, b.randSize())
		}
	}
	if len(ev.changes) == 0 { // an ignored insert: resize the far bid instead
		l := &b.bids[len(b.bids)-1]
		l.sz = b.randSize()
		b.set(false, l.px, l.sz)
	}
	ev.seqFirst = b.seq + 1
	b.seq += uint64(len(ev.changes))
	ev.seq = b.seq
	b.events++
	ev.n = b.events
	ev.top = b.bids[0] != bb0 || b.asks[0] != ba0
	if ev.top {
		b.tops++
	}
	ev.ns = ns
	return ev
}

// check verifies the book invariants (tests).
func (b *book) check() bool {
	if len(b.bids) != b.depth || len(b.asks) != b.depth || b.bids[0].px >= b.asks[0].px {
		return false
	}
	for i := range b.bids {
		if b.bids[i].sz <= 0 || b.asks[i].sz <= 0 || b.bids[i].px <= 0 {
			return false
		}
		if i > 0 && (b.bids[i].px >= b.bids[i-1].px || b.asks[i].px <= b.asks[i-1].px) {
			return false
		}
	}
	return true
}

// appendPx appends a price in style st.
func (b *book) appendPx(dst []byte, px int64, st numStyle) []byte {
	return appendDec(dst, px, -b.pxExp, st)
}

// appendSz appends a size in style st.
func (b *book) appendSz(dst []byte, sz int64, st numStyle) []byte {
	return appendDec(dst, sz, b.szScale, st)
}

// appendTop appends the best level of one side as two fields: pxKey then the price,
// szKey then the size. Keys are the literal text before each value, quotes and
// separators included (`","b":"`).
func (b *book) appendTop(dst []byte, ask bool, pxKey, szKey string, pst, sst numStyle) []byte {
	l := (*b.side(ask))[0]
	dst = append(dst, pxKey...)
	dst = b.appendPx(dst, l.px, pst)
	dst = append(dst, szKey...)
	return b.appendSz(dst, l.sz, sst)
}

// appendPxEach appends px in style st after each key (the literal text before the value,
// as in appendTop): tickers repeat the last price as open, high and low.
func (b *book) appendPxEach(dst []byte, px int64, st numStyle, keys ...string) []byte {
	for _, k := range keys {
		dst = append(dst, k...)
		dst = b.appendPx(dst, px, st)
	}
	return dst
}

// Level is one price level as the exchange writes it: exact decimal strings.
type Level struct{ Price, Size string }

// levels formats the top n levels of a side (n <= 0: all) in the venue's styles.
func (b *book) levels(ask bool, n int, pst, sst numStyle) []Level {
	s := *b.side(ask)
	if n <= 0 || n > len(s) {
		n = len(s)
	}
	out := make([]Level, n)
	var buf []byte
	for i := 0; i < n; i++ {
		buf = b.appendPx(buf[:0], s[i].px, pst)
		out[i].Price = string(buf)
		buf = b.appendSz(buf[:0], s[i].sz, sst)
		out[i].Size = string(buf)
	}
	return out
}
