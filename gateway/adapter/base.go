package adapter

import (
	"fmt"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Base is a venue's static facts and the Adapter methods that only report them. A
// venue's Adapter embeds it, fills it in New, and writes Plan, NewParser and whatever
// else differs (a method the venue writes itself wins over Base's). Immutable after New.
type Base struct {
	Venue     wire.Exchange // Exchange
	Rules     Limits        // Limits
	Books     BookRule      // BookRule
	Heartbeat PingKind      // Ping's kind
	PingFrame []byte        // Ping's payload (PingText); callers must not modify it
	Ids       Identities    // Identity: how the venue identifies each kind of event
	DenseIDs  bool          // DenseTradeIDs: trade ids are consecutive per instrument
}

// Exchange returns the venue.
func (b *Base) Exchange() wire.Exchange { return b.Venue }

// Limits returns the venue's per-connection rules.
func (b *Base) Limits() Limits { return b.Rules }

// BookRule returns how the venue's books chain.
func (b *Base) BookRule() BookRule { return b.Books }

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
// fastjson parser, a Reader and a SymbolCache, all owned by the parser's goroutine; and
// the Parser methods that are the same for most venues.
type ParserBase struct {
	JSON fastjson.Parser // every tree-path frame is parsed with it
	Rd   Reader
	Syms SymbolCache
}

// Object parses a frame that must be a JSON object (ParseObject with JSON).
func (b *ParserBase) Object(frame []byte) (*fastjson.Value, error) {
	return ParseObject(&b.JSON, frame)
}

// Reply returns nil: the default for venues that never ask the client for a text
// heartbeat reply (Parse never returns ResultPing).
func (*ParserBase) Reply() []byte { return nil }

// ParseSnapshot returns ErrUnsupported: the default for venues whose books come over the
// stream (whole each push, or snapshot then deltas), never from a REST snapshot.
func (*ParserBase) ParseSnapshot([]byte, string, int64, *Batch) error {
	return fmt.Errorf("%w: books come over the stream, not from a REST snapshot", ErrUnsupported)
}
