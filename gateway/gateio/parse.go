package gateio

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Gate frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
}

// Parse normalizes one frame: {"time","channel","event","result"|"error"}.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastBookTicker(frame, recvNs, out) || ps.fastUpdate(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// bookTickerShape is a spot.book_ticker update as Gate writes it (since time_ms was
// added). Values: time, time_ms, t, u, s, b, B, a, A.
var bookTickerShape = adapter.MustShape(`{"time":%n,"time_ms":%n,"channel":"spot.book_ticker","event":"update","result":{"t":%n,"u":%n,"s":"%s","b":"%s","B":"%s","a":"%s","A":"%s"}}`)

// fastBookTicker normalizes a spot.book_ticker update of the usual shape without a
// fastjson tree (adapter.Shape), as bookTicker would. It returns false, appending nothing,
// for any other frame or any value bookTicker would reject: parseTree then handles the
// frame.
func (ps *Parser) fastBookTicker(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [9][]byte
	if !bookTickerShape.Match(frame, v[:]) {
		return false
	}
	var c adapter.Conv
	r := c.BBO(out, v[5], v[6], v[7], v[8])
	r.TsExchange = c.Epoch(v[2], time.Millisecond)
	r.Seq = c.Uint(v[3])
	return ps.Keep(&c, r, v[4], recvNs, out)
}

// The spot.trades and spot.order_book_update updates as Gate writes them: the fast path of
// its other busy channels. Values: time, time_ms, then id, create_time, create_time_ms,
// side, currency_pair, amount, price, range; time, time_ms, t, E, s, U, u, then the levels.
var (
	tradeShape = adapter.MustShape(`{"time":%n,"time_ms":%n,"channel":"spot.trades","event":"update","result":{"id":%n,"create_time":%n,"create_time_ms":"%s","side":"%s","currency_pair":"%s","amount":"%s","price":"%s","range":"%s"}}`)
	bookHead   = adapter.MustShape(`{"time":%n,"time_ms":%n,"channel":"spot.order_book_update","event":"update","result":{"t":%n,"e":"depthUpdate","E":%n,"s":"%s","U":%n,"u":%n,"b":[`)
	bookAsks   = adapter.MustShape(`,"a":[`)
	level      = adapter.MustShape(`["%s","%s"]`)
	updateEnd  = adapter.MustShape(`}}`)
)

// fastUpdate normalizes a trades or order-book update of the shapes above without a
// fastjson tree, as trade and bookUpdate would, and reports whether it did; on false
// nothing is appended and parseTree handles the frame.
func (ps *Parser) fastUpdate(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [10][]byte
	var c adapter.Conv
	if tradeShape.Match(frame, v[:]) {
		r := c.Trade(out, v[2], v[8], v[7])
		r.TsExchange = c.Epoch(v[4], time.Millisecond)
		r.Side = c.Side(v[5], "buy", "sell") // the taker's side
		return ps.Keep(&c, r, v[6], recvNs, out)
	}
	rest, ok := bookHead.Head(frame, v[:7])
	if !ok {
		return false
	}
	r := out.Next()
	r.Kind = wire.KindBookDelta
	r.TsExchange = c.Epoch(v[2], time.Millisecond)
	r.SeqFirst, r.Seq = c.Uint(v[5]), c.Uint(v[6])
	c.Check(r.SeqFirst <= r.Seq && r.SeqFirst != 0)
	rest, ok = c.Sides(&r.Bids, &r.Asks, rest, level, bookAsks)
	c.Check(ok && updateEnd.Match(rest, nil))
	return ps.Keep(&c, r, v[4], recvNs, out)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	if e := v.Get("error"); e != nil && e.Type() != fastjson.TypeNull {
		return adapter.ResultError, exchangeError(v, e)
	}
	ch := v.GetStringBytes("channel")
	switch ev := v.GetStringBytes("event"); string(ev) {
	case "update", "all":
	case "subscribe", "unsubscribe":
		return adapter.ResultControl, nil
	default:
		if string(ch) == "spot.pong" || string(ch) == "spot.ping" {
			return adapter.ResultControl, nil
		}
		return adapter.ResultData, fmt.Errorf("%w: gate event %q on channel %q", adapter.ErrUnsupported, ev, ch)
	}
	res := v.Get("result")
	if res == nil {
		return adapter.ResultData, fmt.Errorf("%w: %s update without result", adapter.ErrMalformed, ch)
	}
	var item func(*fastjson.Value, *fastjson.Value, int64, *adapter.Batch) error
	switch string(ch) {
	case chBBO:
		item = ps.bookTicker
	case chTrade:
		item = ps.trade
	case chBook:
		item = ps.bookUpdate
	case chTicker:
		item = ps.ticker
	default:
		return adapter.ResultData, fmt.Errorf("%w: gate channel %q", adapter.ErrUnsupported, ch)
	}
	switch res.Type() {
	case fastjson.TypeObject:
		return adapter.ResultData, item(v, res, recvNs, out)
	case fastjson.TypeArray: // some channels batch results
		arr, _ := res.Array()
		for _, it := range arr {
			if it.Type() != fastjson.TypeObject {
				return adapter.ResultData, fmt.Errorf("%w: %s result item is %s, want object", adapter.ErrMalformed, ch, it.Type())
			}
			if err := item(v, it, recvNs, out); err != nil {
				return adapter.ResultData, err
			}
		}
		return adapter.ResultData, nil
	}
	return adapter.ResultData, fmt.Errorf("%w: %s result is %s, want object", adapter.ErrMalformed, ch, res.Type())
}

// exchangeError builds the error of a frame with {"error":{"code","message"}}.
func exchangeError(v, e *fastjson.Value) error {
	msg := e.GetStringBytes("message")
	low := bytes.ToLower(msg)
	if bytes.Contains(low, []byte("too many")) || bytes.Contains(low, []byte("rate limit")) {
		return fmt.Errorf("%w: %w: %s: code %d: %s", adapter.ErrExchange, adapter.ErrRateLimited, v.GetStringBytes("channel"), e.GetInt("code"), msg)
	}
	return fmt.Errorf("%w: %s: code %d: %s", adapter.ErrExchange, v.GetStringBytes("channel"), e.GetInt("code"), msg)
}

// instrument converts a currency pair ("BTC_USDT") to the canonical instrument.
func instrument(dst *wire.Name, sym []byte) error { return adapter.InstrumentSep(dst, sym, '_', false) }

func (ps *Parser) bookTicker(_, res *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindBBO, res, "s", recvNs)
	if err != nil {
		return err
	}
	if r.TsExchange, err = ps.Rd.EpochAt(res, "t", time.Millisecond); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Seq, err = ps.Rd.UintAt(res, "u"); err != nil {
		return adapter.Fail(out, err)
	}
	for _, f := range [...]struct {
		key string
		dst *wire.Decimal
	}{{"b", &r.BidPx}, {"B", &r.BidSz}, {"a", &r.AskPx}, {"A", &r.AskSz}} {
		if *f.dst, err = ps.Rd.DecimalAt(res, f.key); err != nil {
			return adapter.Fail(out, err)
		}
	}
	return nil
}

func (ps *Parser) trade(_, res *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindTrade, res, "currency_pair", recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(res, "id"); err != nil {
		return adapter.Fail(out, err)
	}
	if res.Exists("create_time_ms") {
		r.TsExchange, err = ps.Rd.EpochAt(res, "create_time_ms", time.Millisecond)
	} else {
		r.TsExchange, err = ps.Rd.EpochAt(res, "create_time", time.Second)
	}
	if err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Rd.DecimalAt(res, "price"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Rd.DecimalAt(res, "amount"); err != nil {
		return adapter.Fail(out, err)
	}
	switch side := res.GetStringBytes("side"); string(side) { // the taker's side
	case "buy":
		r.Side = wire.SideBuy
	case "sell":
		r.Side = wire.SideSell
	default:
		return adapter.Fail(out, fmt.Errorf("%w: trade side %q", adapter.ErrMalformed, side))
	}
	return nil
}

func (ps *Parser) bookUpdate(_, res *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindBookDelta, res, "s", recvNs)
	if err != nil {
		return err
	}
	if r.TsExchange, err = ps.Rd.EpochAt(res, "t", time.Millisecond); err != nil {
		return adapter.Fail(out, err)
	}
	if r.SeqFirst, err = ps.Rd.UintAt(res, "U"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Seq, err = ps.Rd.UintAt(res, "u"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.SeqFirst > r.Seq || r.SeqFirst == 0 {
		return adapter.Fail(out, fmt.Errorf("%w: U %d, u %d", adapter.ErrMalformed, r.SeqFirst, r.Seq))
	}
	if err := ps.Rd.Book(r, res, "b", "a"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// tickerKeyFields are the result fields whose texts make a ticker's content key.
var tickerKeyFields = [...]string{"currency_pair", "last", "lowest_ask", "highest_bid", "change_percentage",
	"base_volume", "quote_volume", "high_24h", "low_24h"}

func (ps *Parser) ticker(env, res *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindTicker, res, "currency_pair", recvNs)
	if err != nil {
		return err
	}
	if env.Exists("time_ms") {
		r.TsExchange, err = ps.Rd.EpochAt(env, "time_ms", time.Millisecond)
	} else {
		r.TsExchange, err = ps.Rd.EpochAt(env, "time", time.Second)
	}
	if err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Rd.DecimalAt(res, "last"); err != nil {
		return adapter.Fail(out, err)
	}
	h := uint64(adapter.FNVOffset64)
	for _, k := range tickerKeyFields {
		var b []byte
		if f := res.Get(k); f != nil {
			if b, err = ps.Rd.Raw(f); err != nil {
				return adapter.Fail(out, fmt.Errorf("%s: %w", k, err))
			}
		}
		h = adapter.ContentKeyNUL(h, b)
	}
	r.Flags |= wire.FlagNoSeq
	r.Seq = h
	return nil
}

// ParseSnapshot normalizes a GET /api/v4/spot/order_book?...&with_id=true body into a book
// snapshot with Seq = id and ts = update (ms, when the book last changed), else current.
func (ps *Parser) ParseSnapshot(body []byte, symbol string, recvNs int64, out *adapter.Batch) error {
	if len(body) > adapter.MaxFrameBytes {
		return fmt.Errorf("%w: snapshot: %d-byte body", adapter.ErrMalformed, len(body))
	}
	v, err := ps.JSON.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %w", adapter.ErrMalformed, err)
	}
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("%w: snapshot is %s, want object", adapter.ErrMalformed, v.Type())
	}
	if e := v.GetStringBytes("label"); e != nil { // REST errors: {"label":"INVALID_CURRENCY","message":"..."}
		return fmt.Errorf("%w: snapshot: %s: %s", adapter.ErrExchange, e, v.GetStringBytes("message"))
	}
	r, err := ps.StartSym(out, wire.KindBookSnapshot, []byte(symbol), recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(v, "id"); err != nil {
		return adapter.Fail(out, fmt.Errorf("snapshot (with_id=true?): %w", err))
	}
	for _, k := range [...]string{"update", "current"} {
		if v.Exists(k) {
			if r.TsExchange, err = ps.Rd.EpochAt(v, k, time.Millisecond); err != nil {
				return adapter.Fail(out, err)
			}
			break
		}
	}
	if err := ps.Rd.Book(r, v, "bids", "asks"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}
