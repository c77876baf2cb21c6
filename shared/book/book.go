// Package book keeps an L2 order book with exact decimal prices: the gateway's book sync
// (gateway/chain) and the strategy both build on it.
//
// Ownership: a Book is owned by one goroutine; nothing here locks.
package book

import (
	"github.com/tickline/tickline/shared/wire"
)

// side is one side of a book: levels sorted best first and found by binary search on
// their value (Decimal.Cmp), prices kept as the exchange wrote them (checksums use the
// text: Kraken's "0.12290" must not become "0.1229").
type side struct {
	levels []wire.Level
	bids   bool // true: descending prices (best = highest)
}

// search returns the index of price p, or where it would be inserted, and whether found.
func (s *side) search(p wire.Decimal) (int, bool) {
	lo, hi := 0, len(s.levels)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := s.levels[m].Price.Cmp(p)
		if s.bids {
			c = -c
		}
		switch {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			return m, true
		}
	}
	return lo, false
}

// set puts size at price: size 0 removes the level.
func (s *side) set(p, size wire.Decimal) {
	if n := len(s.levels); !size.IsZero() && (n == 0 || s.worse(p, s.levels[n-1].Price)) {
		// Beyond the worst level: snapshots list their levels best first, so each one
		// lands here in one comparison instead of a binary search.
		s.levels = append(s.levels, wire.Level{Price: p, Size: size})
		return
	}
	i, found := s.search(p)
	switch {
	case size.IsZero() && found:
		s.levels = append(s.levels[:i], s.levels[i+1:]...)
	case size.IsZero():
	case found:
		s.levels[i] = wire.Level{Price: p, Size: size} // the latest text of the price wins
	default:
		s.levels = append(s.levels, wire.Level{})
		copy(s.levels[i+1:], s.levels[i:])
		s.levels[i] = wire.Level{Price: p, Size: size}
	}
}

// worse reports whether price p ranks strictly behind q on this side.
func (s *side) worse(p, q wire.Decimal) bool {
	if s.bids {
		return p.Cmp(q) < 0
	}
	return p.Cmp(q) > 0
}

// Book is one instrument's L2 book. The zero value is an empty book ready for use.
type Book struct {
	bid, ask side
	// MaxDepth, if > 0, trims each side to this many levels after every update (exchanges
	// that send only the top N, e.g. Kraken depth 10, drop levels that fall out of it).
	MaxDepth int

	trimBids, trimAsks []wire.Level // cut off by the last Apply
}

func (b *Book) init() { b.bid.bids = true }

// Reset empties the book, keeping its memory.
func (b *Book) Reset() {
	b.init()
	b.bid.levels, b.ask.levels = b.bid.levels[:0], b.ask.levels[:0]
}

// Snapshot replaces the book with the given levels (any order; zero sizes ignored).
func (b *Book) Snapshot(bids, asks []wire.Level) {
	b.Reset()
	b.Apply(bids, asks)
}

// Apply applies changed levels: absolute sizes, size 0 removes the level.
func (b *Book) Apply(bids, asks []wire.Level) {
	b.init()
	for _, l := range bids {
		b.bid.set(l.Price, l.Size) // as written: Kraken checksums the exchange's text
	}
	for _, l := range asks {
		b.ask.set(l.Price, l.Size)
	}
	b.trimBids, b.trimAsks = b.trimBids[:0], b.trimAsks[:0]
	if b.MaxDepth > 0 {
		if len(b.bid.levels) > b.MaxDepth {
			b.trimBids = append(b.trimBids, b.bid.levels[b.MaxDepth:]...)
			b.bid.levels = b.bid.levels[:b.MaxDepth]
		}
		if len(b.ask.levels) > b.MaxDepth {
			b.trimAsks = append(b.trimAsks, b.ask.levels[b.MaxDepth:]...)
			b.ask.levels = b.ask.levels[:b.MaxDepth]
		}
	}
}

// Trimmed returns the levels the last Apply cut off beyond MaxDepth (valid until the next
// Apply): a gateway publishes them as removals so that consumers, who do not know the
// depth, hold the same book.
func (b *Book) Trimmed() (bids, asks []wire.Level) { return b.trimBids, b.trimAsks }

// Bids returns the bid levels, best (highest) first. The slice aliases the book: valid
// until the next change.
func (b *Book) Bids() []wire.Level { return b.bid.levels }

// Asks returns the ask levels, best (lowest) first. The slice aliases the book.
func (b *Book) Asks() []wire.Level { return b.ask.levels }

// Best returns the best bid and ask; ok is false when either side is empty.
func (b *Book) Best() (bid, ask wire.Level, ok bool) {
	if len(b.bid.levels) == 0 || len(b.ask.levels) == 0 {
		return wire.Level{}, wire.Level{}, false
	}
	return b.bid.levels[0], b.ask.levels[0], true
}

// Crossed reports whether the best bid is at or above the best ask.
func (b *Book) Crossed() bool {
	bid, ask, ok := b.Best()
	return ok && bid.Price.Cmp(ask.Price) >= 0
}
