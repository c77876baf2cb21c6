// Package bithumb is the Bithumb (Korea) adapter. It speaks both public WebSocket APIs and
// Plan picks one by the URL path:
//
//   - a path containing "/websocket/v1" (wss://ws-api.bithumb.com/websocket/v1) is the new,
//     Upbit-compatible API ("v2" in the docs' version numbering, v2.1.x): one subscribe
//     frame [{"ticket"},{"type":"trade"|"orderbook"|"ticker","codes":["KRW-BTC"]},
//     {"format":"DEFAULT"}], binary frames holding UTF-8 JSON, DEFAULT or SIMPLE keys;
//   - a path containing "/pub/ws" (wss://pubwss.bithumb.com/pub/ws, what the example
//     configs use) is the legacy API: text frames, one {"type","symbols"} filter per
//     connection (transaction, orderbooksnapshot, ticker).
//
// Config symbols are BASE_QUOTE ("BTC_KRW", configs/README.md); Plan turns them into
// QUOTE-BASE codes ("KRW-BTC") for the new API ("KRW-BTC" is accepted too). Parse tells the
// formats apart by content, so one Parser reads either API. Records keep the symbol as the
// message writes it ("KRW-BTC" or "BTC_KRW"); the instrument is BTC-KRW for both.
//
// New API (apidocs.bithumb.com v2.1.4/v2.1.5 "호가 (Orderbook)", "체결 (Trade)", "현재가
// (Ticker)", "Connection 관리"; same fields as Upbit):
//   - trade: ask_bid ASK → taker sell, BID → taker buy; sequential_id → Seq;
//     trade_timestamp (ms) → TsExchange.
//   - orderbook: a full book per message (BookFullEachPush) → one book_snapshot; units of
//     price 0 are skipped; timestamp ms, read as µs when it has 16+ digits (third-party
//     clients report µs values on Bithumb orderbooks). No bbo record: ChanBBO subscribes
//     the book (".1" suffix when the book is not wanted too) and the gateway derives the
//     BBO from the book top.
//   - ticker: no best bid/ask → ticker record (trade_price, trade_volume, timestamp).
//   - heartbeat: idle close after ~120 s; WebSocket ping frames (or the text PING) keep
//     it open and the server then sends {"status":"UP"} → control.
//   - errors: {"error":{"name","message"}} → ResultError.
//
// Legacy API (apidocs.bithumb.com "빗썸 거래소 정보 수신"; the samples' README):
//   - transaction content.list[]: buySellGb "1" = sell-side execution → taker sell, "2" →
//     taker buy; contPrice, contQty; contDtm is KST local time without zone, µs precision
//     ("2021-06-02 08:43:34.555058" = 2021-06-01T23:43:34.555058Z). No trade id.
//   - orderbooksnapshot (documented type, example response not retrieved): content
//     {symbol, datetime, bids, asks}; levels are read as [price, quantity] arrays or
//     {price, quantity} objects → book_snapshot, which is what Plan subscribes for book
//     and bbo (the stream gives no sequence, so only full books can be trusted).
//   - orderbookdepth content.list[] of {symbol, orderType ask|bid, price, quantity
//     (absolute, 0 deletes), total}, datetime µs (string or number) → one book_delta per
//     symbol. Parsed for `tickline normalize`, never subscribed: the deltas carry no
//     sequence and no snapshot, so a book built from them cannot be checked.
//   - ticker content: tickType, date YYYYMMDD + time HHMMSS (KST), closePrice... and no
//     best bid/ask → ticker record, Price = closePrice. Plan subscribes tickType 24H.
//   - status frames {"status":"0000","resmsg":...} → control; any other status → error.
//   - heartbeat: none documented; WebSocket pings are used for both APIs.
//
// Seq: trades of the new API carry sequential_id. Every other record has FlagNoSeq and a
// content key in Seq: FNV-1a 64 over the exact texts of the fields the record is built
// from, each followed by a 0xff byte — symbol/code, timestamp, then values in message
// order (legacy transaction: symbol, contDtm, buySellGb, contPrice, contQty and the item's
// index in content.list; orderbookdepth: datetime and every item's symbol, orderType,
// price, quantity, then the record's symbol; ticker: symbol, tickType, date, time,
// closePrice, volume). It depends only on message content, never on receive time.
//
// Unverified: the orderbooksnapshot level shape and datetime unit; the new API's depth
// suffix values (the docs show "KRW-ETH.3"); whether the legacy server keeps several
// filters on one connection (Plan opens one connection per legacy type to be safe).
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	trade          content   legacy transaction: FNV-1a over symbol, contDtm, values and
//	                         index (no trade id); the new API's sequential_id (ms-based,
//	                         not consecutive) is a trade id, as its flags say
//	book_snapshot  content   FNV-1a over symbol/code, timestamp/datetime and the levels
//	book_delta     content   orderbookdepth: datetime and every item (never subscribed)
//	bbo            content   the book's key (derived from the book top)
//	ticker         content   FNV-1a over symbol, tickType, date, time and values
//
// Identity states the legacy API (wss://pubwss.bithumb.com/pub/ws), which the configs use.
package bithumb

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/upbitapi"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Bithumb (both APIs).
type Adapter struct{ adapter.Base }

// New returns the Bithumb adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Bithumb,
		Heartbeat: adapter.PingWSControl, // a WebSocket ping control frame (documented for the new API; a standard WebSocket server answers it on the legacy endpoint too)
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentityContent,
			wire.KindTrade:        wire.IdentityContent,
			wire.KindBookSnapshot: wire.IdentityContent,
			wire.KindBookDelta:    wire.IdentityContent,
			wire.KindTicker:       wire.IdentityContent,
		},
		DenseIDs: false, // legacy transactions carry no id; new-API sequential_id is ms-based
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// api says which Bithumb API a WebSocket URL speaks.
type api uint8

const (
	apiV2     api = 1 // wss://ws-api.bithumb.com/websocket/v1
	apiLegacy api = 2 // wss://pubwss.bithumb.com/pub/ws
)

func apiOf(wsURL string) (api, error) {
	switch {
	case strings.Contains(wsURL, "/websocket/v1"):
		return apiV2, nil
	case strings.Contains(wsURL, "/pub/ws"):
		return apiLegacy, nil
	}
	return 0, fmt.Errorf("bithumb: URL %q is neither the new API (/websocket/v1) nor the legacy one (/pub/ws)", wsURL)
}

// splitSymbol returns base and quote of "BTC_KRW" or "KRW-BTC", upper case.
func splitSymbol(sym string) (base, quote string, err error) {
	s := strings.ToUpper(sym)
	var inst wire.Name
	if strings.Contains(s, "_") {
		err = adapter.InstrumentSep(&inst, []byte(s), '_', false)
	} else {
		err = adapter.InstrumentSep(&inst, []byte(s), '-', true)
	}
	if err != nil {
		return "", "", fmt.Errorf("bithumb: symbol %q: %w", sym, err)
	}
	base, quote, _ = strings.Cut(inst.String(), "-")
	return base, quote, nil
}

// Plan subscribes subs on wsURL, choosing the API by the URL path (see the package doc).
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	which, err := apiOf(wsURL)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, nil
	}
	// Per type, the symbols in the API's spelling, in config order.
	var book func(string, int, bool) string // legacy: the code itself
	if which == apiV2 {
		book = bookCode
	}
	l, err := adapter.SortSubs("bithumb", subs, func(s adapter.Sub) (string, error) {
		base, quote, err := splitSymbol(s.Symbol)
		if which == apiV2 {
			return quote + "-" + base, err
		}
		return base + "_" + quote, err
	}, book)
	if err != nil {
		return nil, err
	}
	if which == apiV2 {
		return []adapter.ConnPlan{{URL: wsURL, Symbols: l.Symbols,
			Subscribe: [][]byte{upbitapi.SubscribeFrame("tickline-bithumb-1", l.Trades, l.Books, l.Tickers)}}}, nil
	}
	// Legacy: one connection per filter type.
	var plans []adapter.ConnPlan
	for _, t := range [...]struct {
		typ, extra string
		syms       []string
	}{{"transaction", "", l.Trades}, {"orderbooksnapshot", "", l.Books}, {"ticker", `,"tickTypes":["24H"]`, l.Tickers}} {
		if len(t.syms) == 0 {
			continue
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"type":%q,"symbols":[`, t.typ)
		p := adapter.ConnPlan{URL: wsURL}
		adapter.WriteStrings(&b, t.syms)
		p.Symbols = append(p.Symbols, t.syms...)
		b.WriteString("]" + t.extra + "}")
		p.Subscribe = [][]byte{b.Bytes()}
		plans = append(plans, p)
	}
	return plans, nil
}

// bookCode returns a new-API orderbook code (upbitapi.BookCode), an explicit depth capped
// at 30.
func bookCode(code string, depth int, bboOnly bool) string {
	return upbitapi.BookCode(code, depth, bboOnly, func(depth int) int { return min(depth, 30) })
}

// NewParser returns a parser for one connection (either API).
func (*Adapter) NewParser() adapter.Parser { return newParser() }
