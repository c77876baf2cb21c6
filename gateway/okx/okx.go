// Package okx is the OKX v5 public (spot) adapter: one WebSocket endpoint
// (wss://ws.okx.com:8443/ws/v5/public), `{"op":"subscribe","args":[{"channel","instId"}]}`
// frames, bbo-tbt for BBO, trades for trades, books (400-level snapshot then increments
// chained by seqId/prevSeqId) for L2 books, books5 for shallow books, tickers for tickers.
//
// # Channels and records
//
//   - bbo-tbt: a full top-1 book each push → one bbo record, Seq = seqId.
//   - books5: a full top-5 book each push → book_snapshot, Seq = seqId.
//   - books (and the VIP books-l2-tbt / books50-l2-tbt, same format): action "snapshot" →
//     book_snapshot, action "update" → book_delta.
//   - trades: one trade record per data item, Seq = tradeId, side = the taker's side (OKX
//     documents `side` as the taker side).
//   - tickers: carry bidPx/bidSz/askPx/askSz, so each yields a bbo record (the ticker's
//     last price is then dropped); a ticker without a whole bid and ask (OKX writes "")
//     yields a ticker record (Price = last, Size = lastSz). Tickers have no sequence id:
//     FlagNoSeq, Seq = ts (ms).
//   - trades: Seq = tradeId, SeqFirst = 0 (no separate message sequence).
//
// All numbers are strings; `ts` is the generation time in ms. Only spot instruments
// (`BASE-QUOTE`) are normalized; `BTC-USDT-SWAP` and other derivatives are ErrUnsupported
// (their sizes are contracts and their canonical name would collide with spot).
//
// # Sequence ids (BookStreamSnapshot)
//
// Book deltas carry seqId and prevSeqId (prevSeqId == seqId of the previous message of
// the channel; seqIds are increasing but not consecutive). The mapping is
//
//	snapshot: Seq = seqId, SeqFirst = 0 (OKX sends prevSeqId = -1)
//	update:   Seq = seqId, SeqFirst = prevSeqId + 1
//
// so "a delta continues the book when SeqFirst == previous Seq + 1" is exactly OKX's
// rule prevSeqId == previous seqId. OKX documents two special cases, both kept true by
// this mapping:
//   - "no change" messages (the book did not move during the push interval) have
//     seqId == prevSeqId and no levels: they yield an empty book_delta with
//     SeqFirst = Seq + 1. It continues the chain (its prevSeqId is the previous seqId) and
//     leaves the last Seq unchanged, so the next update chains to it as well.
//   - after maintenance the sequence may be reset: one update arrives with
//     seqId < prevSeqId. It yields SeqFirst = prevSeqId + 1 > Seq, which still continues
//     the chain (also as the first update after a snapshot); later updates chain to the
//     new, smaller Seq. The update carries wire.FlagSeqReset so that receivers start a
//     new epoch of ids. A book sync must therefore
//     test continuity before treating Seq <= previous Seq as a stale duplicate; one that
//     drops it instead pays one resubscribe, no wrong book.
//
// Messages recorded before OKX added seqId (2022, like the reference samples) have no
// sequence at all: they are normalized with FlagNoSeq and Seq = ts in ms (the same on
// every gateway for the same push); a book sync cannot chain such deltas. bbo-tbt and
// books5 without seqId get the same treatment.
//
// OKX no longer publishes the books checksum (the old `checksum` field, present in the
// 2022 samples, is ignored); gaps are found by seqId only.
//
// # Session
//
// The client sends the text "ping" when nothing was received for less than 30 s; the
// server answers "pong" (ResultControl) and closes a connection idle for 30 s. Subscribing
// is limited to 480 subscribe/unsubscribe requests per hour per connection and a request's
// args must stay under 64 KB; OKX documents no per-connection channel limit, so the
// 300-channel cap (the venue table's MaxSubsPerConn) is tickline's choice to spread the books bandwidth. Event frames:
// subscribe/unsubscribe acks and channel-conn-count are ResultControl, error events are
// ResultError (code 60014 "requests too frequent" also wraps ErrRateLimited), the
// notice 64008 (connection closes soon for a service upgrade) is ResultClosing.
//
// Unverified here (no doc text retrieved in this session): the exact error/notice codes
// 60014 and 64008, and the absence of a per-connection channel limit.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo            sparse    bbo-tbt seqId (the book's sequence: holes between pushes)
//	trade          trade_id  tradeId (not dense: a push may aggregate fills, `count`)
//	book_snapshot  sparse    books / books5 seqId
//	book_delta     dense     seqId, chained by prevSeqId (SeqFirst = prevSeqId + 1);
//	                         seqId < prevSeqId is OKX's reset: FlagSeqReset
//	ticker         content   ts (ms): tickers carry no id and push at most every 100 ms
//
// Other records say what they are by their flags: tickers with a whole bid and ask are
// bbo records keyed by ts (FlagNoSeq), and 2022-format pushes without seqId are keyed by
// ts too. bbo-tbt carries no prevSeqId, so its resets cannot be told from one push.
package okx

import (
	"bytes"
	"fmt"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for OKX v5 public spot data.
type Adapter struct{ adapter.Base }

// New returns the OKX adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.OKX,
		Heartbeat: adapter.PingText, // text heartbeat "ping" (answered by "pong")
		PingFrame: []byte("ping"),
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindBookSnapshot: wire.IdentitySparse,
			wire.KindTrade:        wire.IdentityTradeID,
			wire.KindBookDelta:    wire.IdentityDense,
			wire.KindTicker:       wire.IdentityContent,
		},
		DenseIDs: false, // the trades channel may aggregate fills into one push (`count`), whose tradeId is the last of them
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// maxArgsPerFrame keeps a subscribe request far below OKX's 64 KB args limit.
const maxArgsPerFrame = 100

// bookChannel returns the books channel for a depth: books5 for 1..5 levels, else books
// (400 levels; the tick-by-tick variants need a VIP login).
func bookChannel(depth int) string {
	if depth > 0 && depth <= 5 {
		return "books5"
	}
	return "books"
}

// channels returns the OKX channel names of one subscription.
func channels(s adapter.Sub) ([]string, error) {
	return adapter.ChannelNames("okx", s, adapter.Names{
		adapter.ChanBBO:    "bbo-tbt",
		adapter.ChanTrade:  "trades",
		adapter.ChanBook:   bookChannel(s.Depth),
		adapter.ChanTicker: "tickers",
	})
}

// arg is one {"channel","instId"} subscription argument.
type arg struct{ channel, instID string }

// Plan splits the channels over connections of at most Limits().MaxSubsPerConn args
// (tickline's cap in the venue table: OKX documents none), in subscribe frames of at most
// 100 args, on the public endpoint wsURL (wss://ws.okx.com:8443/ws/v5/public).
// Symbols are OKX instIds as written in config ("BTC-USDT").
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	perConn := a.Limits().MaxSubsPerConn
	return adapter.Pack(wsURL, subs, perConn, maxArgsPerFrame, func(s adapter.Sub) ([]arg, error) {
		names, err := channels(s)
		if err != nil {
			return nil, err
		}
		if len(names) > perConn {
			return nil, fmt.Errorf("okx: %s needs %d channels, more than one connection carries", s.Symbol, len(names))
		}
		args := make([]arg, len(names))
		for i, name := range names {
			args[i] = arg{name, s.Symbol}
		}
		return args, nil
	}, func(args []arg, _ int) []byte { return frame("subscribe", args) })
}

// frame builds {"op":op,"args":[{"channel":..,"instId":..},...]}.
func frame(op string, args []arg) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"op":%q,"args":[`, op)
	for i, a := range args {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"channel":%q,"instId":%q}`, a.channel, a.instID)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// Resubscribe returns unsubscribe + subscribe frames for the symbol's books channel: OKX
// answers a subscribe with a fresh snapshot. It uses 2 of the connection's 480
// requests per hour.
func (*Adapter) Resubscribe(sub adapter.Sub) [][]byte {
	args := []arg{{bookChannel(sub.Depth), sub.Symbol}}
	return [][]byte{frame("unsubscribe", args), frame("subscribe", args)}
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.OKX, instrument)}
}
