package adapter

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// Shape is the exact compact text an exchange sends for one high-volume message, with
// holes where the values go: "%s" for the rest of a string up to its closing quote
// (`"s":"%s"`, `"topic":"orderbook.1.%s"`), "%n" for a number and "%b" for true or false.
// Match reads the values straight out of a frame that has this shape, without building a
// fastjson tree, which is most of the cost of a small frame (for a Binance bookTicker,
// the fastjson parse alone is about half). Prefix and Elems read a message whose arrays
// have any number of elements of one shape (book levels, trades).
//
// A frame matches only when it is the template byte for byte around the holes: every key
// present once, in the template's order, no whitespace, no escapes, nothing after the
// last byte. fastjson would read such a frame as the obvious object, so an adapter's fast
// path gives the same records as its fastjson path as long as it converts the values with
// the same functions and gives up (leaving the frame to the fastjson path) wherever the
// fastjson path would fail. The fastjson path stays the reference: it handles every other
// frame and reports every error. adaptertest.FuzzSame checks that the two agree.
//
// A Shape is immutable and safe for concurrent use.
type Shape struct {
	lits  []string  // lits[i] precedes hole i; the last one follows the last hole
	words []litWord // words[i] is lits[i] for hasLit
	holes []byte    // 's', 'n' or 'b'
}

// litWord is a literal of up to 16 bytes as two little-endian words and the masks of its
// bytes, so that hasLit compares it with two loads instead of a memequal call (a level
// of a book push has three literals; a Korean push, 90 to 180).
type litWord struct {
	w0, w1, m0, m1 uint64
	short          bool // len <= 16
}

func newLitWord(lit string) litWord {
	if len(lit) > 16 {
		return litWord{}
	}
	var b [16]byte
	copy(b[:], lit)
	lw := litWord{w0: binary.LittleEndian.Uint64(b[:8]), w1: binary.LittleEndian.Uint64(b[8:]), short: true}
	for i := range lit {
		if i < 8 {
			lw.m0 |= 0xff << (8 * i)
		} else {
			lw.m1 |= 0xff << (8 * (i - 8))
		}
	}
	return lw
}

// hasLit reports whether b starts with literal i.
func (s *Shape) hasLit(b []byte, i int) bool {
	lit := s.lits[i]
	if len(b) < len(lit) {
		return false
	}
	if w := &s.words[i]; w.short && len(b) >= 16 {
		return (binary.LittleEndian.Uint64(b)^w.w0)&w.m0 == 0 && (binary.LittleEndian.Uint64(b[8:])^w.w1)&w.m1 == 0
	}
	return string(b[:len(lit)]) == lit
}

// MustShape compiles a template and panics when it is not one (package-level variables
// only). A hole must be followed by a literal that ends its value: a string hole by the
// closing quote, a number or bool hole by a byte that cannot continue it.
func MustShape(template string) *Shape {
	s := &Shape{}
	rest := template
	for {
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			s.lits = append(s.lits, rest)
			break
		}
		if i+1 == len(rest) || rest[i+1] != 's' && rest[i+1] != 'n' && rest[i+1] != 'b' {
			panic(fmt.Sprintf("adapter: shape %q: '%%' not followed by s, n or b", template))
		}
		s.lits = append(s.lits, rest[:i])
		s.holes = append(s.holes, rest[i+1])
		rest = rest[i+2:]
	}
	for _, lit := range s.lits {
		s.words = append(s.words, newLitWord(lit))
	}
	for i, h := range s.holes {
		prev, next := s.lits[i], s.lits[i+1]
		switch {
		case h == 's' && !strings.HasPrefix(next, `"`):
			panic(fmt.Sprintf("adapter: shape %q: string hole %d is not followed by a quote", template, i))
		case h == 'n' && (next == "" || numberByte(next[0]) || strings.HasSuffix(prev, `"`)):
			panic(fmt.Sprintf("adapter: shape %q: number hole %d is not delimited", template, i))
		case h == 'b' && (next == "" || 'a' <= next[0] && next[0] <= 'z' || strings.HasSuffix(prev, `"`)):
			panic(fmt.Sprintf("adapter: shape %q: bool hole %d is not delimited", template, i))
		}
	}
	return s
}

// Holes returns the number of holes: the length Match needs in vals.
func (s *Shape) Holes() int { return len(s.holes) }

// Match reports whether frame has the shape and, if so, sets vals[i] to the text of hole
// i: a string's contents (its value, since it has no escapes) or a number as written.
// vals alias frame. len(vals) must be s.Holes(). A frame over MaxFrameBytes never
// matches: the fastjson path rejects it, so the fast path must not accept it.
func (s *Shape) Match(frame []byte, vals [][]byte) bool {
	if len(frame) > MaxFrameBytes {
		return false
	}
	rest, ok := s.Prefix(frame, vals)
	return ok && len(rest) == 0
}

// Head is Prefix for the start of a whole frame: like Match, it never matches a frame
// over MaxFrameBytes.
func (s *Shape) Head(frame []byte, vals [][]byte) (rest []byte, ok bool) {
	if len(frame) > MaxFrameBytes {
		return nil, false
	}
	return s.Prefix(frame, vals)
}

// Prefix is Match for the start of b: it matches the template through its last literal
// and returns what follows (a head of a message whose array of elements Elems reads
// next). It does not check b's size: Head does, for a whole frame.
func (s *Shape) Prefix(b []byte, vals [][]byte) (rest []byte, ok bool) {
	for i, h := range s.holes {
		if !s.hasLit(b, i) {
			return nil, false
		}
		b = b[len(s.lits[i]):]
		n := 0
		if h == 's' {
			n = stringEnd(b)
			if n == len(b) || b[n] != '"' {
				return nil, false // escapes (and raw control bytes): leave them to fastjson
			}
		} else if h == 'n' {
			for n < len(b) && numberBytes[b[n]] {
				n++
			}
			if n == 0 || n == 1 && (b[0] == '-' || b[0] == '+') {
				return nil, false // fastjson refuses a lone sign: so must the fast path
			}
		} else {
			switch {
			case len(b) >= 4 && string(b[:4]) == "true":
				n = 4
			case len(b) >= 5 && string(b[:5]) == "false":
				n = 5
			default:
				return nil, false
			}
		}
		vals[i], b = b[:n], b[n:]
	}
	if !s.hasLit(b, len(s.holes)) {
		return nil, false
	}
	return b[len(s.lits[len(s.holes)]):], true
}

// Elems reads the elements of a JSON array written without whitespace, each exactly as
// one Shape (the template of one element), from just after the array's '[':
//
//	it := unit.Elems(rest, wire.MaxLevels)
//	for it.Next(vals) { ...vals... }
//	rest, ok := it.Rest()
//
// It stops, not ok, at an element that does not match, at anything but ',' or ']' after
// one, and at more than max elements (the fastjson path's bound). No closure: vals stays
// on the caller's stack.
type Elems struct {
	s      *Shape
	rest   []byte
	n, max int
	state  int8 // elemsFirst, elemsIn, elemsDone, elemsBad
}

const (
	elemsFirst = iota
	elemsIn
	elemsDone
	elemsBad
)

// Elems starts reading an array's elements of shape s from b, just after its '['.
func (s *Shape) Elems(b []byte, max int) Elems { return Elems{s: s, rest: b, max: max} }

// Next reads the next element's values into vals (len Holes()); false at the array's end
// or where the array stops matching (Rest tells which).
func (e *Elems) Next(vals [][]byte) bool {
	switch e.state {
	case elemsFirst:
		if len(e.rest) > 0 && e.rest[0] == ']' {
			e.rest, e.state = e.rest[1:], elemsDone
			return false
		}
	case elemsIn:
		switch {
		case len(e.rest) > 0 && e.rest[0] == ']':
			e.rest, e.state = e.rest[1:], elemsDone
			return false
		case len(e.rest) > 0 && e.rest[0] == ',':
			e.rest = e.rest[1:]
		default:
			e.state = elemsBad
			return false
		}
	default:
		return false
	}
	e.n++
	var ok bool
	if e.n > e.max {
		e.state = elemsBad
		return false
	}
	if e.rest, ok = e.s.Prefix(e.rest, vals); !ok {
		e.state = elemsBad
		return false
	}
	e.state = elemsIn
	return true
}

// Rest returns what follows the array's ']' and whether the whole array was read.
func (e *Elems) Rest() ([]byte, bool) { return e.rest, e.state == elemsDone }

// numberByte reports whether c can be part of a number's text as fastjson delimits it.
func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
}

// numberBytes is numberByte as a table (Prefix's number holes).
var numberBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = numberByte(byte(c))
	}
	return t
}()

// stringEnd returns the index of the first byte of b that ends a string hole's value: a
// quote, a backslash or a control byte (below 0x20); len(b) if there is none. It reads
// eight bytes at a time (SWAR): values are mostly prices, sizes and symbols of 6 to 20
// bytes.
func stringEnd(b []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	n := 0
	for ; n+8 <= len(b); n += 8 {
		x := binary.LittleEndian.Uint64(b[n:])
		// A byte of m has its high bit set where x's byte is '"', '\\' or below 0x20 (the
		// exact test of the high bits of "has a zero byte" for x^'"', x^'\\' and x<0x20;
		// bytes of 0x80 and above never set it).
		q, bs := x^(ones*'"'), x^(ones*'\\')
		m := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
		if m &= highs; m != 0 {
			// The lowest set bit is exact; a borrow can only mark bytes above it.
			return n + bits.TrailingZeros64(m)/8
		}
	}
	for ; n < len(b); n++ {
		if c := b[n]; c == '"' || c == '\\' || c < 0x20 {
			break
		}
	}
	return n
}

// Conv converts the values a Shape matched. Each method succeeds exactly where the
// Reader method of the same name succeeds, with the same result; Failed reports whether
// any conversion failed, in which case the fast path gives up and the fastjson path
// reports the error. The zero value is ready to use.
type Conv struct{ failed bool }

// Failed reports whether any conversion failed.
func (c *Conv) Failed() bool { return c.failed }

// Uint is Reader.Uint of a Shape value.
func (c *Conv) Uint(b []byte) uint64 {
	n, ok := ParseID(b)
	c.failed = c.failed || !ok
	return n
}

// Decimal is Reader.Decimal of a Shape value.
func (c *Conv) Decimal(b []byte) wire.Decimal {
	d, err := wire.ParseDecimal(b)
	c.failed = c.failed || err != nil || d.Sign() < 0
	return d
}

// BBO takes a bbo record slot of out and sets its bid and ask from Shape values (the
// fast path of a venue's BBO message); the caller fills the rest, and drops the record
// when Failed.
func (c *Conv) BBO(out *Batch, bidPx, bidSz, askPx, askSz []byte) *wire.Record {
	r := out.Next()
	r.Kind = wire.KindBBO
	r.BidPx, r.BidSz = c.Decimal(bidPx), c.Decimal(bidSz)
	r.AskPx, r.AskSz = c.Decimal(askPx), c.Decimal(askSz)
	return r
}

// ISO is ISONs (UTC unless the text says otherwise) of a Shape value.
func (c *Conv) ISO(b []byte) int64 { return c.ISOIn(b, 0) }

// ISOIn is ISONs of a Shape value in a venue's zone (defaultOffset seconds east of UTC
// unless the text says otherwise, e.g. KST).
func (c *Conv) ISOIn(b []byte, defaultOffset int) int64 {
	ns, err := ISONs(b, defaultOffset)
	c.failed = c.failed || err != nil
	return ns
}

// Check fails the conversion when ok is false (a rule of the venue's fastjson path the
// fast path must give up on as well).
func (c *Conv) Check(ok bool) { c.failed = c.failed || !ok }

// Epoch is Reader.Epoch of a Shape value.
func (c *Conv) Epoch(b []byte, unit time.Duration) int64 {
	ns, err := EpochNs(b, unit)
	c.failed = c.failed || err != nil
	return ns
}

// Levels appends to dst the levels of an array read from b, just after its '[', each of
// shape level (its first two holes price and size; up to two more are ignored, as
// Reader.Levels ignores a level's extra elements), converted by c; rest follows the ']'.
// ok is false where the array stops matching (Elems).
func (c *Conv) Levels(dst []wire.Level, b []byte, level *Shape) (levels []wire.Level, rest []byte, ok bool) {
	var v [4][]byte
	it := level.Elems(b, wire.MaxLevels)
	for it.Next(v[:level.Holes()]) {
		dst = append(dst, wire.Level{Price: c.Decimal(v[0]), Size: c.Decimal(v[1])})
	}
	rest, ok = it.Rest()
	return dst, rest, ok
}

// Trade takes a trade record slot of out and sets its id, price and size from Shape
// values (the fast path of a venue's trade message); the caller fills the rest and drops
// the record when Failed.
func (c *Conv) Trade(out *Batch, id, px, sz []byte) *wire.Record {
	r := out.Next()
	r.Kind = wire.KindTrade
	r.Seq = c.Uint(id)
	r.Price, r.Size = c.Decimal(px), c.Decimal(sz)
	return r
}

// BookKind is the kind of a book message whose type text is b: book_snapshot for the
// venue's snapshot text, book_delta for its delta text; anything else fails.
func (c *Conv) BookKind(b []byte, snapshot, delta string) wire.Kind {
	switch string(b) {
	case snapshot:
		return wire.KindBookSnapshot
	case delta:
		return wire.KindBookDelta
	}
	c.failed = true
	return wire.KindBookDelta
}

// Sides reads a book message's two level arrays from b, just after the first one's '[':
// the first array into *first (Levels), mid (the text from its ']' through the second
// one's '[', e.g. `,"a":[`), the second array into *second; rest follows the second ']'.
func (c *Conv) Sides(first, second *[]wire.Level, b []byte, level, mid *Shape) (rest []byte, ok bool) {
	*first, rest, ok = c.Levels(*first, b, level)
	if ok {
		rest, ok = mid.Prefix(rest, nil)
	}
	if ok {
		*second, rest, ok = c.Levels(*second, rest, level)
	}
	return rest, ok
}

// Side is SideAt of a Shape value: buy is the venue's text for a taker buy, sell for a
// taker sell; anything else fails the conversion.
func (c *Conv) Side(b []byte, buy, sell string) wire.Side {
	switch string(b) {
	case buy:
		return wire.SideBuy
	case sell:
		return wire.SideSell
	}
	c.failed = true
	return 0
}

// Items reads the items of a message's array (trades), each of one shape, for a fast
// path that makes one record of each: whole or not at all.
//
//	items := tradeItem.Items(rest, out)
//	for items.Next(v[:]) {
//		... r := out.Next() ...
//		items.Kept(ps.Keep(&c, r, sym, recvNs, out))
//	}
//	return items.End(tail)
type Items struct {
	it    Elems
	out   *Batch
	first int
	ok    bool
}

// Items starts reading the items of shape s from b, just after the array's '[', for
// records appended to out.
func (s *Shape) Items(b []byte, out *Batch) Items {
	return Items{it: s.Elems(b, wire.MaxLevels), out: out, first: out.Len(), ok: true}
}

// Next reads the next item's values into vals; false at the array's end, where it stops
// matching, or after an item was not kept.
func (t *Items) Next(vals [][]byte) bool { return t.ok && t.it.Next(vals) }

// Kept reports whether the last item's record was kept; false gives up the message.
func (t *Items) Kept(ok bool) { t.ok = t.ok && ok }

// End reports whether the whole message was read: every item kept, the array whole, and
// end (what follows its ']') matched to the frame's end. On false it drops every record
// the message appended.
func (t *Items) End(end *Shape) bool {
	if t.ok {
		rest, ok := t.it.Rest()
		t.ok = ok && end.Match(rest, nil)
	}
	if !t.ok {
		t.out.Truncate(t.first)
	}
	return t.ok
}

// LevelTexts is Levels that also appends each level's price and size texts to texts,
// for a content key folded later in the fastjson path's order.
func (c *Conv) LevelTexts(dst []wire.Level, texts [][]byte, b []byte, level *Shape) (levels []wire.Level, txt [][]byte, rest []byte, ok bool) {
	var v [4][]byte
	it := level.Elems(b, wire.MaxLevels)
	for it.Next(v[:level.Holes()]) {
		dst = append(dst, wire.Level{Price: c.Decimal(v[0]), Size: c.Decimal(v[1])})
		texts = append(texts, v[0], v[1])
	}
	rest, ok = it.Rest()
	return dst, texts, rest, ok
}

// ContentKeyAll folds each text into the content key h (ContentKey), in order, and
// clears texts: they are a parser's scratch of slices into the frame, and a parser never
// retains a frame.
func ContentKeyAll(h uint64, texts [][]byte) uint64 {
	for _, t := range texts {
		h = ContentKey(h, t)
	}
	clear(texts)
	return h
}

// BookSides reads, without a fastjson tree, the two level arrays of a book message that
// lists its asks first ("asks":[...],"bids":[...]), as the Korean venues do. It is the
// scratch of one parser (the zero value is ready) and keeps the level texts, because the
// venues' fastjson paths fold the bids into the content key first.
type BookSides struct{ asks, bids [][]byte }

// Read reads from b, just after the asks' '[': the asks, each of shape level (two holes:
// price and size), then mid (the text from the asks' ']' through the bids' '[', e.g.
// `,"bids":[`), then the bids through their ']'. It appends the levels to r.Asks and
// r.Bids, converted by c, and returns what follows and key: h with each bid's price and
// size text folded in (ContentKey), then each ask's. On ok false the caller gives up.
func (s *BookSides) Read(c *Conv, b []byte, level, mid *Shape, r *wire.Record, h uint64) (rest []byte, key uint64, ok bool) {
	r.Asks, s.asks, rest, ok = c.LevelTexts(r.Asks, s.asks[:0], b, level)
	if ok {
		rest, ok = mid.Prefix(rest, nil)
	}
	if ok {
		r.Bids, s.bids, rest, ok = c.LevelTexts(r.Bids, s.bids[:0], rest, level)
	}
	if !ok {
		clear(s.asks)
		clear(s.bids)
		return nil, 0, false
	}
	return rest, ContentKeyAll(ContentKeyAll(h, s.bids), s.asks), true
}
