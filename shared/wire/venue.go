package wire

import (
	"fmt"
	"strings"
)

// Exchange identifies a venue. The numeric values are part of the wire format.
type Exchange uint8

// Exchanges tickline speaks to: one per row of the venue table below, in the same order.
const (
	Binance  Exchange = 1
	Coinbase Exchange = 2
	Kraken   Exchange = 3
	OKX      Exchange = 4
	Bybit    Exchange = 5
	GateIO   Exchange = 6
	Upbit    Exchange = 7
	Bithumb  Exchange = 8
	Korbit   Exchange = 9
	Coinone  Exchange = 10
)

// BookRule says how an exchange's book messages chain: what the gateway's book sync
// (gateway/chain) checks and when a book needs a REST snapshot (the topology file's
// rest_url).
type BookRule uint8

// Book rules.
const (
	// BookFullEachPush: every book message is a full snapshot of the top N (Upbit,
	// Bithumb, Korbit, Coinone). No sequence chaining.
	BookFullEachPush BookRule = 1
	// BookStreamSnapshot: the stream sends a snapshot, then deltas; a delta continues the
	// book when its SeqFirst == previous Seq + 1 (OKX: prevSeqId+1, Bybit u, Coinbase
	// sequence). A gap re-subscribes the symbol to get a fresh snapshot.
	BookStreamSnapshot BookRule = 2
	// BookRESTSnapshot: deltas come from the stream, the snapshot from REST (Binance,
	// Gate): buffer deltas, fetch, drop deltas with Seq <= snapshot Seq, the first applied
	// must have SeqFirst <= snapshot Seq + 1 <= Seq, then SeqFirst == previous Seq + 1.
	BookRESTSnapshot BookRule = 3
	// BookChecksum: snapshot then deltas without sequence ids; each delta carries a CRC32
	// of the top of book to verify after applying it (Kraken).
	BookChecksum BookRule = 4
)

// Venue is one row of the venue table: the facts about an exchange that more than one
// part of tickline needs (the wire names, topology validation, the gateway registry, the
// simulator). How the exchange speaks (URLs, frames, limits, event identity) is its
// adapter's (gateway/<name>); how the simulator imitates it, the simulator's
// (internal/sim/<name>.go). Adding a venue is one row here and its Exchange constant
// above, an adapter registered in gateway/registry.go and a simulator file; tests in
// this package, gateway and internal/sim fail while one of them is missing.
type Venue struct {
	Exchange Exchange
	// Name is the lower-case name used in topics, JSON, the topology file's keys and the
	// simulator's paths.
	Name string
	// Symbol is a regular expression (RE2) that every symbol in the exchange's own style
	// matches, and SymbolExample one such symbol: a symbol in another venue's style
	// (BTC-USDT on binance) is the most common copy-paste mistake in a topology file.
	Symbol, SymbolExample string
	// Book is how the exchange's books chain; its adapter's BookRule returns the same.
	Book BookRule
	// Quote is the currency every market of the venue is quoted in when that is not a
	// USD or a USD stablecoin ("KRW"), else "". The strategy needs an FX rate for it.
	Quote string
}

// venues is the venue table, one row per Exchange in id order (ids start at 1, no holes).
var venues = [...]Venue{
	{Binance, "binance", `^[A-Z0-9]{2,}$`, "BTCUSDT", BookRESTSnapshot, ""},
	{Coinbase, "coinbase", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-USD", BookStreamSnapshot, ""},
	{Kraken, "kraken", `^[A-Z0-9]+/[A-Z0-9]+$`, "BTC/USD", BookChecksum, ""},
	{OKX, "okx", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-USDT", BookStreamSnapshot, ""},
	{Bybit, "bybit", `^[A-Z0-9]{2,}$`, "BTCUSDT", BookStreamSnapshot, ""},
	{GateIO, "gateio", `^[A-Z0-9]+_[A-Z0-9]+$`, "BTC_USDT", BookRESTSnapshot, ""},
	{Upbit, "upbit", `^[A-Z0-9]+-[A-Z0-9]+$`, "KRW-BTC", BookFullEachPush, "KRW"},
	{Bithumb, "bithumb", `^[A-Z0-9]+_[A-Z0-9]+$`, "BTC_KRW", BookFullEachPush, "KRW"},
	{Korbit, "korbit", `^[a-z0-9]+_[a-z0-9]+$`, "btc_krw", BookFullEachPush, "KRW"},
	{Coinone, "coinone", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-KRW", BookFullEachPush, "KRW"},
}

// exchMax is the highest known Exchange.
const exchMax = Exchange(len(venues))

// Venues returns the venue table in id order. The slice is a copy.
func Venues() []Venue {
	return append([]Venue(nil), venues[:]...)
}

// Venue returns e's row of the venue table; ok is false for an unknown exchange.
func (e Exchange) Venue() (v Venue, ok bool) {
	if !e.Valid() {
		return Venue{}, false
	}
	return venues[e-1], true
}

// NeedsRESTSnapshot reports whether the venue's books start from a REST snapshot, so that
// subscribing its book channel needs a REST URL.
func (v Venue) NeedsRESTSnapshot() bool { return v.Book == BookRESTSnapshot }

// Exchanges lists every known exchange in id order.
func Exchanges() []Exchange {
	out := make([]Exchange, 0, exchMax)
	for e := Binance; e <= exchMax; e++ {
		out = append(out, e)
	}
	return out
}

// ExchangeNames returns every known exchange's name in id order, comma-separated
// ("binance, coinbase, ..."), for messages and help texts.
func ExchangeNames() string {
	names := make([]string, len(venues))
	for i := range venues {
		names[i] = venues[i].Name
	}
	return strings.Join(names, ", ")
}

// String returns the exchange's lower-case name ("binance", "gateio", ...).
func (e Exchange) String() string {
	if !e.Valid() {
		return fmt.Sprintf("exchange(%d)", uint8(e))
	}
	return venues[e-1].Name
}

// Valid reports whether e is a known exchange.
func (e Exchange) Valid() bool { return e >= Binance && e <= exchMax }

// ParseExchange maps a lower-case exchange name to its Exchange.
func ParseExchange(s string) (Exchange, error) {
	for i := range venues {
		if venues[i].Name == s {
			return venues[i].Exchange, nil
		}
	}
	return 0, fmt.Errorf("%w: exchange %q", ErrUnknown, s)
}
