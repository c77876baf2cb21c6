package wire

import (
	"fmt"
	"strings"
	"time"
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
// simulator) and its per-connection limits. How the exchange speaks (URLs, frames, the
// heartbeat's kind and payload, event identity) is its adapter's (gateway/<name>); how the
// simulator imitates it, the simulator's (internal/sim/<name>.go). Adding a venue is one row here and its Exchange constant
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
	// TimeUnit is the resolution of the exchange timestamps its messages carry (the
	// coarsest where they differ): a millisecond clock adds up to 1 ms to exchange→gateway,
	// so the strategy keeps a second histogram of that hop for the venues stamped in µs.
	TimeUnit time.Duration
	// Limits are the exchange's per-connection rules, the defaults the gateway's
	// sessions run with (gateway/adapter's Limits is this type).
	Limits VenueLimits
}

// VenueLimits are an exchange's per-connection rules: what its documentation states, or
// tickline's choice where it states nothing (each row of the table says which). Zero
// means "none" where a field says so; TestVenueTable fails on a row without the fields
// every venue needs (SubscribeInterval, StaleAfter).
type VenueLimits struct {
	// MaxSubsPerConn is the most streams/topics one connection carries (0 = no limit): the
	// exchange's documented cap, or tickline's where it documents none, so that one
	// connection's books bandwidth stays bounded. The adapter's Plan splits by it.
	MaxSubsPerConn int
	// SubscribeInterval is the minimum gap between subscribe frames: the exchange's
	// request rate limit with headroom, so that a large plan is never refused as too
	// frequent.
	SubscribeInterval time.Duration
	// MaxConnAge is the exchange's planned disconnect (Binance: 24 h), 0 = none; the
	// session opens a replacement connection before it.
	MaxConnAge time.Duration
	// PingInterval is how often the client must send its heartbeat (0: the server pings
	// and the websocket layer answers, or the exchange needs no heartbeat): below the
	// exchange's idle-close time.
	PingInterval time.Duration
	// StaleAfter: no frame (data or heartbeat) for this long means a dead socket. It is
	// a few of the exchange's own heartbeat periods, so that a quiet market is not taken
	// for a dead connection. A feed of the topology that sets no stale_after runs with it.
	StaleAfter time.Duration
	// BBOFromBook: the exchange has no BBO channel with sizes; the gateway derives the
	// BBO from the book top (the adapter's Plan subscribes the book for the BBO channel).
	BBOFromBook bool
}

// venues is the venue table, one row per Exchange in id order (ids start at 1, no holes).
var venues = [...]Venue{
	// Binance: 1024 streams per connection and 5 incoming messages/s (paced at 4 for
	// headroom); connections end after 24 h; the server pings every 20 s.
	{Binance, "binance", `^[A-Z0-9]{2,}$`, "BTCUSDT", BookRESTSnapshot, "", time.Millisecond,
		VenueLimits{MaxSubsPerConn: 1024, SubscribeInterval: 250 * time.Millisecond, MaxConnAge: 24 * time.Hour, StaleAfter: 60 * time.Second}},
	// Coinbase: 8 requests/s per IP; 100 products per connection is tickline's spread,
	// not an exchange limit; the heartbeat channel sends 1 message/s per product, so the
	// client sends no heartbeat of its own.
	{Coinbase, "coinbase", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-USD", BookStreamSnapshot, "", time.Microsecond,
		VenueLimits{MaxSubsPerConn: 100, SubscribeInterval: 125 * time.Millisecond, StaleAfter: 10 * time.Second}},
	// Kraken documents no per-connection subscription limit and only a dynamic message
	// rate: 200 per connection and the pacing are tickline's conservative choices
	// (gateway/kraken's package doc). The server sends a heartbeat every second once
	// subscribed; the client pings {"method":"ping"} every 30 s.
	{Kraken, "kraken", `^[A-Z0-9]+/[A-Z0-9]+$`, "BTC/USD", BookChecksum, "", time.Microsecond,
		VenueLimits{MaxSubsPerConn: 200, SubscribeInterval: 200 * time.Millisecond, PingInterval: 30 * time.Second, StaleAfter: 10 * time.Second}},
	// OKX documents no per-connection channel limit: 300 is tickline's cap, to spread the
	// books bandwidth. 480 requests/hour/connection (paced anyway); the client sends
	// "ping" when idle, below the 30 s after which OKX closes a silent connection.
	{OKX, "okx", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-USDT", BookStreamSnapshot, "", time.Millisecond,
		VenueLimits{MaxSubsPerConn: 300, SubscribeInterval: 350 * time.Millisecond, PingInterval: 20 * time.Second, StaleAfter: 30 * time.Second}},
	// Bybit documents no topic limit for public spot: 200 is tickline's cap. Pings every
	// 20 s are Bybit's recommendation; 45 s is two pings without pong or data.
	{Bybit, "bybit", `^[A-Z0-9]{2,}$`, "BTCUSDT", BookStreamSnapshot, "", time.Millisecond,
		VenueLimits{MaxSubsPerConn: 200, SubscribeInterval: 100 * time.Millisecond, PingInterval: 20 * time.Second, StaleAfter: 45 * time.Second}},
	// Gate documents no topic limit: 300 is tickline's cap. The client sends spot.ping
	// every 10 s; 30 s of silence is three of them.
	{GateIO, "gateio", `^[A-Z0-9]+_[A-Z0-9]+$`, "BTC_USDT", BookRESTSnapshot, "", time.Millisecond,
		VenueLimits{MaxSubsPerConn: 300, SubscribeInterval: 100 * time.Millisecond, PingInterval: 10 * time.Second, StaleAfter: 30 * time.Second}},
	// Upbit: no per-connection limit documented (one subscribe frame per connection); 5
	// requests/s (paced at 4 for headroom); idle connections close at 120 s, so the
	// client sends "PING" every 30 s and gets {"status":"UP"} every 10 s once pinged. No
	// BBO channel with sizes: the gateway takes the book top.
	{Upbit, "upbit", `^[A-Z0-9]+-[A-Z0-9]+$`, "KRW-BTC", BookFullEachPush, "KRW", time.Millisecond,
		VenueLimits{SubscribeInterval: 250 * time.Millisecond, PingInterval: 30 * time.Second, StaleAfter: 60 * time.Second, BBOFromBook: true}},
	// Bithumb: no per-connection limit documented; 10 connection requests/s per IP (new
	// API); the new API closes idle connections after ~120 s (hence the 30 s ping), and
	// the legacy endpoint sends no heartbeat of its own (hence 120 s). No BBO channel
	// with sizes: the gateway takes the book top.
	{Bithumb, "bithumb", `^[A-Z0-9]+_[A-Z0-9]+$`, "BTC_KRW", BookFullEachPush, "KRW", time.Millisecond,
		VenueLimits{SubscribeInterval: 200 * time.Millisecond, PingInterval: 30 * time.Second, StaleAfter: 120 * time.Second, BBOFromBook: true}},
	// Korbit: no per-connection limit documented; the server pings every 30 s and the
	// WebSocket layer answers, so 90 s is three missed pings. No BBO channel with sizes:
	// the gateway takes the book top.
	{Korbit, "korbit", `^[a-z0-9]+_[a-z0-9]+$`, "btc_krw", BookFullEachPush, "KRW", time.Millisecond,
		VenueLimits{SubscribeInterval: 100 * time.Millisecond, StaleAfter: 90 * time.Second, BBOFromBook: true}},
	// Coinone: no per-connection limit documented (20 connections per IP); the server
	// closes a connection 30 min after the last PING, the client sends one every 20 s,
	// and PONGs count as traffic for StaleAfter.
	{Coinone, "coinone", `^[A-Z0-9]+-[A-Z0-9]+$`, "BTC-KRW", BookFullEachPush, "KRW", time.Millisecond,
		VenueLimits{SubscribeInterval: 10 * time.Millisecond, PingInterval: 20 * time.Second, StaleAfter: 60 * time.Second}},
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
