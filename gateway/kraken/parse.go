package kraken

import (
	"bytes"
	"fmt"
	"math"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Kraken v2 frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
	texts [][]byte // fastUpdate: a book's level texts, folded after its checksum
}

// Parse normalizes one frame: a channel message {"channel",...} or a method answer
// {"method",...} / error.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastTicker(frame, recvNs, out) || ps.fastUpdate(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// tickerShape is a ticker message as Kraken v2 writes it, one symbol per message: the
// BBO channel. Values: type, symbol, bid, bid_qty, ask, ask_qty, last, volume, vwap, low,
// high, change, change_pct, timestamp.
var tickerShape = adapter.MustShape(`{"channel":"ticker","type":"%s","data":[{"symbol":"%s","bid":%n,"bid_qty":%n,"ask":%n,"ask_qty":%n,"last":%n,"volume":%n,"vwap":%n,"low":%n,"high":%n,"change":%n,"change_pct":%n,"timestamp":"%s"}]}`)

// fastTicker normalizes a ticker message of the usual shape without a fastjson tree
// (adapter.Shape), as data and ticker would. It returns false, appending nothing, for any
// other frame or any value they would reject: parseTree then handles the frame.
func (ps *Parser) fastTicker(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [14][]byte
	if !tickerShape.Match(frame, v[:]) {
		return false
	}
	if typ := string(v[0]); typ != "update" && typ != "snapshot" {
		return false
	}
	sym, ts := v[1], v[13]
	var c adapter.Conv
	r := c.BBO(out, v[2], v[3], v[4], v[5])
	r.Flags = wire.FlagNoSeq
	r.TsExchange = c.ISO(ts)
	if !ps.Keep(&c, r, sym, recvNs, out) {
		return false
	}
	h := adapter.ContentKey(adapter.ContentKey(adapter.FNVOffset64, sym), ts)
	for _, b := range v[2:6] {
		h = adapter.ContentKey(h, b)
	}
	r.Seq = h
	return true
}

// The book and trade updates as Kraken writes them: the fast path of its other busy
// channels. Values: type, symbol, then the levels, checksum, timestamp; per trade symbol,
// side, price, qty, ord_type, trade_id, timestamp.
var (
	bookHead   = adapter.MustShape(`{"channel":"book","type":"%s","data":[{"symbol":"%s","bids":[`)
	bookAsks   = adapter.MustShape(`,"asks":[`)
	bookTail   = adapter.MustShape(`,"checksum":%n,"timestamp":"%s"}]}`)
	level      = adapter.MustShape(`{"price":%n,"qty":%n}`)
	tradesHead = adapter.MustShape(`{"channel":"trade","type":"update","data":[`)
	tradeItem  = adapter.MustShape(`{"symbol":"%s","side":"%s","price":%n,"qty":%n,"ord_type":"%s","trade_id":%n,"timestamp":"%s"}`)
	tradesEnd  = adapter.MustShape(`}`)
)

// fastUpdate normalizes a book or trade message of the shapes above without a fastjson
// tree, as book and trade would, and reports whether it did; on false nothing is appended
// and parseTree handles the frame.
func (ps *Parser) fastUpdate(frame []byte, recvNs int64, out *adapter.Batch) bool {
	if rest, ok := tradesHead.Head(frame, nil); ok {
		return ps.fastTrades(rest, recvNs, out)
	}
	var v [4][]byte
	rest, ok := bookHead.Head(frame, v[:2])
	if !ok {
		return false
	}
	var c adapter.Conv
	r := out.Next()
	r.Kind = c.BookKind(v[0], "snapshot", "update")
	r.Flags = wire.FlagNoSeq
	texts := ps.texts[:0]
	r.Bids, texts, rest, ok = c.LevelTexts(r.Bids, texts, rest, level)
	texts = append(texts, nil) // book's Hash(nil) between the sides
	if ok {
		rest, ok = bookAsks.Prefix(rest, nil)
	}
	if ok {
		r.Asks, texts, rest, ok = c.LevelTexts(r.Asks, texts, rest, level)
	}
	ps.texts = texts
	c.Check(ok && bookTail.Match(rest, v[2:4]))
	if c.Failed() {
		clear(texts) // no reference into the frame stays behind
		out.Drop()
		return false
	}
	sym, ts := v[1], v[3]
	sum := c.Uint(v[2])
	c.Check(sum <= math.MaxUint32)
	r.Checksum, r.HasChecksum = uint32(sum), true
	r.TsExchange = c.ISO(ts)
	// book's order: symbol, timestamp, checksum, bids, nil, asks.
	h := adapter.ContentKey(adapter.ContentKey(adapter.FNVOffset64, sym), ts)
	h = adapter.ContentKey(h, []byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	return ps.KeepKeyed(&c, r, sym, recvNs, out, adapter.ContentKeyAll(h, texts))
}

// fastTrades is fastUpdate for a trade update's items, from just after the data's '['.
func (ps *Parser) fastTrades(rest []byte, recvNs int64, out *adapter.Batch) bool {
	var v [7][]byte
	items := tradeItem.Items(rest, out)
	for items.Next(v[:]) {
		var c adapter.Conv
		r := c.Trade(out, v[5], v[2], v[3])
		r.Side = c.Side(v[1], "buy", "sell") // the taker's side
		r.TsExchange = c.ISO(v[6])
		items.Kept(ps.Keep(&c, r, v[0], recvNs, out))
	}
	return items.End(tradesEnd)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	if v.Exists("channel") {
		ch, err := adapter.StringAt(v, "channel")
		if err != nil {
			return adapter.ResultData, err
		}
		switch string(ch) {
		case "ticker", "trade", "book":
			return ps.data(v, ch, recvNs, out)
		case "heartbeat", "status":
			return adapter.ResultControl, nil
		}
		return adapter.ResultData, fmt.Errorf("%w: kraken channel %q", adapter.ErrUnsupported, ch)
	}
	if s := v.Get("success"); s != nil && s.Type() == fastjson.TypeFalse || v.Exists("error") {
		return adapter.ResultError, exchangeError(v)
	}
	if v.Exists("method") {
		return adapter.ResultControl, nil // subscribe/unsubscribe ack, pong
	}
	return adapter.ResultData, fmt.Errorf("%w: neither channel nor method", adapter.ErrMalformed)
}

// exchangeError turns a failed method answer into an error.
func exchangeError(v *fastjson.Value) error {
	msg := v.GetStringBytes("error")
	method := v.GetStringBytes("method")
	lower := bytes.ToLower(msg)
	if bytes.Contains(lower, []byte("rate")) || bytes.Contains(lower, []byte("too many")) {
		return fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, method, msg)
	}
	return fmt.Errorf("%w: %s: %s", adapter.ErrExchange, method, msg)
}

// data normalizes each element of a ticker, trade or book message.
func (ps *Parser) data(v *fastjson.Value, ch []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	typ, err := adapter.StringAt(v, "type")
	if err != nil {
		return adapter.ResultData, err
	}
	snapshot := string(typ) == "snapshot"
	if !snapshot && string(typ) != "update" {
		return adapter.ResultData, fmt.Errorf("%w: type %q", adapter.ErrMalformed, typ)
	}
	dv := v.Get("data")
	if dv == nil {
		return adapter.ResultData, fmt.Errorf("%w: missing data", adapter.ErrMalformed)
	}
	items, err := dv.Array()
	if err != nil {
		return adapter.ResultData, fmt.Errorf("%w: data is %s, want array", adapter.ErrMalformed, dv.Type())
	}
	n := out.Len()
	for _, it := range items {
		if it.Type() != fastjson.TypeObject {
			return adapter.ResultData, fmt.Errorf("%w: data element is %s, want object", adapter.ErrMalformed, it.Type())
		}
		switch string(ch) {
		case "ticker":
			err = ps.ticker(it, recvNs, out)
		case "trade":
			err = ps.trade(it, recvNs, out)
		default:
			err = ps.book(it, snapshot, recvNs, out)
		}
		if err != nil {
			return adapter.ResultData, err
		}
	}
	if snapshot && string(ch) == "trade" {
		// Trade history replayed on subscribe (package doc): checked, not published.
		out.Truncate(n)
		return adapter.ResultControl, nil
	}
	return adapter.ResultData, nil
}

// instrument converts a v2 symbol ("BTC/USD") to the canonical instrument.
func instrument(dst *wire.Name, sym []byte) error { return adapter.InstrumentSep(dst, sym, '/', false) }

// present reports whether an optional field is given (not missing or null).
func present(v *fastjson.Value) bool { return v != nil && v.Type() != fastjson.TypeNull }

// timestamp reads the RFC 3339 `timestamp`; a missing optional one is 0.
func timestamp(o *fastjson.Value, required bool) (int64, []byte, error) {
	return adapter.ISOAt(o, "timestamp", required)
}

// ticker: bid AND ask → bbo; otherwise → ticker (last price).
func (ps *Parser) ticker(it *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartISOKeyed(out, 0, it, "symbol", "timestamp", false, recvNs)
	if err != nil {
		return err
	}
	h := ps.Key()
	bid, ask := it.Get("bid"), it.Get("ask")
	if !present(bid) || !present(ask) {
		r.Kind = wire.KindTicker
		if r.Price, r.Seq, err = ps.Rd.KeyedDecimal(it.Get("last"), "last", h); err != nil {
			return adapter.Fail(out, err)
		}
		return nil
	}
	r.Kind = wire.KindBBO
	for _, f := range [...]struct {
		v   *fastjson.Value
		key string
		dst *wire.Decimal
	}{{bid, "bid", &r.BidPx}, {it.Get("bid_qty"), "bid_qty", &r.BidSz}, {ask, "ask", &r.AskPx}, {it.Get("ask_qty"), "ask_qty", &r.AskSz}} {
		if *f.dst, h, err = ps.Rd.KeyedDecimal(f.v, f.key, h); err != nil {
			return adapter.Fail(out, err)
		}
	}
	r.Seq = h
	return nil
}

// trade: side is the taker's; Seq = trade_id.
func (ps *Parser) trade(it *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindTrade, it, "symbol", recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(it, "trade_id"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, r.Size, err = ps.Rd.PriceSize(it, "price", "qty"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Side, err = adapter.SideAt(it, "side", "buy", "sell"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, _, err = timestamp(it, true); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// book: levels {"price","qty"}, checksum over the resulting top 10.
func (ps *Parser) book(it *fastjson.Value, snapshot bool, recvNs int64, out *adapter.Batch) error {
	k := wire.KindBookDelta
	if snapshot {
		k = wire.KindBookSnapshot
	}
	r, err := ps.StartISOKeyed(out, k, it, "symbol", "timestamp", false, recvNs)
	if err != nil {
		return err
	}
	sum, err := ps.Rd.UintAt(it, "checksum")
	if err != nil {
		return adapter.Fail(out, err)
	}
	if sum > math.MaxUint32 {
		return adapter.Fail(out, fmt.Errorf("%w: checksum %d above 2^32", adapter.ErrMalformed, sum))
	}
	r.Checksum, r.HasChecksum = uint32(sum), true
	ps.Hash([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	if r.Bids, err = ps.ObjectLevels(r.Bids, it, "bids", "price", "qty", true); err != nil {
		return adapter.Fail(out, err)
	}
	ps.Hash(nil) // between the sides
	if r.Asks, err = ps.ObjectLevels(r.Asks, it, "asks", "price", "qty", true); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = ps.Key()
	return nil
}
