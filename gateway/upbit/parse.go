package upbit

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// keys names the fields of one message format.
type keys struct {
	typ, code, ts, tradeTs, price, volume, askBid, seqID, units, ap, bp, as, bs string
}

var (
	defaultKeys = keys{"type", "code", "timestamp", "trade_timestamp", "trade_price", "trade_volume",
		"ask_bid", "sequential_id", "orderbook_units", "ask_price", "bid_price", "ask_size", "bid_size"}
	simpleKeys = keys{"ty", "cd", "tms", "ttms", "tp", "tv", "ab", "sid", "obu", "ap", "bp", "as", "bs"}
)

// Parser normalizes Upbit frames. It is owned by one goroutine.
type Parser struct {
	p    fastjson.Parser
	rd   adapter.Reader
	syms adapter.SymbolCache
	h    uint64 // content key of the record being built
}

// Reply returns nil: Upbit never asks the client for a heartbeat answer.
func (*Parser) Reply() []byte { return nil }

// ParseSnapshot is not used: Upbit books come whole over the stream.
func (*Parser) ParseSnapshot([]byte, string, int64, *adapter.Batch) error {
	return fmt.Errorf("%w: upbit has no REST book snapshot", adapter.ErrUnsupported)
}

// Parse normalizes one frame (text or binary): a data object, a SIMPLE_LIST/JSON_LIST
// array of them, {"status":"UP"} (control) or {"error":{...}} (error).
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := adapter.ParseFrame(&ps.p, frame)
	if err != nil {
		return adapter.ResultData, err
	}
	if v.Type() == fastjson.TypeArray {
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
		if e := v.Get("error"); e != nil {
			name := e.GetStringBytes("name")
			if bytes.Contains(name, []byte("TOO_MANY")) {
				return adapter.ResultError, fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, name, e.GetStringBytes("message"))
			}
			return adapter.ResultError, fmt.Errorf("%w: %s: %s", adapter.ErrExchange, name, e.GetStringBytes("message"))
		}
		if v.Exists("status") || v.Exists("method") || v.Exists("mthd") {
			return adapter.ResultControl, nil // {"status":"UP"}, LIST_SUBSCRIPTIONS answers
		}
		return adapter.ResultData, fmt.Errorf("%w: message without type", adapter.ErrMalformed)
	}
	return adapter.ResultData, fmt.Errorf("%w: upbit type %q", adapter.ErrUnsupported, typ)
}

// hash folds one field text into the content key.
func (ps *Parser) hash(b []byte) { ps.h = adapter.ContentKey(ps.h, b) }

// start appends a record of kind for the message's code and starts its content key.
func (ps *Parser) start(v *fastjson.Value, k *keys, kind wire.Kind, recvNs int64, out *adapter.Batch) (*wire.Record, error) {
	code, err := adapter.StringAt(v, k.code)
	if err != nil {
		return nil, err
	}
	r := out.Next()
	r.Kind, r.Exchange, r.TsRecv = kind, wire.Upbit, recvNs
	if err := ps.syms.Resolve(r, code, instrument); err != nil {
		return nil, adapter.Fail(out, err)
	}
	ps.h = adapter.FNVOffset64
	ps.hash(code)
	return r, nil
}

// instrument converts a market code ("KRW-BTC", quote first) to the canonical instrument.
func instrument(dst *wire.Name, code []byte) error {
	return adapter.InstrumentSep(dst, code, '-', true)
}

// dec reads an exact non-negative decimal and folds its text into the content key.
func (ps *Parser) dec(o *fastjson.Value, key string) (wire.Decimal, error) {
	d, b, err := ps.rd.DecimalText(o.Get(key), key)
	if err != nil {
		return wire.Decimal{}, err
	}
	ps.hash(b)
	return d, nil
}

// ts reads an epoch timestamp in ms (or µs when it has 16 or more integer digits, seen in
// one 2023 orderbook capture) and folds its text into the content key.
func (ps *Parser) ts(o *fastjson.Value, key string) (int64, error) {
	b, err := ps.rd.Raw(o.Get(key))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
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
	ps.hash(b)
	return ns, nil
}

func (ps *Parser) trade(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(v, k, wire.KindTrade, recvNs, out)
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
		r.Side = wire.SideSell // the taker sold into the bids
	case "BID":
		r.Side = wire.SideBuy
	default:
		return adapter.Fail(out, fmt.Errorf("%w: %s %q, want ASK or BID", adapter.ErrMalformed, k.askBid, ab))
	}
	return nil
}

func (ps *Parser) ticker(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(v, k, wire.KindTicker, recvNs, out)
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
	r, err := ps.start(v, k, wire.KindBookSnapshot, recvNs, out)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.ts(v, k.ts); err != nil {
		return adapter.Fail(out, err)
	}
	uv := v.Get(k.units)
	if uv == nil {
		return adapter.Fail(out, fmt.Errorf("%w: missing %s", adapter.ErrMalformed, k.units))
	}
	units, err := uv.Array()
	if err != nil {
		return adapter.Fail(out, fmt.Errorf("%w: %s is %s, want array", adapter.ErrMalformed, k.units, uv.Type()))
	}
	if len(units) > wire.MaxLevels {
		return adapter.Fail(out, fmt.Errorf("%w: %d orderbook units", adapter.ErrMalformed, len(units)))
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
