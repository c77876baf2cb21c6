package bithumb

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/adapter/upbitapi"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Bithumb frames of either API (adapter/upbitapi reads the new API's
// messages). It is owned by one goroutine.
type Parser struct {
	upbitapi.Parser
	one   [1]*fastjson.Value
	num   [20]byte          // scratch for an index's digits
	sides adapter.BookSides // fastLegacy's scratch
	dt    [19]byte          // scratch for "YYYY-MM-DD HH:MM:SS"
}

func newParser() *Parser {
	return &Parser{Parser: upbitapi.NewParser(upbitapi.Venue{Exchange: wire.Bithumb, Instrument: instrument})}
}

// Parse normalizes one frame of either API (see the package doc).
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.Fast(frame, recvNs, out) || ps.fastLegacy(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// The legacy API's orderbooksnapshot and transaction messages as Bithumb writes them,
// byte for byte: the fast path (adapter.Shape) of most legacy frames.
var (
	bookHead  = adapter.MustShape(`{"type":"orderbooksnapshot","content":{"symbol":"%s","datetime":"%s","asks":[`)
	bookLevel = adapter.MustShape(`["%s","%s"]`)
	bookBids  = adapter.MustShape(`,"bids":[`)
	legacyEnd = adapter.MustShape(`}}`)
	tradeHead = adapter.MustShape(`{"type":"transaction","content":{"list":[`)
	tradeItem = adapter.MustShape(`{"buySellGb":"%s","contPrice":"%s","contQty":"%s","contAmt":"%s","contDtm":"%s","updn":"%s","symbol":"%s"}`)
)

// fastLegacy normalizes a legacy frame of the shapes above without a fastjson tree and
// reports whether it did; on false nothing is appended. The records, content keys
// included, are legacyBook's and transaction's (FuzzSame).
func (ps *Parser) fastLegacy(frame []byte, recvNs int64, out *adapter.Batch) bool {
	if rest, ok := tradeHead.Head(frame, nil); ok {
		return ps.fastTrades(rest, recvNs, out)
	}
	var hv [2][]byte
	rest, ok := bookHead.Head(frame, hv[:])
	if !ok {
		return false
	}
	sym, ts := hv[0], hv[1]
	var c adapter.Conv
	r, h := adapter.KeyedSnapshot(&c, out, sym, ts, upbitapi.TsUnit(ts))
	// legacyBook's order: symbol, datetime, bids, asks.
	rest, h, ok = ps.sides.Read(&c, rest, bookLevel, bookBids, r, h)
	c.Check(ok && legacyEnd.Match(rest, nil))
	return ps.KeepKeyed(&c, r, sym, recvNs, out, h)
}

// fastTrades is fastLegacy for a transaction message's list, from just after its '['.
func (ps *Parser) fastTrades(rest []byte, recvNs int64, out *adapter.Batch) bool {
	var v [7][]byte
	items := tradeItem.Items(rest, out)
	for i := 0; items.Next(v[:]); i++ {
		gb, sym, dtm := v[0], v[6], v[4]
		var c adapter.Conv
		r := out.Next()
		r.Kind, r.Flags = wire.KindTrade, wire.FlagNoSeq
		r.TsExchange = c.ISOIn(dtm, adapter.KST)
		r.Price, r.Size = c.Decimal(v[1]), c.Decimal(v[2])
		r.Side = c.Side(gb, "2", "1") // "1": a sell-side execution, the taker sold
		// transaction's order: symbol, contDtm, buySellGb, contPrice, contQty, index.
		h := adapter.ContentKey(adapter.ContentKey(adapter.ContentKey(adapter.FNVOffset64, sym), dtm), gb)
		h = adapter.ContentKey(adapter.ContentKey(h, v[1]), v[2])
		r.Seq = adapter.ContentKey(h, strconv.AppendInt(ps.num[:0], int64(i), 10))
		items.Kept(ps.Keep(&c, r, sym, recvNs, out))
	}
	return items.End(legacyEnd)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Frame(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	res := adapter.ResultData
	for _, o := range upbitapi.Messages(v, &ps.one) { // new API SIMPLE_LIST / JSON_LIST
		if res, err = ps.object(o, recvNs, out); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (ps *Parser) object(v *fastjson.Value, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if v.Type() != fastjson.TypeObject {
		return adapter.ResultData, fmt.Errorf("%w: message is %s, want object", adapter.ErrMalformed, v.Type())
	}
	if content := v.Get("content"); content != nil { // legacy data
		if content.Type() != fastjson.TypeObject {
			return adapter.ResultData, fmt.Errorf("%w: content is %s, want object", adapter.ErrMalformed, content.Type())
		}
		switch typ := v.GetStringBytes("type"); string(typ) {
		case "transaction":
			return adapter.ResultData, ps.transaction(content, recvNs, out)
		case "orderbooksnapshot":
			return adapter.ResultData, ps.legacyBook(content, recvNs, out)
		case "orderbookdepth":
			return adapter.ResultData, ps.depth(content, recvNs, out)
		case "ticker":
			return adapter.ResultData, ps.legacyTicker(content, recvNs, out)
		default:
			return adapter.ResultData, fmt.Errorf("%w: bithumb legacy type %q", adapter.ErrUnsupported, typ)
		}
	}
	if res, ok, err := ps.Message(v, recvNs, out); ok { // new API
		return res, err
	}
	if st := v.GetStringBytes("status"); st != nil {
		if string(st) == "UP" || string(st) == "0000" { // new API heartbeat; legacy "Connected/Filter Registered Successfully"
			return adapter.ResultControl, nil
		}
		return adapter.ResultError, fmt.Errorf("%w: status %s: %s", adapter.ErrExchange, st, v.GetStringBytes("resmsg"))
	}
	if v.Exists("method") || v.Exists("mthd") {
		return adapter.ResultControl, nil // LIST_SUBSCRIPTIONS answer
	}
	return adapter.ResultData, fmt.Errorf("%w: message without type", adapter.ErrMalformed)
}

// instrument converts a symbol, "KRW-BTC" (quote first) or legacy "BTC_KRW", to the
// canonical instrument.
func instrument(dst *wire.Name, sym []byte) error {
	if bytes.IndexByte(sym, '_') >= 0 {
		return adapter.InstrumentSep(dst, sym, '_', false)
	}
	return adapter.InstrumentSep(dst, sym, '-', true)
}

// --- legacy API ---

func (ps *Parser) transaction(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	list, err := adapter.ArrayAt(c, "list")
	if err != nil {
		return err
	}
	for i, it := range list {
		if it.Type() != fastjson.TypeObject {
			return fmt.Errorf("%w: transaction is %s, want object", adapter.ErrMalformed, it.Type())
		}
		r, err := ps.StartKeyedAt(out, wire.KindTrade, it, "symbol", recvNs)
		if err != nil {
			return err
		}
		r.Flags |= wire.FlagNoSeq
		dtm, err := adapter.StringAt(it, "contDtm")
		if err != nil {
			return adapter.Fail(out, err)
		}
		if r.TsExchange, err = adapter.ISONs(dtm, adapter.KST); err != nil {
			return adapter.Fail(out, fmt.Errorf("contDtm: %w", err))
		}
		ps.Hash(dtm)
		gb, err := ps.KeyedRaw(it, "buySellGb")
		if err != nil {
			return adapter.Fail(out, err)
		}
		switch string(gb) {
		case "1":
			r.Side = wire.SideSell // a sell-side execution: the taker sold
		case "2":
			r.Side = wire.SideBuy
		default:
			return adapter.Fail(out, fmt.Errorf("%w: buySellGb %q, want 1 or 2", adapter.ErrMalformed, gb))
		}
		if r.Price, err = ps.Dec(it, "contPrice"); err != nil {
			return adapter.Fail(out, err)
		}
		if r.Size, err = ps.Dec(it, "contQty"); err != nil {
			return adapter.Fail(out, err)
		}
		ps.Hash(strconv.AppendInt(ps.num[:0], int64(i), 10))
		r.Seq = ps.Key()
	}
	return nil
}

// level reads a legacy book level: [price, quantity] or {"price","quantity"}.
func (ps *Parser) level(v *fastjson.Value) (wire.Level, error) {
	var l wire.Level
	var err error
	switch v.Type() {
	case fastjson.TypeArray:
		pair, _ := v.Array()
		if len(pair) < 2 {
			return l, fmt.Errorf("%w: level is not [price, quantity]", adapter.ErrMalformed)
		}
		holder := [...]*fastjson.Value{pair[0], pair[1]}
		for i, dst := range [...]*wire.Decimal{&l.Price, &l.Size} {
			b, err := ps.Rd.Raw(holder[i])
			if err != nil {
				return l, fmt.Errorf("level: %w", err)
			}
			ps.Hash(b)
			if *dst, err = wire.ParseDecimal(b); err != nil || dst.Sign() < 0 {
				return l, fmt.Errorf("%w: level value %q", adapter.ErrMalformed, string(b))
			}
		}
		return l, nil
	case fastjson.TypeObject:
		if l.Price, err = ps.Dec(v, "price"); err != nil {
			return l, err
		}
		l.Size, err = ps.Dec(v, "quantity")
		return l, err
	}
	return l, fmt.Errorf("%w: level is %s", adapter.ErrMalformed, v.Type())
}

func (ps *Parser) legacyBook(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartKeyedAt(out, wire.KindBookSnapshot, c, "symbol", recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if c.Exists("datetime") {
		if r.TsExchange, err = ps.Ts(c, "datetime"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	for _, side := range [...]struct {
		key string
		dst *[]wire.Level
	}{{"bids", &r.Bids}, {"asks", &r.Asks}} {
		levels, err := adapter.ArrayAt(c, side.key)
		if err != nil {
			return adapter.Fail(out, err)
		}
		for _, lv := range levels {
			l, err := ps.level(lv)
			if err != nil {
				return adapter.Fail(out, fmt.Errorf("%s: %w", side.key, err))
			}
			*side.dst = append(*side.dst, l)
		}
	}
	r.Seq = ps.Key()
	return nil
}

func (ps *Parser) depth(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	first := out.Len()
	drop := func(err error) error {
		out.Truncate(first)
		return err
	}
	ps.SetKey(adapter.FNVOffset64)
	ts, err := ps.Ts(c, "datetime")
	if err != nil {
		return err
	}
	list, err := adapter.ArrayAt(c, "list")
	if err != nil {
		return err
	}
	for _, it := range list {
		if it.Type() != fastjson.TypeObject {
			return drop(fmt.Errorf("%w: orderbookdepth item is %s, want object", adapter.ErrMalformed, it.Type()))
		}
		sym, err := adapter.StringAt(it, "symbol")
		if err != nil {
			return drop(err)
		}
		var r *wire.Record
		for i := first; i < out.Len(); i++ {
			if bytes.Equal(out.At(i).Symbol.Bytes(), sym) {
				r = out.At(i)
				break
			}
		}
		if r == nil {
			h := ps.Key()
			if r, err = ps.StartKeyed(out, wire.KindBookDelta, sym, recvNs); err != nil {
				return drop(err)
			}
			ps.SetKey(h) // the message key goes on over every item
			r.Flags |= wire.FlagNoSeq
			r.TsExchange = ts
		}
		ps.Hash(sym)
		typ, err := ps.KeyedRaw(it, "orderType")
		if err != nil {
			return drop(err)
		}
		var l wire.Level
		if l.Price, err = ps.Dec(it, "price"); err != nil {
			return drop(err)
		}
		if l.Size, err = ps.Dec(it, "quantity"); err != nil {
			return drop(err)
		}
		switch string(typ) {
		case "bid":
			r.Bids = append(r.Bids, l)
		case "ask":
			r.Asks = append(r.Asks, l)
		default:
			return drop(fmt.Errorf("%w: orderType %q, want bid or ask", adapter.ErrMalformed, typ))
		}
	}
	msg := ps.Key()
	for i := first; i < out.Len(); i++ {
		r := out.At(i)
		ps.SetKey(msg)
		ps.Hash(r.Symbol.Bytes())
		r.Seq = ps.Key()
	}
	return nil
}

func (ps *Parser) legacyTicker(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartKeyedAt(out, wire.KindTicker, c, "symbol", recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if _, err := ps.KeyedRaw(c, "tickType"); err != nil {
		return adapter.Fail(out, err)
	}
	date, err := adapter.StringAt(c, "date")
	if err != nil {
		return adapter.Fail(out, err)
	}
	tm, err := adapter.StringAt(c, "time")
	if err != nil {
		return adapter.Fail(out, err)
	}
	if len(date) != 8 || len(tm) != 6 {
		return adapter.Fail(out, fmt.Errorf("%w: date %q time %q, want YYYYMMDD HHMMSS", adapter.ErrMalformed, date, tm))
	}
	ps.Hash(date)
	ps.Hash(tm)
	d := ps.dt[:]
	copy(d[0:4], date[0:4])
	copy(d[5:7], date[4:6])
	copy(d[8:10], date[6:8])
	copy(d[11:13], tm[0:2])
	copy(d[14:16], tm[2:4])
	copy(d[17:19], tm[4:6])
	d[4], d[7], d[10], d[13], d[16] = '-', '-', ' ', ':', ':'
	if r.TsExchange, err = adapter.ISONs(d, adapter.KST); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Dec(c, "closePrice"); err != nil {
		return adapter.Fail(out, err)
	}
	if c.Exists("volume") {
		if _, err := ps.KeyedRaw(c, "volume"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	r.Seq = ps.Key()
	return nil
}
