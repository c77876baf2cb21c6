// Package adapter defines the shape every exchange adapter has (gateway/binance,
// gateway/okx, ...): what the session layer asks of an exchange, and the helpers adapters
// share (instrument names, timestamps, decimals out of fastjson values, and Shape: the
// fast path for a venue's busiest message in its exact usual text, read without building
// a fastjson tree; every other frame, and every error, goes through fastjson).
//
// An adapter is split in two on purpose:
//   - the stateless part, Parse, turns one frame into normalized wire.Records with no
//     book state (this is what `tickline normalize` runs);
//   - the session part (Plan, Ping, Snapshot*) tells the gateway's session how to connect,
//     subscribe, keep the connection alive and fetch a REST snapshot; the book rules
//     (BookRule) tell the gateway's book sync how sequence ids chain.
//
// Ownership: an Adapter value is immutable after New and safe for concurrent use; the
// parser state (a fastjson.Parser and scratch space) lives in a Parser obtained from
// NewParser, owned by exactly one goroutine (one per connection).
package adapter

import (
	"errors"

	"github.com/tickline/tickline/shared/wire"
)

// Channel is a kind of market data a gateway subscribes to.
type Channel uint8

// Channels. Names are those used in the topology file.
const (
	ChanBBO    Channel = 1 // best bid/offer: the exchange's BBO channel, or the book top
	ChanTrade  Channel = 2 // trades
	ChanBook   Channel = 3 // L2 order book: snapshot + deltas, or full books per push
	ChanTicker Channel = 4 // ticker (last price), where the exchange has one
)

// String returns the channel's config name.
func (c Channel) String() string {
	switch c {
	case ChanBBO:
		return "bbo"
	case ChanTrade:
		return "trade"
	case ChanBook:
		return "book"
	case ChanTicker:
		return "ticker"
	}
	return "channel?"
}

// ParseChannel maps a config name to a Channel.
func ParseChannel(s string) (Channel, error) {
	for c := ChanBBO; c <= ChanTicker; c++ {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, errors.New("adapter: unknown channel " + s)
}

// Sub is one symbol's subscription, as the topology file declares it.
type Sub struct {
	Symbol   string // the exchange's own symbol, as written in config ("BTCUSDT", "KRW-BTC")
	Channels []Channel
	Depth    int // book depth wanted, 0 = adapter default
}

// ConnPlan is one WebSocket connection the session opens: the URL and the frames to send
// after connecting, already split to respect the exchange's per-connection limits.
type ConnPlan struct {
	URL       string
	Subscribe [][]byte // text frames, sent in order, paced by Limits.SubscribeInterval
	Symbols   []string // the symbols this connection carries (for per-symbol resync)
}

// Limits are an exchange's per-connection rules: the Limits of its row of the venue table
// (shared/wire), where each field and each venue's values are documented.
type Limits = wire.VenueLimits

// PingKind says how the client heartbeat is sent.
type PingKind uint8

// Ping kinds.
const (
	PingNone      PingKind = 0 // no client heartbeat
	PingWSControl PingKind = 1 // a WebSocket ping control frame
	PingText      PingKind = 2 // a text frame with PingPayload ("ping", {"op":"ping"}, ...)
)

// BookRule tells the gateway's book sync how an exchange's book messages chain. The rules
// are wire's (documented there): the venue table states each exchange's, and its adapter's
// BookRule returns the same (gateway's registry test checks).
type BookRule = wire.BookRule

// Book rules.
const (
	BookFullEachPush   = wire.BookFullEachPush   // full top N each push (Upbit, Bithumb, Korbit, Coinone)
	BookStreamSnapshot = wire.BookStreamSnapshot // stream snapshot + chained deltas (OKX, Bybit, Coinbase)
	BookRESTSnapshot   = wire.BookRESTSnapshot   // REST snapshot + chained stream deltas (Binance, Gate)
	BookChecksum       = wire.BookChecksum       // snapshot + deltas verified by CRC32 (Kraken)
)

// Result classifies a frame that Parse consumed.
type Result uint8

// Parse results.
const (
	ResultData    Result = 0 // records were appended (possibly none, e.g. an empty update)
	ResultControl Result = 1 // subscription ack, pong, info: nothing to publish
	ResultPing    Result = 2 // the server asked for a heartbeat reply: send Parser.Reply()
	ResultError   Result = 3 // the exchange reported an error (returned error says which)
	ResultClosing Result = 4 // the exchange announced a planned disconnect
)

// Adapter is what every exchange package exports through its New function. All methods
// are safe for concurrent use.
type Adapter interface {
	// Exchange returns the exchange this adapter speaks.
	Exchange() wire.Exchange
	// Limits returns the exchange's per-connection rules.
	Limits() Limits
	// BookRule returns how this exchange's books chain.
	BookRule() BookRule
	// Plan returns the connections to open for subs on the base WebSocket URL wsURL.
	Plan(wsURL string, subs []Sub) ([]ConnPlan, error)
	// Ping returns the client heartbeat: its kind and, for PingText, the payload.
	Ping() (PingKind, []byte)
	// Resubscribe returns the frames that make the exchange send a fresh book snapshot for
	// one symbol on an open connection (BookStreamSnapshot); nil means reconnect instead.
	Resubscribe(sub Sub) [][]byte
	// SnapshotURL returns the REST URL of a book snapshot (BookRESTSnapshot only).
	SnapshotURL(restURL, symbol string, depth int) string
	// NewParser returns a parser owned by one goroutine.
	NewParser() Parser
	// Identity states how the venue identifies its events of kind k, i.e. what Seq holds
	// on the records Parse (and the book sync, for books and book-derived BBOs) produce
	// for k, in the format Plan subscribes: wire.IdentityDense when every event continues
	// its predecessor (Seq == previous Seq + 1, or for book deltas SeqFirst == previous
	// Seq + 1) so that a jump is a loss; wire.IdentitySparse for an id that only grows;
	// wire.IdentityTradeID for an exchange trade id; wire.IdentityContent when the venue
	// sends no id and Seq is a content key (wire.FlagNoSeq) over the fields that make the
	// event unique, exchange time included where the venue sends one; wire.IdentityNone
	// for kinds the adapter never produces (KindStatus included). Records of a format
	// the venue has superseded, or of a secondary channel (OKX tickers as BBO), may
	// differ: their Flags always say what Seq is. Each adapter's package doc has the
	// table.
	Identity(k wire.Kind) wire.Identity
	// DenseTradeIDs reports whether the venue's trade ids are consecutive per instrument
	// (documented, or shown by its feeds), so that a hole between two trades is a lost
	// trade the gateway marks with a gap status.
	DenseTradeIDs() bool
}

// BookDepther is implemented by adapters whose Plan subscribes a book depth other than
// Sub.Depth (Kraken accepts only 10, 25, 100, 500 or 1000 and defaults to 10): the
// gateway keeps its local book to BookDepth(Sub.Depth) levels per side, as the
// exchange's own book for that subscription is (its checksum covers that book).
type BookDepther interface {
	BookDepth(want int) int
}

// Checksummer is implemented by adapters whose books carry a checksum (BookChecksum):
// it computes the exchange's checksum over a book given best-first bids and asks, for
// comparison with Record.Checksum after a delta is applied.
type Checksummer interface {
	Checksum(bids, asks []wire.Level) uint32
}

// Parser normalizes frames. A Parser is owned by one goroutine and reuses its memory:
// zero allocations per frame in steady state.
type Parser interface {
	// Parse normalizes one WebSocket frame (text, or binary UTF-8 JSON) and appends the
	// records to out. recvNs is the gateway receive time (stamped as TsRecv). It never
	// retains frame. On error nothing usable was appended for the failing item and the
	// error wraps ErrMalformed, ErrUnsupported or ErrExchange.
	Parse(frame []byte, recvNs int64, out *Batch) (Result, error)
	// ParseSnapshot normalizes a REST book snapshot body for symbol into one
	// KindBookSnapshot record (Seq = the snapshot's update id).
	ParseSnapshot(body []byte, symbol string, recvNs int64, out *Batch) error
	// Reply returns the heartbeat answer after Parse returned ResultPing. The slice is
	// valid until the next Parse.
	Reply() []byte
}

// Errors adapters wrap.
var (
	// ErrMalformed: the frame is not what the exchange's documented format says
	// (bad JSON, missing field, wrong type, bad number, NaN, absurd value, oversized).
	ErrMalformed = errors.New("malformed frame")
	// ErrUnsupported: well-formed, but a message type tickline does not handle.
	ErrUnsupported = errors.New("unsupported message")
	// ErrExchange: the exchange reported an error (bad subscription, rate limit, ...).
	ErrExchange = errors.New("exchange error")
	// ErrRateLimited: the exchange asked the client to slow down (wraps ErrExchange).
	ErrRateLimited = errors.New("rate limited")
)

// Batch collects the records parsed from one frame. Records are reused across frames:
// Next hands out a reset slot, keeping the slot's level capacity. A Batch is owned by the
// goroutine that owns its Parser.
type Batch struct {
	Records []wire.Record
	n       int
}

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.n = 0 }

// Len returns the number of records in the batch.
func (b *Batch) Len() int { return b.n }

// At returns record i (0 <= i < Len()).
func (b *Batch) At(i int) *wire.Record { return &b.Records[i] }

// Next returns a zeroed record slot at the end of the batch.
func (b *Batch) Next() *wire.Record {
	if b.n == len(b.Records) {
		b.Records = append(b.Records, wire.Record{})
	}
	r := &b.Records[b.n]
	b.n++
	r.Reset()
	return r
}

// Drop removes the last record (used when a half-parsed item turns out malformed).
func (b *Batch) Drop() {
	if b.n > 0 {
		b.n--
	}
}

// Truncate drops the records after the first n (a message whose later item turns out
// malformed leaves none of its records behind).
func (b *Batch) Truncate(n int) {
	if n >= 0 && n < b.n {
		b.n = n
	}
}

// MaxFrameBytes bounds a frame an adapter will parse; larger frames are ErrMalformed.
const MaxFrameBytes = 4 << 20

// Identities is an adapter's statement of how it identifies each kind of event
// (Adapter.Identity), indexed by wire.Kind; kinds it does not produce are IdentityNone.
type Identities [wire.KindCount]wire.Identity

// Of returns the identity of kind k (IdentityNone for kinds out of range).
func (t *Identities) Of(k wire.Kind) wire.Identity {
	if int(k) < len(t) {
		return t[k]
	}
	return wire.IdentityNone
}
