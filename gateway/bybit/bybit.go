// Package bybit is the Bybit v5 spot adapter: wss://stream.bybit.com/v5/public/spot,
// `{"req_id","op":"subscribe","args":[topic,...]}` frames of at most 10 topics (spot's
// per-request limit), orderbook.1 for BBO, publicTrade for trades, orderbook.50/200/1000
// (snapshot then deltas chained by u) for L2 books, tickers for last prices.
//
// # Channels and records
//
//   - orderbook.1.SYM: level-1 spot data is snapshot-only (current docs: "Linear, inverse,
//     spot level 1 data has snapshot message only"; after 3 s without change the snapshot
//     is re-sent with the same u) → one bbo record per push, Seq = u. A repeated u is the
//     same event again (deduplicated downstream by Seq). The 2023 format also sent
//     one-sided level-1 "delta" pushes, which cannot form a whole BBO without state: they
//     are ErrUnsupported.
//   - orderbook.{50,200,1000}.SYM: type "snapshot" → book_snapshot, "delta" → book_delta.
//   - publicTrade.SYM: up to 1024 trades per push, one trade record each; Seq = trade id
//     `i`, side = `S` (the taker's side, "Buy"/"Sell"); newer pushes carry `seq` (the
//     cross sequence), kept in SeqFirst. A non-numeric `i` (derivatives use UUIDs) gets
//     FlagNoSeq with Seq = FNV-1a 64 of the `i` text.
//   - tickers.SYM: spot tickers have no bid/ask → ticker record, Price = lastPrice, no
//     size; Seq = the push's `cs` (cross sequence), or FlagNoSeq with Seq = ts in ms when
//     absent. A ticker that does carry bid1Price/bid1Size/ask1Price/ask1Size (linear
//     format) yields a bbo record instead.
//
// ts_exchange_ns is the push's `ts` (ms, "the timestamp that the system generates the
// data") for books, BBO and tickers, and the fill time `T` (ms) for trades; the newer
// `cts` (matching-engine time) is not used, so that old and new pushes read the same.
// Symbols are concatenated ("BTCUSDT"); Bybit spot puts `ts` before `type` — nothing here
// depends on key order.
//
// # Sequence ids (BookStreamSnapshot)
//
// Books carry `u`, an update id that is consecutive per topic. The mapping is
//
//	snapshot: Seq = u, SeqFirst = 0
//	delta:    Seq = u, SeqFirst = u
//
// so "a delta continues the book when SeqFirst == previous Seq + 1" is Bybit's rule
// u == previous u + 1. A snapshot may come at any time and always replaces the book;
// u == 1 is the snapshot Bybit sends after a service restart (it replaces the book like
// any other snapshot; its Seq restarts at 1, and it carries wire.FlagSeqReset so that
// receivers start a new epoch of ids). `seq` (cross sequence) is not used for
// books: it is shared by all depths and not consecutive.
//
// # Session
//
// The client sends {"op":"ping"} every 20 s (the spot pong is
// {"success":true,"ret_msg":"pong","op":"ping",...}, ResultControl); without pings or data
// Bybit cuts the connection after 10 minutes. Acks (success true) are ResultControl,
// success false is ResultError (a ret_msg mentioning "too many"/"frequent" also wraps
// ErrRateLimited). Bybit documents no per-connection topic limit for public spot; the
// 200-topic cap (the venue table's MaxSubsPerConn) is tickline's choice.
//
// Unverified here: the wording of Bybit's rate-limit error messages, and whether
// orderbook.1000 is still offered for every spot symbol.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo            sparse    orderbook.1 u: grows along the topic (a snapshot re-sent
//	                         after 3 s repeats it); level 1 is snapshot-only, and Bybit
//	                         states u + 1 continuity for deltas only, so no hole is
//	                         assumed to be a loss; a snapshot with u = 1 is FlagSeqReset
//	trade          trade_id  `i` (unique, not documented as consecutive)
//	book_snapshot  sparse    u; u = 1 (the service-restart snapshot) is FlagSeqReset
//	book_delta     dense     u == previous u + 1 (SeqFirst = u)
//	ticker         sparse    cs (cross sequence)
//
// Non-numeric trade ids (derivatives) and tickers without cs are content-keyed
// (FlagNoSeq), as their flags say.
package bybit

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Bybit v5 spot.
type Adapter struct{ adapter.Base }

// New returns the Bybit spot adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Bybit,
		Heartbeat: adapter.PingText, // JSON heartbeat {"op":"ping"}
		PingFrame: []byte(`{"op":"ping"}`),
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBookDelta:    wire.IdentityDense,
			wire.KindTrade:        wire.IdentityTradeID,
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindBookSnapshot: wire.IdentitySparse,
			wire.KindTicker:       wire.IdentitySparse,
		},
		DenseIDs: false, // Bybit documents `i` as a unique trade id, not a consecutive one
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// maxArgsPerFrame is Bybit spot's limit of topics per subscribe request.
const maxArgsPerFrame = 10

// bookTopic returns the books topic for a depth: spot offers 50, 200 and 1000 levels
// (0 = 50, the fastest at 20 ms).
func bookTopic(depth int, sym string) string {
	switch {
	case depth <= 50:
		return "orderbook.50." + sym
	case depth <= 200:
		return "orderbook.200." + sym
	}
	return "orderbook.1000." + sym
}

// topics returns the Bybit topics of one subscription.
func topics(s adapter.Sub) ([]string, error) {
	return adapter.ChannelNames("bybit", s, adapter.Names{
		adapter.ChanBBO:    "orderbook.1." + s.Symbol,
		adapter.ChanTrade:  "publicTrade." + s.Symbol,
		adapter.ChanBook:   bookTopic(s.Depth, s.Symbol),
		adapter.ChanTicker: "tickers." + s.Symbol,
	})
}

// Plan splits the topics over connections of at most Limits().MaxSubsPerConn topics
// (tickline's cap in the venue table: Bybit documents none for public spot), in subscribe
// frames of at most 10 topics, on the spot endpoint wsURL (wss://stream.bybit.com/v5/public/spot).
// Symbols are Bybit's ("BTCUSDT").
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	perConn := a.Limits().MaxSubsPerConn
	return adapter.Pack(wsURL, subs, perConn, maxArgsPerFrame, func(s adapter.Sub) ([]string, error) {
		names, err := topics(s)
		if err == nil && len(names) > perConn {
			err = fmt.Errorf("bybit: %s needs %d topics, more than one connection carries", s.Symbol, len(names))
		}
		return names, err
	}, func(args []string, n int) []byte { return frame("subscribe", strconv.Itoa(n), args) })
}

// frame builds {"req_id":id,"op":op,"args":[...]}.
func frame(op, id string, args []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"req_id":%q,"op":%q,"args":[`, id, op)
	adapter.WriteStrings(&b, args)
	b.WriteString("]}")
	return b.Bytes()
}

// Resubscribe returns unsubscribe + subscribe frames for the symbol's books topic: Bybit
// answers a subscribe with a fresh snapshot.
func (*Adapter) Resubscribe(sub adapter.Sub) [][]byte {
	t := []string{bookTopic(sub.Depth, sub.Symbol)}
	return [][]byte{frame("unsubscribe", "resync", t), frame("subscribe", "resync", t)}
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Bybit, adapter.InstrumentConcat)}
}
