package adapter

import (
	"fmt"
	"time"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Base is a venue's static facts and the Adapter methods that only report them. A
// venue's Adapter embeds it, fills it in New, and writes Plan, NewParser and whatever
// else differs (a method the venue writes itself wins over Base's). What the venue table
// (shared/wire) holds, the book rule and the limits, Base reads from there. Immutable
// after New.
type Base struct {
	Venue     wire.Exchange // Exchange
	Heartbeat PingKind      // Ping's kind
	PingFrame []byte        // Ping's payload (PingText); callers must not modify it
	Ids       Identities    // Identity: how the venue identifies each kind of event
	DenseIDs  bool          // DenseTradeIDs: trade ids are consecutive per instrument
}

// Exchange returns the venue.
func (b *Base) Exchange() wire.Exchange { return b.Venue }

// Limits returns the venue's per-connection rules: the Limits of its row of the venue
// table (shared/wire), the one place they are written.
func (b *Base) Limits() Limits {
	v, _ := b.Venue.Venue()
	return v.Limits
}

// BookRule returns how the venue's books chain: the Book of its row of the venue table
// (shared/wire), the one place that fact is written.
func (b *Base) BookRule() BookRule {
	v, _ := b.Venue.Venue()
	return v.Book
}

// Ping returns the client heartbeat.
func (b *Base) Ping() (PingKind, []byte) { return b.Heartbeat, b.PingFrame }

// Identity states how the venue identifies events of kind k (Ids).
func (b *Base) Identity(k wire.Kind) wire.Identity { return b.Ids.Of(k) }

// DenseTradeIDs reports DenseIDs.
func (b *Base) DenseTradeIDs() bool { return b.DenseIDs }

// Resubscribe returns nil (reconnect to resync): the default for venues whose books come
// whole each push or resync from REST.
func (*Base) Resubscribe(Sub) [][]byte { return nil }

// SnapshotURL returns "": the default for venues without a REST snapshot step.
func (*Base) SnapshotURL(string, string, int) string { return "" }

// ParserBase is the state most venue parsers share, embedded in their Parser: the
// fastjson parser, a Reader and a SymbolCache, all owned by the parser's goroutine, the
// venue and its symbol→instrument rule; and the Parser methods that are the same for
// most venues.
type ParserBase struct {
	JSON fastjson.Parser // every tree-path frame is parsed with it
	Rd   Reader
	Syms SymbolCache
	// Venue and Instrument are set by NewParserBase: the exchange stamped on every record
	// and the conversion of the venue's symbol to the canonical instrument.
	Venue      wire.Exchange
	Instrument func(dst *wire.Name, sym []byte) error
	key        uint64 // content key of the record being built (StartKeyed, Hash)
	tree       uint64 // frames parsed into a fastjson tree (Object, Frame): TreeFrames
}

// TreeCounter is a parser that counts the frames its fast paths did not take: those it
// parsed into a fastjson tree (control messages, other message types, and data in a
// layout the venue's Shapes do not match). The gateway exports the count per exchange, so
// that live traffic which stopped matching the fast paths shows (it stays correct, at the
// fastjson path's cost).
type TreeCounter interface{ TreeFrames() uint64 }

// TreeFrames returns how many frames Object and Frame parsed (TreeCounter).
func (b *ParserBase) TreeFrames() uint64 { return b.tree }

// NewParserBase returns the base of a parser for venue ex whose symbols convert to
// instruments with inst.
func NewParserBase(ex wire.Exchange, inst func(dst *wire.Name, sym []byte) error) ParserBase {
	return ParserBase{Venue: ex, Instrument: inst}
}

// Header fills the fields every record shares: exchange, receive time, and the symbol and
// its instrument (through the SymbolCache).
func (b *ParserBase) Header(r *wire.Record, sym []byte, recvNs int64) error {
	r.Exchange, r.TsRecv = b.Venue, recvNs
	return b.Syms.Resolve(r, sym, b.Instrument)
}

// Start takes a record slot of kind k for the symbol at key symKey of o and fills its
// header; on error nothing is left appended.
func (b *ParserBase) Start(out *Batch, k wire.Kind, o *fastjson.Value, symKey string, recvNs int64) (*wire.Record, error) {
	sym, err := StringAt(o, symKey)
	if err != nil {
		return nil, err
	}
	return b.StartSym(out, k, sym, recvNs)
}

// StartSym takes a record slot of kind k for symbol sym and fills its header (Header); on
// error nothing is left appended.
func (b *ParserBase) StartSym(out *Batch, k wire.Kind, sym []byte, recvNs int64) (*wire.Record, error) {
	r := out.Next()
	r.Kind = k
	if err := b.Header(r, sym, recvNs); err != nil {
		return nil, Fail(out, err)
	}
	return r, nil
}

// Keep finishes a fast-path record r of symbol sym (Conv): when a conversion failed or
// the symbol does not resolve, it drops r and returns false, and the fastjson path then
// handles the frame (and reports the error).
func (b *ParserBase) Keep(c *Conv, r *wire.Record, sym []byte, recvNs int64, out *Batch) bool {
	if c.Failed() || b.Header(r, sym, recvNs) != nil {
		out.Drop()
		return false
	}
	return true
}

// KeyedSnapshot is the fast-path start of a whole book pushed without an id: a
// book_snapshot slot of out with FlagNoSeq and exchange time ns (c converts ts in unit),
// and its content key started as StartKeyed and the venues' Ts/ts readers start it: the
// symbol's text, then the time's. KeepKeyed finishes it.
func KeyedSnapshot(c *Conv, out *Batch, sym, ts []byte, unit time.Duration) (*wire.Record, uint64) {
	r := out.Next()
	r.Kind, r.Flags = wire.KindBookSnapshot, wire.FlagNoSeq
	r.TsExchange = c.Epoch(ts, unit)
	return r, ContentKey(ContentKey(FNVOffset64, sym), ts)
}

// KeepKeyed is Keep for a fast-path record keyed by its content: when kept, its Seq is
// the content key h.
func (b *ParserBase) KeepKeyed(c *Conv, r *wire.Record, sym []byte, recvNs int64, out *Batch, h uint64) bool {
	if !b.Keep(c, r, sym, recvNs, out) {
		return false
	}
	r.Seq = h
	return true
}

// StartKeyed appends a record of kind k for symbol sym (Header) and starts its content
// key (ContentKey) with sym, for venues whose records without an id are keyed by their
// content: Hash folds in each field text after it, Key returns the key.
func (b *ParserBase) StartKeyed(out *Batch, k wire.Kind, sym []byte, recvNs int64) (*wire.Record, error) {
	r, err := b.StartSym(out, k, sym, recvNs)
	if err != nil {
		return nil, err
	}
	b.key = ContentKey(FNVOffset64, sym)
	return r, nil
}

// StartISOKeyed takes a record slot of kind k for the symbol at key symKey of o (Start)
// for a venue that sends no id for it: FlagNoSeq, the exchange time from the ISO 8601
// string at timeKey (ISOAt, required or not) and the content key started with the
// symbol and the time's text (Key). On error nothing is left appended.
func (b *ParserBase) StartISOKeyed(out *Batch, k wire.Kind, o *fastjson.Value, symKey, timeKey string, required bool, recvNs int64) (*wire.Record, error) {
	r, err := b.Start(out, k, o, symKey, recvNs)
	if err != nil {
		return nil, err
	}
	r.Flags = wire.FlagNoSeq
	var ts []byte
	if r.TsExchange, ts, err = ISOAt(o, timeKey, required); err != nil {
		return nil, Fail(out, err)
	}
	b.key = ContentKey(ContentKey(FNVOffset64, r.Symbol.Bytes()), ts)
	return r, nil
}

// StartKeyedAt is StartKeyed for the symbol at key symKey of o.
func (b *ParserBase) StartKeyedAt(out *Batch, k wire.Kind, o *fastjson.Value, symKey string, recvNs int64) (*wire.Record, error) {
	sym, err := StringAt(o, symKey)
	if err != nil {
		return nil, err
	}
	return b.StartKeyed(out, k, sym, recvNs)
}

// Hash folds one field text into the content key.
func (b *ParserBase) Hash(t []byte) { b.key = ContentKey(b.key, t) }

// Key returns the content key so far.
func (b *ParserBase) Key() uint64 { return b.key }

// SetKey sets the content key (a key that goes on over several records).
func (b *ParserBase) SetKey(h uint64) { b.key = h }

// KeyedRaw returns the text of the string or number at key of o (Reader.Raw) and folds
// it into the content key.
func (b *ParserBase) KeyedRaw(o *fastjson.Value, key string) ([]byte, error) {
	t, err := b.Rd.Raw(o.Get(key))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	b.Hash(t)
	return t, nil
}

// ObjectLevels appends to dst the levels of the book side at field of o, a JSON array of
// objects (LevelObject) with the price at priceKey and the size at sizeKey. With keyed it
// also folds every price and size text, as the exchange wrote it, into the content key
// (Hash).
func (b *ParserBase) ObjectLevels(dst []wire.Level, o *fastjson.Value, field, priceKey, sizeKey string, keyed bool) ([]wire.Level, error) {
	levels, err := LevelList(o.Get(field), field)
	if err != nil {
		return dst, err
	}
	for _, lv := range levels {
		if err := LevelObject(lv, field); err != nil {
			return dst, err
		}
		var l wire.Level
		if l.Price, err = b.decimalAt(lv, priceKey, keyed); err != nil {
			return dst, err
		}
		if l.Size, err = b.decimalAt(lv, sizeKey, keyed); err != nil {
			return dst, err
		}
		dst = append(dst, l)
	}
	return dst, nil
}

// decimalAt is Reader.DecimalAt that, with keyed, folds the value's text into the content
// key.
func (b *ParserBase) decimalAt(o *fastjson.Value, key string, keyed bool) (wire.Decimal, error) {
	d, t, err := b.Rd.DecimalText(o.Get(key), key)
	if err == nil && keyed {
		b.Hash(t)
	}
	return d, err
}

// SideAt reads the string at key of o as a taker side: buy is the venue's text for a
// taker buy, sell for a taker sell (a venue that reports the maker's side passes them
// the other way round); anything else is ErrMalformed.
func SideAt(o *fastjson.Value, key, buy, sell string) (wire.Side, error) {
	s, err := StringAt(o, key)
	if err != nil {
		return 0, err
	}
	switch string(s) {
	case buy:
		return wire.SideBuy, nil
	case sell:
		return wire.SideSell, nil
	}
	return 0, fmt.Errorf("%w: %s %q", ErrMalformed, key, s)
}

// PriceSize reads the decimals at keys price and size of o.
func (rd *Reader) PriceSize(o *fastjson.Value, price, size string) (px, sz wire.Decimal, err error) {
	if px, err = rd.DecimalAt(o, price); err != nil {
		return px, sz, err
	}
	sz, err = rd.DecimalAt(o, size)
	return px, sz, err
}

// Object parses a frame that must be a JSON object (ParseObject with JSON), counted in
// TreeFrames.
func (b *ParserBase) Object(frame []byte) (*fastjson.Value, error) {
	b.tree++
	return ParseObject(&b.JSON, frame)
}

// Frame parses a frame of any JSON value (ParseFrame with JSON), counted in TreeFrames.
func (b *ParserBase) Frame(frame []byte) (*fastjson.Value, error) {
	b.tree++
	return ParseFrame(&b.JSON, frame)
}

// Reply returns nil: the default for venues that never ask the client for a text
// heartbeat reply (Parse never returns ResultPing).
func (*ParserBase) Reply() []byte { return nil }

// ParseSnapshot returns ErrUnsupported: the default for venues whose books come over the
// stream (whole each push, or snapshot then deltas), never from a REST snapshot.
func (*ParserBase) ParseSnapshot([]byte, string, int64, *Batch) error {
	return fmt.Errorf("%w: books come over the stream, not from a REST snapshot", ErrUnsupported)
}
