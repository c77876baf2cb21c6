package bithumb

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// keys names the fields of one new-API message format.
type keys struct {
	typ, code, ts, tradeTs, price, volume, askBid, seqID, units, ap, bp, as, bs string
}

var (
	defaultKeys = keys{"type", "code", "timestamp", "trade_timestamp", "trade_price", "trade_volume",
		"ask_bid", "sequential_id", "orderbook_units", "ask_price", "bid_price", "ask_size", "bid_size"}
	simpleKeys = keys{"ty", "cd", "tms", "ttms", "tp", "tv", "ab", "sid", "obu", "ap", "bp", "as", "bs"}
)

// Parser normalizes Bithumb frames of either API. It is owned by one goroutine.
type Parser struct {
	p    fastjson.Parser
	rd   adapter.Reader
	syms adapter.SymbolCache
	h    uint64   // content key of the record being built
	num  [20]byte // scratch for an index's digits
	dt   [19]byte // scratch for "YYYY-MM-DD HH:MM:SS"
}

// Reply returns nil: Bithumb never asks the client for a heartbeat answer.
func (*Parser) Reply() []byte { return nil }

// ParseSnapshot is not used: Plan subscribes full books over the stream.
func (*Parser) ParseSnapshot([]byte, string, int64, *adapter.Batch) error {
	return fmt.Errorf("%w: bithumb books come whole over the stream", adapter.ErrUnsupported)
}

// Parse normalizes one frame of either API (see the package doc).
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := adapter.ParseFrame(&ps.p, frame)
	if err != nil {
		return adapter.ResultData, err
	}
	if v.Type() == fastjson.TypeArray { // new API SIMPLE_LIST / JSON_LIST
		arr, _ := v.Array()
		res := adapter.ResultData
		for _, o := range arr {
			if res, err = ps.object(o, recvNs, out); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	return ps.object(v, recvNs, out)
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
	k := &defaultKeys
	typ := v.GetStringBytes("type")
	if typ == nil {
		if typ = v.GetStringBytes("ty"); typ != nil {
			k = &simpleKeys
		}
	}
	switch string(typ) {
	case "trade":
		return adapter.ResultData, ps.trade(v, k, recvNs, out)
	case "orderbook":
		return adapter.ResultData, ps.book(v, k, recvNs, out)
	case "ticker":
		return adapter.ResultData, ps.ticker(v, k, recvNs, out)
	case "":
	default:
		return adapter.ResultData, fmt.Errorf("%w: bithumb type %q", adapter.ErrUnsupported, typ)
	}
	if e := v.Get("error"); e != nil { // new API
		name := e.GetStringBytes("name")
		if bytes.Contains(name, []byte("TOO_MANY")) {
			return adapter.ResultError, fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, name, e.GetStringBytes("message"))
		}
		return adapter.ResultError, fmt.Errorf("%w: %s: %s", adapter.ErrExchange, name, e.GetStringBytes("message"))
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

// hash folds one field text into the content key.
func (ps *Parser) hash(b []byte) { ps.h = adapter.ContentKey(ps.h, b) }

// start appends a record of kind for symbol sym ("KRW-BTC" quote first, or legacy
// "BTC_KRW") and starts its content key.
func (ps *Parser) start(sym []byte, kind wire.Kind, recvNs int64, out *adapter.Batch) (*wire.Record, error) {
	r := out.Next()
	r.Kind, r.Exchange, r.TsRecv = kind, wire.Bithumb, recvNs
	if err := ps.syms.Resolve(r, sym, instrument); err != nil {
		return nil, adapter.Fail(out, err)
	}
	ps.h = adapter.FNVOffset64
	ps.hash(sym)
	return r, nil
}

// instrument converts a symbol, "KRW-BTC" (quote first) or legacy "BTC_KRW", to the
// canonical instrument.
func instrument(dst *wire.Name, sym []byte) error {
	if bytes.IndexByte(sym, '_') >= 0 {
		return adapter.InstrumentSep(dst, sym, '_', false)
	}
	return adapter.InstrumentSep(dst, sym, '-', true)
}

// raw returns the text of a string or number field and folds it into the content key.
func (ps *Parser) raw(o *fastjson.Value, key string) ([]byte, error) {
	b, err := ps.rd.Raw(o.Get(key))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	ps.hash(b)
	return b, nil
}

// dec reads an exact non-negative decimal and folds its text into the content key.
func (ps *Parser) dec(o *fastjson.Value, key string) (wire.Decimal, error) {
	b, err := ps.raw(o, key)
	if err != nil {
		return wire.Decimal{}, err
	}
	return adapter.ParseDecimal(b, key)
}

// ts reads an epoch timestamp in ms, or µs when it has 16 or more integer digits.
func (ps *Parser) ts(o *fastjson.Value, key string) (int64, error) {
	b, err := ps.raw(o, key)
	if err != nil {
		return 0, err
	}
	digits := bytes.IndexByte(b, '.')
	if digits < 0 {
		digits = len(b)
	}
	unit := time.Millisecond
	if digits >= 16 {
		unit = time.Microsecond
	}
	ns, err := adapter.EpochNs(b, unit)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return ns, nil
}

// --- new API (Upbit-compatible) ---

func (ps *Parser) trade(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	code, err := adapter.StringAt(v, k.code)
	if err != nil {
		return err
	}
	r, err := ps.start(code, wire.KindTrade, recvNs, out)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.rd.UintAt(v, k.seqID); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, err = ps.ts(v, k.tradeTs); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.dec(v, k.price); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.dec(v, k.volume); err != nil {
		return adapter.Fail(out, err)
	}
	switch ab := v.GetStringBytes(k.askBid); string(ab) {
	case "ASK":
		r.Side = wire.SideSell // the taker sold
	case "BID":
		r.Side = wire.SideBuy
	default:
		return adapter.Fail(out, fmt.Errorf("%w: %s %q, want ASK or BID", adapter.ErrMalformed, k.askBid, ab))
	}
	return nil
}

func (ps *Parser) ticker(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	code, err := adapter.StringAt(v, k.code)
	if err != nil {
		return err
	}
	r, err := ps.start(code, wire.KindTicker, recvNs, out)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.ts(v, k.ts); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.dec(v, k.price); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.dec(v, k.volume); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = ps.h
	return nil
}

func (ps *Parser) book(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	code, err := adapter.StringAt(v, k.code)
	if err != nil {
		return err
	}
	r, err := ps.start(code, wire.KindBookSnapshot, recvNs, out)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.ts(v, k.ts); err != nil {
		return adapter.Fail(out, err)
	}
	units, err := array(v, k.units)
	if err != nil {
		return adapter.Fail(out, err)
	}
	for _, u := range units {
		if u.Type() != fastjson.TypeObject {
			return adapter.Fail(out, fmt.Errorf("%w: orderbook unit is %s, want object", adapter.ErrMalformed, u.Type()))
		}
		var ask, bid wire.Level
		if ask.Price, err = ps.dec(u, k.ap); err != nil {
			return adapter.Fail(out, err)
		}
		if ask.Size, err = ps.dec(u, k.as); err != nil {
			return adapter.Fail(out, err)
		}
		if bid.Price, err = ps.dec(u, k.bp); err != nil {
			return adapter.Fail(out, err)
		}
		if bid.Size, err = ps.dec(u, k.bs); err != nil {
			return adapter.Fail(out, err)
		}
		if !ask.Price.IsZero() { // price 0: a padding unit
			r.Asks = append(r.Asks, ask)
		}
		if !bid.Price.IsZero() {
			r.Bids = append(r.Bids, bid)
		}
	}
	r.Seq = ps.h
	return nil
}

// array returns the JSON array at key, at most wire.MaxLevels long.
func array(o *fastjson.Value, key string) ([]*fastjson.Value, error) {
	v := o.Get(key)
	if v == nil {
		return nil, fmt.Errorf("%w: missing %s", adapter.ErrMalformed, key)
	}
	arr, err := v.Array()
	if err != nil {
		return nil, fmt.Errorf("%w: %s is %s, want array", adapter.ErrMalformed, key, v.Type())
	}
	if len(arr) > wire.MaxLevels {
		return nil, fmt.Errorf("%w: %s has %d entries", adapter.ErrMalformed, key, len(arr))
	}
	return arr, nil
}

// --- legacy API ---

func (ps *Parser) transaction(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	list, err := array(c, "list")
	if err != nil {
		return err
	}
	for i, it := range list {
		if it.Type() != fastjson.TypeObject {
			return fmt.Errorf("%w: transaction is %s, want object", adapter.ErrMalformed, it.Type())
		}
		sym, err := adapter.StringAt(it, "symbol")
		if err != nil {
			return err
		}
		r, err := ps.start(sym, wire.KindTrade, recvNs, out)
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
		ps.hash(dtm)
		gb, err := ps.raw(it, "buySellGb")
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
		if r.Price, err = ps.dec(it, "contPrice"); err != nil {
			return adapter.Fail(out, err)
		}
		if r.Size, err = ps.dec(it, "contQty"); err != nil {
			return adapter.Fail(out, err)
		}
		ps.hash(strconv.AppendInt(ps.num[:0], int64(i), 10))
		r.Seq = ps.h
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
			b, err := ps.rd.Raw(holder[i])
			if err != nil {
				return l, fmt.Errorf("level: %w", err)
			}
			ps.hash(b)
			if *dst, err = wire.ParseDecimal(b); err != nil || dst.Sign() < 0 {
				return l, fmt.Errorf("%w: level value %q", adapter.ErrMalformed, string(b))
			}
		}
		return l, nil
	case fastjson.TypeObject:
		if l.Price, err = ps.dec(v, "price"); err != nil {
			return l, err
		}
		l.Size, err = ps.dec(v, "quantity")
		return l, err
	}
	return l, fmt.Errorf("%w: level is %s", adapter.ErrMalformed, v.Type())
}

func (ps *Parser) legacyBook(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	sym, err := adapter.StringAt(c, "symbol")
	if err != nil {
		return err
	}
	r, err := ps.start(sym, wire.KindBookSnapshot, recvNs, out)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if c.Exists("datetime") {
		if r.TsExchange, err = ps.ts(c, "datetime"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	for _, side := range [...]struct {
		key string
		dst *[]wire.Level
	}{{"bids", &r.Bids}, {"asks", &r.Asks}} {
		levels, err := array(c, side.key)
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
	r.Seq = ps.h
	return nil
}

func (ps *Parser) depth(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	first := out.Len()
	drop := func(err error) error {
		for out.Len() > first {
			out.Drop()
		}
		return err
	}
	ps.h = adapter.FNVOffset64
	ts, err := ps.ts(c, "datetime")
	if err != nil {
		return err
	}
	list, err := array(c, "list")
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
			h := ps.h
			if r, err = ps.start(sym, wire.KindBookDelta, recvNs, out); err != nil {
				return drop(err)
			}
			ps.h = h // the message key goes on over every item
			r.Flags |= wire.FlagNoSeq
			r.TsExchange = ts
		}
		ps.hash(sym)
		typ, err := ps.raw(it, "orderType")
		if err != nil {
			return drop(err)
		}
		var l wire.Level
		if l.Price, err = ps.dec(it, "price"); err != nil {
			return drop(err)
		}
		if l.Size, err = ps.dec(it, "quantity"); err != nil {
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
	msg := ps.h
	for i := first; i < out.Len(); i++ {
		r := out.At(i)
		ps.h = msg
		ps.hash(r.Symbol.Bytes())
		r.Seq = ps.h
	}
	return nil
}

func (ps *Parser) legacyTicker(c *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	sym, err := adapter.StringAt(c, "symbol")
	if err != nil {
		return err
	}
	r, err := ps.start(sym, wire.KindTicker, recvNs, out)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if _, err := ps.raw(c, "tickType"); err != nil {
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
	ps.hash(date)
	ps.hash(tm)
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
	if r.Price, err = ps.dec(c, "closePrice"); err != nil {
		return adapter.Fail(out, err)
	}
	if c.Exists("volume") {
		if _, err := ps.raw(c, "volume"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	r.Seq = ps.h
	return nil
}
