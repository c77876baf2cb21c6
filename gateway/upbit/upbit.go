// Package upbit is the Upbit (Korea) adapter: the public quotation WebSocket
// (wss://api.upbit.com/websocket/v1), one subscribe frame per connection holding every
// type, trade for trades, orderbook for books and for the BBO, ticker for last prices.
//
// Protocol notes (docs.upbit.com "WebSocket 사용 및 에러 안내", "요청 포맷", the trade and
// orderbook pages; testdata/samples/README.md):
//   - Server frames are binary WebSocket frames holding UTF-8 JSON; Parse takes the bytes
//     as they come. Both the DEFAULT format (full keys, what Plan asks for) and the SIMPLE
//     format (abbreviated keys: ty, cd, tms, ttms, tp, tv, ab, sid, obu{ap,bp,as,bs}) parse;
//     so do SIMPLE_LIST / JSON_LIST frames (a JSON array of such objects). Numbers are JSON
//     numbers ("127.0", "0E-8"); their text is kept exactly ("0E-8" → "0.00000000").
//   - Market codes are QUOTE-BASE: "KRW-BTC" is instrument BTC-KRW. The record symbol is the
//     code as the message writes it.
//   - trade: ask_bid is the taker's side (ASK: the taker sold → sell; BID → buy);
//     sequential_id is the trade id (unique, "does not guarantee order") → Seq;
//     trade_timestamp (ms; second-granular in 2021 data) → TsExchange.
//   - orderbook: every message is a full book (BookFullEachPush); orderbook_units[i] pairs
//     the i-th ask and the i-th bid, index 0 the best. Parse yields one book_snapshot per
//     message and NO bbo record: Upbit has no BBO channel, so ChanBBO subscribes the book
//     (depth suffix ".1" when the symbol does not also want the book) and the gateway
//     derives the BBO from the book top like for every exchange without a BBO channel.
//     Units whose price is 0 (padding seen in some captures) are skipped per side.
//     timestamp (ms) → TsExchange; a 16-digit value is read as µs (one 2023 capture).
//   - ticker: last-trade statistics, no best bid/ask → a ticker record (Price =
//     trade_price, Size = trade_volume, TsExchange = timestamp).
//   - No id on orderbook and ticker messages: FlagNoSeq, and Seq is a content key, the
//     FNV-1a 64 hash of the exact texts of code, timestamp and every value the record holds
//     (for a book: each unit's ask_price, ask_size, bid_price, bid_size in order), each
//     followed by a 0xff separator. It depends only on the message content, so redundant
//     gateways compute the same key; a SNAPSHOT and a REALTIME message with the same
//     content get the same key (stream_type is not hashed).
//   - Heartbeat: the connection is closed after 120 s idle. The client sends the text
//     "PING"; the server then sends {"status":"UP"} (every 10 s while healthy) → control.
//   - Errors: {"error":{"name":"WRONG_FORMAT","message":...}} → ResultError; names with
//     TOO_MANY are rate limits.
//   - Limits: 5 connection requests and 5 (100/min) subscribe messages per second; a new
//     request on a connection replaces its subscriptions, so Plan sends exactly one frame
//     per connection. Upbit documents no per-connection code limit.
//
// Unverified: whether a depth-suffixed code ("KRW-BTC.1") is echoed with its suffix in
// "code" (the instrument is right either way); the exact rate-limit error name.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	trade          trade_id  sequential_id (ms×1000+counter: unique, not consecutive)
//	book_snapshot  content   FNV-1a over code, `timestamp` and every unit's values
//	bbo            content   the book's key (the BBO is derived from the book top)
//	ticker         content   FNV-1a over code, `timestamp`, trade_price, trade_volume
//
// A top-1 orderbook (the ".1" code ChanBBO uses) is sent again, identical and in the
// same millisecond, after a change deeper in the book: the gateway session tells such
// consecutive repeats apart (gateway/session, content repeats).
package upbit

import (
	"strings"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/upbitapi"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Upbit.
type Adapter struct{ adapter.Base }

// New returns the Upbit adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Upbit,
		Heartbeat: adapter.PingText, // text "PING" (answered by {"status":"UP"})
		PingFrame: []byte("PING"),
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentityContent,
			wire.KindBookSnapshot: wire.IdentityContent,
			wire.KindTicker:       wire.IdentityContent,
			wire.KindTrade:        wire.IdentityTradeID,
		},
		DenseIDs: false, // sequential_id is ms×1000+counter ("does not guarantee order")
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// bookDepths are the documented orderbook depth suffixes.
var bookDepths = [...]int{1, 5, 15, 30}

// bookCode returns the orderbook code for a symbol (upbitapi.BookCode), an explicit depth
// rounded up to a documented one.
func bookCode(code string, depth int, bboOnly bool) string {
	return upbitapi.BookCode(code, depth, bboOnly, func(depth int) int {
		for _, n := range bookDepths {
			if depth <= n {
				return n
			}
		}
		return bookDepths[len(bookDepths)-1]
	})
}

// Plan puts every subscription on one connection with one subscribe frame:
// [{"ticket":...},{"type":"trade","codes":[...]},{"type":"orderbook","codes":[...]},
// {"type":"ticker","codes":[...]},{"format":"DEFAULT"}]. Symbols are QUOTE-BASE codes.
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	l, err := adapter.SortSubs("upbit", subs, adapter.SymbolCode("upbit", strings.ToUpper, instrument), bookCode)
	if err != nil {
		return nil, err
	}
	return []adapter.ConnPlan{{URL: wsURL, Symbols: l.Symbols,
		Subscribe: [][]byte{upbitapi.SubscribeFrame("tickline-upbit-1", l.Trades, l.Books, l.Tickers)}}}, nil
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser { return newParser() }
