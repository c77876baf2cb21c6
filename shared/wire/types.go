package wire

import "fmt"

// Kind says which body a Record carries.
type Kind uint8

// Record kinds. The numeric values are part of the wire format.
const (
	KindBBO          Kind = 1 // best bid and offer
	KindTrade        Kind = 2 // one trade, Side is the taker's
	KindBookSnapshot Kind = 3 // full (or top-N) book: Bids and Asks replace the book
	KindBookDelta    Kind = 4 // changed levels: size 0 removes the level
	KindStatus       Kind = 5 // gap, resync, reconnect, stale, line switch, ...
	KindTicker       Kind = 6 // last price (and size) without a bid/ask
	kindMax               = KindTicker
)

// KindCount sizes arrays indexed by Kind (every valid Kind is below it).
const KindCount = int(kindMax) + 1

var kindNames = [...]string{"", "bbo", "trade", "book_snapshot", "book_delta", "status", "ticker"}

// String returns the kind's lower-case name as used in topics and JSON ("bbo", "book_delta", ...).
func (k Kind) String() string {
	if k == 0 || k > kindMax {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindNames[k]
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k >= KindBBO && k <= kindMax }

// ParseKind maps a kind name back to its Kind.
func ParseKind(s string) (Kind, error) {
	for i := KindBBO; i <= kindMax; i++ {
		if kindNames[i] == s {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: kind %q", ErrUnknown, s)
}

// Side is the aggressor (taker) side of a trade.
type Side uint8

// Sides. SideUnknown is used where the exchange does not say.
const (
	SideUnknown Side = 0
	SideBuy     Side = 1
	SideSell    Side = 2
)

// String returns "buy", "sell" or "".
func (s Side) String() string {
	switch s {
	case SideBuy:
		return "buy"
	case SideSell:
		return "sell"
	}
	return ""
}

// StatusCode says what a KindStatus record reports.
type StatusCode uint8

// Status codes. The numeric values are part of the wire format.
const (
	StatusGap        StatusCode = 1 // sequence gap: Expected is the next id wanted, Got the id seen
	StatusResync     StatusCode = 2 // book rebuilt from a fresh snapshot; valid again
	StatusReconnect  StatusCode = 3 // session reconnected (Got = attempt number)
	StatusStale      StatusCode = 4 // no data within the stale bound on a live socket
	StatusLineSwitch StatusCode = 5 // arbiter: a different line now delivers first
	StatusChecksum   StatusCode = 6 // book checksum mismatch (book invalid until resync)
	StatusCrossed    StatusCode = 7 // book crossed (best bid >= best ask): invalid until resync
	StatusLive       StatusCode = 8 // a stale feed or a line is live again
	statusMax                   = StatusLive
)

var statusNames = [...]string{"", "gap", "resync", "reconnect", "stale", "line_switch", "checksum", "crossed", "live"}

// String returns the status name ("gap", "resync", ...).
func (c StatusCode) String() string {
	if c == 0 || c > statusMax {
		return fmt.Sprintf("status(%d)", uint8(c))
	}
	return statusNames[c]
}

// Valid reports whether c is a known status code.
func (c StatusCode) Valid() bool { return c >= StatusGap && c <= statusMax }

// Flags are per-record bits.
type Flags uint16

// Flag bits. The numeric values are part of the wire format.
const (
	// FlagBookInvalid marks a book record (or status) emitted while the book is not whole.
	FlagBookInvalid Flags = 1 << 0
	// FlagNoSeq: the exchange gives no sequence/id for this event; Seq is a content key.
	FlagNoSeq Flags = 1 << 1
	// FlagReplay: the record comes from the archive, not a live gateway.
	FlagReplay Flags = 1 << 2
	// FlagSnapshotFromBook: a BBO derived from the book top, not an exchange BBO channel.
	FlagFromBook Flags = 1 << 3
	// FlagContinued: more records of the same exchange message follow (split snapshot).
	FlagContinued Flags = 1 << 4
	// FlagRefresh: a book snapshot the gateway publishes from its current book (for
	// subscribers that joined late, and periodically), not an exchange snapshot. Seq is the
	// last applied id. A consumer holding a valid book may ignore it.
	FlagRefresh Flags = 1 << 5
	// FlagSeqReset: by the exchange's own rule, this record starts a new epoch of its
	// stream's id sequence (Bybit: a snapshot with u = 1 after a service restart; OKX: an
	// update with seqId < prevSeqId). Ids after it are not comparable with ids before it;
	// receivers tell the epochs apart by exchange time (records older than this one's
	// TsExchange belong to the previous epoch).
	FlagSeqReset Flags = 1 << 6
	flagsKnown         = FlagBookInvalid | FlagNoSeq | FlagReplay | FlagFromBook | FlagContinued | FlagRefresh | FlagSeqReset
)

// Identity says how the exchange events of one (exchange, kind) are identified, as the
// venue's adapter states it (gateway/adapter.Adapter.Identity) and as receivers
// de-duplicate them (shared/arbiter). It is not carried on the wire: a record's Flags say
// what receivers need (FlagNoSeq: Seq is a content key; otherwise Seq is an id that
// increases along the stream, within an epoch — FlagSeqReset).
type Identity uint8

// Identity classes.
const (
	// IdentityNone: not an exchange event (status records, gateway refresh snapshots), or
	// the adapter does not produce this kind.
	IdentityNone Identity = 0
	// IdentityDense: Seq is a per-stream sequence that grows by exactly one per event, so a
	// jump is a loss the gateway can see (OKX seqId chains via prevSeqId, Bybit u).
	IdentityDense Identity = 1
	// IdentitySparse: Seq grows monotonically along the stream with holes (Binance update
	// ids shared by several channels, ms-based ids such as Upbit sequential_id).
	IdentitySparse Identity = 2
	// IdentityTradeID: Seq is the exchange's trade id, monotonic per instrument; dense
	// (consecutive) on venues that say so, where a hole is a lost trade.
	IdentityTradeID Identity = 3
	// IdentityContent: the venue gives no id; Seq is a content key (FlagNoSeq) over the
	// fields that make the event unique, exchange time included where the venue sends one.
	IdentityContent Identity = 4
)

var identityNames = [...]string{"none", "dense", "sparse", "trade_id", "content"}

// String returns the class's name ("dense", "sparse", "trade_id", "content", "none").
func (i Identity) String() string {
	if int(i) >= len(identityNames) {
		return fmt.Sprintf("identity(%d)", uint8(i))
	}
	return identityNames[i]
}
