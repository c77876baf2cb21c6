package coinbase

import (
	"bytes"
	"fmt"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Coinbase Exchange feed frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
	texts [][]byte // fastMessage: an l2update's change texts, folded after its time
}

// Parse normalizes one frame. Every feed message is an object with a "type".
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastTicker(frame, recvNs, out) || ps.fastMessage(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// tickerShape is a ticker message as Coinbase writes it (with the best bid and ask
// sizes): the BBO channel. Values: sequence, product_id, price, open_24h, volume_24h,
// low_24h, high_24h, volume_30d, best_bid, best_bid_size, best_ask, best_ask_size, side,
// time, trade_id, last_size.
var tickerShape = adapter.MustShape(`{"type":"ticker","sequence":%n,"product_id":"%s","price":"%s","open_24h":"%s","volume_24h":"%s","low_24h":"%s","high_24h":"%s","volume_30d":"%s","best_bid":"%s","best_bid_size":"%s","best_ask":"%s","best_ask_size":"%s","side":"%s","time":"%s","trade_id":%n,"last_size":"%s"}`)

// fastTicker normalizes a ticker with a whole best bid and ask, of the usual shape,
// without a fastjson tree (adapter.Shape), as ticker would. It returns false, appending
// nothing, for any other frame or any value ticker would read differently or reject:
// parseTree then handles the frame.
func (ps *Parser) fastTicker(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [16][]byte
	if !tickerShape.Match(frame, v[:]) {
		return false
	}
	for _, i := range [...]int{8, 9, 10, 11} {
		if len(v[i]) == 0 { // "": a ticker record, or a size not given
			return false
		}
	}
	var c adapter.Conv
	r := c.BBO(out, v[8], v[9], v[10], v[11])
	r.Seq = c.Uint(v[0])
	r.TsExchange = c.ISO(v[13])
	return ps.Keep(&c, r, v[1], recvNs, out)
}

// The match and l2update messages as Coinbase writes them: the fast path of its other busy
// channels. Values: trade_id, maker_order_id, taker_order_id, side, size, price,
// product_id, sequence, time; product_id, then per change side, price, size, then time.
var (
	matchShape = adapter.MustShape(`{"type":"match","trade_id":%n,"maker_order_id":"%s","taker_order_id":"%s","side":"%s","size":"%s","price":"%s","product_id":"%s","sequence":%n,"time":"%s"}`)
	l2Head     = adapter.MustShape(`{"type":"l2update","product_id":"%s","changes":[`)
	l2Change   = adapter.MustShape(`["%s","%s","%s"]`)
	l2Tail     = adapter.MustShape(`,"time":"%s"}`)
)

// fastMessage normalizes a match or l2update message of the shapes above without a
// fastjson tree, as match and l2update would, and reports whether it did; on false
// nothing is appended and parseTree handles the frame.
func (ps *Parser) fastMessage(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [9][]byte
	var c adapter.Conv
	if matchShape.Match(frame, v[:]) {
		r := c.Trade(out, v[0], v[5], v[4])
		r.SeqFirst = c.Uint(v[7])
		r.Side = c.Side(v[3], "sell", "buy") // a resting buy order was hit: the taker sold
		r.TsExchange = c.ISO(v[8])
		return ps.Keep(&c, r, v[6], recvNs, out)
	}
	rest, ok := l2Head.Head(frame, v[:1])
	if !ok {
		return false
	}
	r := out.Next()
	r.Kind, r.Flags = wire.KindBookDelta, wire.FlagNoSeq
	texts := ps.texts[:0]
	it := l2Change.Elems(rest, wire.MaxLevels)
	for it.Next(v[1:4]) {
		l := wire.Level{Price: c.Decimal(v[2]), Size: c.Decimal(v[3])}
		switch string(v[1]) {
		case "buy":
			r.Bids = append(r.Bids, l)
		case "sell":
			r.Asks = append(r.Asks, l)
		default:
			c.Check(false)
		}
		texts = append(texts, v[1], v[2], v[3])
	}
	ps.texts = texts
	rest, ok = it.Rest()
	c.Check(ok && l2Tail.Match(rest, v[4:5]))
	sym, ts := v[0], v[4]
	r.TsExchange = c.ISO(ts)
	// l2update's order: product_id, time, then each change's side, price and size.
	h := adapter.ContentKey(adapter.ContentKey(adapter.FNVOffset64, sym), ts)
	return ps.KeepKeyed(&c, r, sym, recvNs, out, adapter.ContentKeyAll(h, texts))
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	typ, err := adapter.StringAt(v, "type")
	if err != nil {
		return adapter.ResultData, err
	}
	switch string(typ) {
	case "ticker":
		return adapter.ResultData, ps.ticker(v, recvNs, out)
	case "match":
		return adapter.ResultData, ps.match(v, recvNs, out)
	case "last_match":
		// A repeat of the product's latest trade, sent on subscribe (package doc): check
		// it, publish nothing.
		n := out.Len()
		if err := ps.match(v, recvNs, out); err != nil {
			return adapter.ResultData, err
		}
		out.Truncate(n)
		return adapter.ResultControl, nil
	case "snapshot":
		return adapter.ResultData, ps.snapshot(v, recvNs, out)
	case "l2update":
		return adapter.ResultData, ps.l2update(v, recvNs, out)
	case "heartbeat", "subscriptions":
		return adapter.ResultControl, nil
	case "error":
		return adapter.ResultError, exchangeError(v)
	}
	return adapter.ResultData, fmt.Errorf("%w: coinbase message type %q", adapter.ErrUnsupported, typ)
}

// exchangeError turns {"type":"error","message":...,"reason":...} into an error.
func exchangeError(v *fastjson.Value) error {
	msg, reason := v.GetStringBytes("message"), v.GetStringBytes("reason")
	lower := bytes.ToLower(append(append([]byte(nil), msg...), reason...))
	if bytes.Contains(lower, []byte("rate limit")) || bytes.Contains(lower, []byte("errslowread")) ||
		bytes.Contains(lower, []byte("too many")) {
		return fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, msg, reason)
	}
	return fmt.Errorf("%w: %s: %s", adapter.ErrExchange, msg, reason)
}

// instrument converts a product id ("BTC-USD") to the canonical instrument.
func instrument(dst *wire.Name, sym []byte) error { return adapter.InstrumentSep(dst, sym, '-', false) }

// present reports whether an optional field is given (not missing, null or "").
func present(v *fastjson.Value) bool {
	if v == nil || v.Type() == fastjson.TypeNull {
		return false
	}
	b, err := v.StringBytes()
	return err != nil || len(b) > 0
}

// timeAt reads the ISO-8601 UTC `time` field; a missing optional one is 0.
func timeAt(o *fastjson.Value, required bool) (int64, []byte, error) {
	return adapter.ISOAt(o, "time", required)
}

// ticker: best_bid AND best_ask → bbo; otherwise → ticker (last price).
func (ps *Parser) ticker(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, 0, v, "product_id", recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(v, "sequence"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, _, err = timeAt(v, false); err != nil {
		return adapter.Fail(out, err)
	}
	if !present(v.Get("best_bid")) || !present(v.Get("best_ask")) {
		r.Kind = wire.KindTicker
		if r.Price, err = ps.Rd.DecimalAt(v, "price"); err != nil {
			return adapter.Fail(out, err)
		}
		if sz := v.Get("last_size"); present(sz) {
			if r.Size, err = ps.Rd.Decimal(sz, "last_size"); err != nil {
				return adapter.Fail(out, err)
			}
		}
		return nil
	}
	r.Kind = wire.KindBBO
	for _, f := range [...]struct {
		key      string
		dst      *wire.Decimal
		optional bool
	}{{"best_bid", &r.BidPx, false}, {"best_bid_size", &r.BidSz, true}, {"best_ask", &r.AskPx, false}, {"best_ask_size", &r.AskSz, true}} {
		x := v.Get(f.key)
		if f.optional && (x == nil || x.Type() == fastjson.TypeNull) {
			continue // 0 = size not given (the 2021 format has no sizes); "" is malformed
		}
		if *f.dst, err = ps.Rd.Decimal(x, f.key); err != nil {
			return adapter.Fail(out, err)
		}
	}
	return nil
}

// match → trade; `side` is the maker's, so the taker side is the other one.
func (ps *Parser) match(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindTrade, v, "product_id", recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(v, "trade_id"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.SeqFirst, err = ps.Rd.UintAt(v, "sequence"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, r.Size, err = ps.Rd.PriceSize(v, "price", "size"); err != nil {
		return adapter.Fail(out, err)
	}
	// a resting buy order was hit: the taker sold
	if r.Side, err = adapter.SideAt(v, "side", "sell", "buy"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, _, err = timeAt(v, true); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// snapshot → book_snapshot: the whole book, no time, no sequence.
func (ps *Parser) snapshot(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartISOKeyed(out, wire.KindBookSnapshot, v, "product_id", "time", false, recvNs)
	if err != nil {
		return err
	}
	h := ps.Key()
	if r.Bids, h, err = ps.Rd.KeyedLevels(r.Bids, v.Get("bids"), "bids", h); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Asks, h, err = ps.Rd.KeyedLevels(r.Asks, v.Get("asks"), "asks", adapter.ContentKey(h, nil)); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = h
	return nil
}

// l2update → book_delta: changes [side, price, new_size], "buy" = bid, "sell" = ask.
func (ps *Parser) l2update(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartISOKeyed(out, wire.KindBookDelta, v, "product_id", "time", true, recvNs)
	if err != nil {
		return err
	}
	cv := v.Get("changes")
	if cv == nil {
		return adapter.Fail(out, fmt.Errorf("%w: missing changes", adapter.ErrMalformed))
	}
	changes, err := cv.Array()
	if err != nil {
		return adapter.Fail(out, fmt.Errorf("%w: changes is %s, want array", adapter.ErrMalformed, cv.Type()))
	}
	if len(changes) > wire.MaxLevels {
		return adapter.Fail(out, fmt.Errorf("%w: %d changes", adapter.ErrMalformed, len(changes)))
	}
	h := ps.Key()
	for _, c := range changes {
		f, err := c.Array()
		if err != nil || len(f) < 3 {
			return adapter.Fail(out, fmt.Errorf("%w: change is not [side, price, size]", adapter.ErrMalformed))
		}
		side, err := f[0].StringBytes()
		if err != nil {
			return adapter.Fail(out, fmt.Errorf("%w: change side is %s, want string", adapter.ErrMalformed, f[0].Type()))
		}
		h = adapter.ContentKey(h, side)
		var l wire.Level
		if l.Price, h, err = ps.Rd.KeyedDecimal(f[1], "change price", h); err != nil {
			return adapter.Fail(out, err)
		}
		if l.Size, h, err = ps.Rd.KeyedDecimal(f[2], "change size", h); err != nil {
			return adapter.Fail(out, err)
		}
		switch string(side) {
		case "buy":
			r.Bids = append(r.Bids, l)
		case "sell":
			r.Asks = append(r.Asks, l)
		default:
			return adapter.Fail(out, fmt.Errorf("%w: change side %q", adapter.ErrMalformed, side))
		}
	}
	r.Seq = h
	return nil
}
