// Package coinone is the Coinone (Korea) adapter for the public WebSocket,
// wss://stream.coinone.co.kr: TICKER for the BBO (and last prices), TRADE for trades,
// ORDERBOOK for books.
//
// Sources: docs.coinone.co.kr "Public 웹소켓", "체결정보 응답 (TRADE)", "오더북 응답
// (ORDERBOOK)", "티커 응답 (TICKER)", "커넥션 관리 (PING)" and
// testdata/samples/README.md.
//
// Symbols: Coinone has no single symbol string; a market is quote_currency ("KRW") plus
// target_currency ("XRP"). Config symbols are BASE-QUOTE, i.e. TARGET-QUOTE ("XRP-KRW",
// configs/README.md), and Plan splits them at '-'. Records carry symbol
// "<target_currency>-<quote_currency>" as the message writes them ("XRP-KRW"; the server
// spells currencies upper case) and instrument XRP-KRW.
//
// Subscribe: one frame per channel and market,
// {"request_type":"SUBSCRIBE","channel":"TICKER"|"TRADE"|"ORDERBOOK","topic":
// {"quote_currency":"KRW","target_currency":"XRP"}}; acked by {"response_type":
// "SUBSCRIBED",...} (control). Both the DEFAULT and the SHORT format (r, c, d, qc, tc, t,
// i, p, q, sm, a, b, la, abp, abq, bbp, bbq) parse; Plan asks for DEFAULT.
//
// Mapping (every data message has an id, "larger = newer", a ms time followed by a
// three-digit counter, e.g. "1693560450996001" → Seq; no record needs FlagNoSeq):
//   - TICKER carries ask_best_price/ask_best_qty/bid_best_price/bid_best_qty (a price is
//     null when its side is empty): with both best prices it yields a bbo record, without
//     them a ticker record (Price = last). ChanBBO and ChanTicker both subscribe TICKER.
//     Note: a third-party probe saw TICKER pushes that looked trade-driven; the docs say a
//     ticker is sent whenever it changes.
//   - TRADE: is_seller_maker true → the buyer was the taker → side buy; false → sell.
//   - ORDERBOOK: the whole book (16 levels a side) on every change, so BookFullEachPush
//     and one book_snapshot per message. Levels stay in the order the exchange lists
//     them: bids best first, asks WORST first (descending prices, as the docs' example
//     and live captures show), so the best ask is the last ask.
//   - timestamp (ms) → TsExchange. (The first ORDERBOOK frame after a subscribe was seen
//     carrying a timestamp ~10 s older than its id; it is passed through as written.)
//
// Session: the server closes a connection 30 minutes after the last PING (and idle new
// connections after ~60 s); the client sends {"request_type":"PING"}, answered by
// {"response_type":"PONG"} (control). On open the server sends {"response_type":
// "CONNECTED",...} (control). Errors are {"response_type":"ERROR","error_code":160012,
// "message":"Invalid Topic"} (ResultError; the error names no topic). At most 20
// connections per IP (close code 4290); no per-connection topic limit is documented.
//
// Unverified: the exact public PING page wording (taken from the docs' PING page and
// third-party clients); any rate-limit error code (none is documented).
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo, ticker    sparse    TICKER id (ms×1000+counter)
//	trade          trade_id  TRADE id (ms-based: unique, not consecutive)
//	book_snapshot  sparse    ORDERBOOK id
package coinone

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Coinone.
type Adapter struct{ adapter.Base }

// New returns the Coinone adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Coinone,
		Heartbeat: adapter.PingText, // text {"request_type":"PING"}
		PingFrame: []byte(`{"request_type":"PING"}`),
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindBookSnapshot: wire.IdentitySparse,
			wire.KindTicker:       wire.IdentitySparse,
			wire.KindTrade:        wire.IdentityTradeID,
		},
		DenseIDs: false, // ids are ms×1000+counter
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// splitSymbol returns the target (base) and quote currencies of "XRP-KRW", upper case.
func splitSymbol(sym string) (target, quote string, err error) {
	var inst wire.Name
	if err := adapter.InstrumentSep(&inst, []byte(sym), '-', false); err != nil {
		return "", "", fmt.Errorf("coinone: symbol %q (want TARGET-QUOTE, e.g. XRP-KRW): %w", sym, err)
	}
	target, quote, _ = strings.Cut(inst.String(), "-")
	return target, quote, nil
}

// Plan puts every subscription on one connection, one SUBSCRIBE frame per channel and
// market.
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	if len(subs) == 0 {
		return nil, nil
	}
	plan := adapter.ConnPlan{URL: wsURL}
	for _, s := range subs {
		target, quote, err := splitSymbol(s.Symbol)
		if err != nil {
			return nil, err
		}
		w, err := adapter.Wants("coinone", s)
		if err != nil {
			return nil, err
		}
		for _, ch := range [...]struct {
			name string
			on   bool
		}{{"TICKER", w.BBO || w.Ticker}, {"TRADE", w.Trade}, {"ORDERBOOK", w.Book}} {
			if !ch.on {
				continue
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, `{"request_type":"SUBSCRIBE","channel":%q,"topic":{"quote_currency":%q,"target_currency":%q}}`, ch.name, quote, target)
			plan.Subscribe = append(plan.Subscribe, b.Bytes())
		}
		plan.Symbols = append(plan.Symbols, s.Symbol)
	}
	return []adapter.ConnPlan{plan}, nil
}

// NewParser returns a parser for one connection. It has no symbol rule (nil): Coinone
// names the two currencies apart and the parser builds symbol and instrument itself,
// never through ParserBase.Header.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Coinone, nil)}
}
