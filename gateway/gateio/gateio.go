// Package gateio is the Gate (Gate.io) v4 spot adapter: wss://api.gateio.ws/ws/v4/,
// `{"time","channel","event":"subscribe","payload":[...]}` frames, spot.book_ticker for
// BBO, spot.trades for trades, spot.order_book_update diffs chained to a REST snapshot by
// U/u (BookRESTSnapshot, like Binance), spot.tickers for last prices.
//
// # Channels and records
//
//   - spot.book_ticker: one bbo record, Seq = u (order-book update id), ts = t (ms).
//   - spot.trades: one trade record, Seq = id, side = the taker's side (Gate's public trade
//     channel only reports the taker side), ts = create_time_ms (a string of ms with a
//     fractional part, kept to the ns), else create_time (s).
//   - spot.order_book_update: book_delta, SeqFirst = U, Seq = u, ts = t (ms); sizes are
//     absolute, "0" deletes.
//   - spot.tickers: highest_bid/lowest_ask come without sizes, so they are not a usable
//     BBO (a zero size reads as an empty level): the push yields a ticker record,
//     Price = last, no size. It has no id and no event time: FlagNoSeq, Seq = FNV-1a 64
//     over the result's currency_pair, last, lowest_ask, highest_bid, change_percentage,
//     base_volume, quote_volume, high_24h and low_24h texts, each followed by a zero byte
//     (content only, never the envelope time, so every gateway computes the same key for
//     the same push); ts = the envelope time_ms, else time (s) — the push time.
//
// Symbols are BASE_QUOTE ("BTC_USDT").
//
// # Sequence ids (BookRESTSnapshot)
//
// Deltas: SeqFirst = U (first update id in the push), Seq = u (last). The snapshot comes
// from GET /api/v4/spot/order_book?currency_pair=X&limit=N&with_id=true, whose `id` is
// the snapshot's update id: Seq = id (ParseSnapshot). Gate's rule (gatews
// local_order_book example) is the adapter.BookRESTSnapshot rule: drop deltas with
// u <= id, the first applied has U <= id+1 <= u, then each has U == previous u + 1.
//
// # Session
//
// The client sends {"time":<unix s>,"channel":"spot.ping"} (the official SDK every 5 s;
// here every 10 s), the server answers channel spot.pong (ResultControl). Subscribe acks
// are ResultControl, frames with a non-null "error" are ResultError. Gate documents no
// per-connection subscription or message-rate limit (maintainer answer, gateio/gatews
// issue #25) but closes connections that do not consume fast enough: the 300-topic cap
// (the venue table's MaxSubsPerConn) is tickline's choice.
//
// Request frames carry "time", the request time in unix seconds; Gate's request table
// says the gap to server time must stay small (60 s as we read it; unverified). Ping
// therefore stamps the current time on each call, and subscribe frames carry the time of
// Plan: the session should call Plan (and Ping) afresh for each connection rather than
// replay old frames.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo            sparse    book_ticker u (the book's update id)
//	trade          trade_id  id (exchange-wide, not consecutive per pair)
//	book_delta     dense     u, chained by U == previous u + 1 (SeqFirst = U)
//	book_snapshot  sparse    REST id (the last id applied when published)
//	ticker         content   FNV-1a over the result's values; the envelope time is the
//	                         push time of one connection, not an event time, so it is
//	                         left out (every gateway must compute the same key)
package gateio

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Gate v4 spot.
type Adapter struct {
	adapter.Base
	now func() time.Time // clock for request "time" fields (tests fix it)
}

// New returns the Gate spot adapter.
func New() *Adapter {
	return &Adapter{Base: adapter.Base{
		Venue: wire.GateIO,
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindBookSnapshot: wire.IdentitySparse,
			wire.KindTrade:        wire.IdentityTradeID,
			wire.KindBookDelta:    wire.IdentityDense,
			wire.KindTicker:       wire.IdentityContent,
		},
		DenseIDs: false, // spot trade ids are exchange-wide, not consecutive per currency pair
	}, now: time.Now}
}

var _ adapter.Adapter = (*Adapter)(nil)

const (
	// maxPairsPerFrame keeps each list subscribe frame small.
	maxPairsPerFrame = 100
	// bookInterval is the spot.order_book_update push interval (20ms is only offered for
	// 20-level books).
	bookInterval = "100ms"
)

// Ping returns the application heartbeat {"time":<now, unix s>,"channel":"spot.ping"}.
// The payload carries the current time, so call Ping for each heartbeat.
func (a *Adapter) Ping() (adapter.PingKind, []byte) {
	b := []byte(`{"time":`)
	b = strconv.AppendInt(b, a.now().Unix(), 10)
	b = append(b, `,"channel":"spot.ping"}`...)
	return adapter.PingText, b
}

// Gate channel names, in the order Plan subscribes them.
const (
	chBBO    = "spot.book_ticker"
	chTrade  = "spot.trades"
	chTicker = "spot.tickers"
	chBook   = "spot.order_book_update"
)

// channels returns the Gate channels of one subscription.
func channels(s adapter.Sub) ([]string, error) {
	return adapter.ChannelNames("gateio", s, adapter.Names{
		adapter.ChanBBO:    chBBO,
		adapter.ChanTrade:  chTrade,
		adapter.ChanBook:   chBook,
		adapter.ChanTicker: chTicker,
	})
}

// Plan splits the topics (channel × pair) over connections of at most
// Limits().MaxSubsPerConn (tickline's cap in the venue table: Gate documents none), on wsURL
// (wss://api.gateio.ws/ws/v4/). List channels (book ticker, trades, tickers) take up to
// 100 pairs per frame; spot.order_book_update takes one pair per frame
// (payload [pair, "100ms"]). Symbols are Gate's ("BTC_USDT").
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	ts := a.now().Unix()
	var plans []adapter.ConnPlan
	lists := map[string][]string{}
	var books []string
	flush := func(p *adapter.ConnPlan) {
		for _, ch := range [...]string{chBBO, chTrade, chTicker} {
			pairs := lists[ch]
			for len(pairs) > 0 {
				n := min(len(pairs), maxPairsPerFrame)
				p.Subscribe = append(p.Subscribe, frame(ts, ch, "subscribe", pairs[:n]))
				pairs = pairs[n:]
			}
			lists[ch] = nil
		}
		for _, pair := range books {
			p.Subscribe = append(p.Subscribe, frame(ts, chBook, "subscribe", []string{pair, bookInterval}))
		}
		books = nil
	}
	n, perConn := 0, a.Limits().MaxSubsPerConn
	for _, s := range subs {
		names, err := channels(s)
		if err != nil {
			return nil, err
		}
		if len(plans) == 0 || n+len(names) > perConn {
			if len(plans) > 0 {
				flush(&plans[len(plans)-1])
			}
			plans = append(plans, adapter.ConnPlan{URL: wsURL})
			n = 0
		}
		cur := &plans[len(plans)-1]
		cur.Symbols = append(cur.Symbols, s.Symbol)
		for _, ch := range names {
			if ch == chBook {
				books = append(books, s.Symbol)
			} else {
				lists[ch] = append(lists[ch], s.Symbol)
			}
			n++
		}
	}
	if len(plans) > 0 {
		flush(&plans[len(plans)-1])
	}
	return plans, nil
}

// frame builds {"time":ts,"channel":ch,"event":event,"payload":[...]}.
func frame(ts int64, ch, event string, payload []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"time":%d,"channel":%q,"event":%q,"payload":[`, ts, ch, event)
	adapter.WriteStrings(&b, payload)
	b.WriteString("]}")
	return b.Bytes()
}

// SnapshotURL returns GET {restURL}/api/v4/spot/order_book?currency_pair=SYM&limit=N&with_id=true
// (N defaults to 100, the depth Gate's local-book example uses).
func (*Adapter) SnapshotURL(restURL, symbol string, depth int) string {
	if depth <= 0 {
		depth = 100
	}
	return fmt.Sprintf("%s/api/v4/spot/order_book?currency_pair=%s&limit=%d&with_id=true", strings.TrimRight(restURL, "/"), strings.ToUpper(symbol), depth)
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.GateIO, instrument)}
}
