// Package korbit is the Korbit (Korea; now operated as Digital X) adapter for the v2
// public WebSocket, wss://ws-api.korbit.co.kr/v2/public: orderbook for books and for the
// BBO, trade for trades, ticker for last prices.
//
// Sources. There are no reference samples for Korbit. What this package relies on:
//   - docs.korbit.co.kr (Open API home): the WebSocket host wss://ws-api.korbit.co.kr;
//   - docs.korbit.co.kr/websocket_old_en.html ("WebSocket API (Old)"): public types ticker,
//     orderbook and trade; on subscribe the latest state is sent once as snapshot data,
//     everything after is real-time; the new API is "mostly compatible" with separate
//     public and private endpoints;
//   - the Digital X Open API v2 reference (docs.digitalx.miraeasset.com: index_en.html
//     "Send Requests" / "Response Messages", llms/en/websocket_api/public.md), NOT read
//     directly here but as quoted, with captured frames, in a third-party venue profile
//     (2026-09): requests are a JSON array of {"requestId","method":"subscribe","type",
//     "symbols"} objects; success is acknowledged only when requestId is set
//     ({"status":"success","requestId":1}); failures are {"status":"fail","code",
//     "message","requestId"}; data frames are {"symbol","timestamp","type","snapshot",
//     "data"}; symbols are lower case "btc_krw" and case sensitive; the server sends a
//     WebSocket ping every 30 s.
//
// Mapping:
//   - orderbook data {timestamp, asks:[{price,qty}], bids:[...]} is the whole top 30 of
//     each side on every push (no deltas, no sequence, no checksum): BookFullEachPush, one
//     book_snapshot per message, TsExchange = data.timestamp (ms, the book's time).
//     Korbit has no BBO channel: ChanBBO subscribes the orderbook and the gateway derives
//     the BBO from the book top.
//   - trade data is an array of {timestamp, price, qty, isBuyerTaker, tradeId}:
//     isBuyerTaker true → taker buy, false → taker sell; Seq = tradeId (rising per symbol,
//     not contiguous); TsExchange = the trade's timestamp (ms). The trade frame with
//     snapshot:true that follows every (re)subscribe repeats the latest trade(s), already
//     published live (Korbit's own client drops them by tradeId): checked, not published
//     (ResultControl), as Kraken's trade snapshot and Coinbase's last_match.
//   - ticker data {open, high, low, close, ..., bestAskPrice, bestBidPrice, lastTradedAt}
//     carries the best prices but no sizes, so it yields a ticker record (Price = close,
//     TsExchange = the envelope timestamp), not a bbo with unknown sizes.
//   - Seq for orderbook and ticker records: FlagNoSeq and a content key, the FNV-1a 64
//     hash of the exact texts of symbol, the timestamp and the record's values (book: every
//     bid price and qty, then every ask price and qty; ticker: close), each followed by a
//     0xff byte. It depends only on message content.
//
// Checked (2026-11) against Korbit's official client, korbit-official/korbit-cli: the
// subscribe request and acks, the data frame shapes and field types above, the trade
// snapshot, and the {"status":"error","code","message"} frame (an exchange error here,
// ResultError). docs.korbit.co.kr's stored pages stop after the introduction. Still
// unverified: the rate-limit error codes (TOO_MANY / RATE_LIMIT are guesses), the 30 s
// server ping (observed, not documented) and any per-connection limit (none is
// documented; one connection carries every symbol).
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	trade          trade_id  tradeId (rising per symbol, not contiguous)
//	book_snapshot  content   FNV-1a over symbol, data.timestamp and every level
//	bbo            content   the book's key (derived from the book top)
//	ticker         content   FNV-1a over symbol, the envelope timestamp and close
package korbit

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Korbit.
type Adapter struct{ adapter.Base }

// New returns the Korbit adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Korbit,
		Heartbeat: adapter.PingNone, // server pings every 30 s and the WebSocket layer answers
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentityContent,
			wire.KindBookSnapshot: wire.IdentityContent,
			wire.KindTicker:       wire.IdentityContent,
			wire.KindTrade:        wire.IdentityTradeID,
		},
		DenseIDs: false, // tradeId rises per symbol but is not contiguous
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// Plan puts every symbol on one connection with one subscribe frame, a JSON array of one
// request per type: [{"requestId":1,"method":"subscribe","type":"orderbook","symbols":
// ["btc_krw"]},...]. Symbols are lower-case base_quote.
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	l, err := adapter.SortSubs("korbit", subs, adapter.SymbolCode("korbit", strings.ToLower, instrument), nil)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('[')
	id := 0
	for _, t := range [...]struct {
		typ  string
		syms []string
	}{{"orderbook", l.Books}, {"trade", l.Trades}, {"ticker", l.Tickers}} {
		if len(t.syms) == 0 {
			continue
		}
		if id > 0 {
			b.WriteByte(',')
		}
		id++
		fmt.Fprintf(&b, `{"requestId":%d,"method":"subscribe","type":%q,"symbols":[`, id, t.typ)
		adapter.WriteStrings(&b, t.syms)
		b.WriteString("]}")
	}
	b.WriteByte(']')
	return []adapter.ConnPlan{{URL: wsURL, Symbols: l.Symbols, Subscribe: [][]byte{b.Bytes()}}}, nil
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Korbit, instrument)}
}
