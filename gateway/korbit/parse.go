package korbit

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Korbit frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
	sides adapter.BookSides // fastBook's scratch
}

// Parse normalizes one frame: a data message {"symbol","timestamp","type","data"} or a
// control message {"status":"success"|"fail",...}.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastBook(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// An orderbook message as Korbit writes it, byte for byte: the fast path (adapter.Shape)
// of most of its frames ("snapshot", true or false, is ignored as the fastjson path does).
var (
	bookHead  = adapter.MustShape(`{"symbol":"%s","timestamp":%n,"type":"orderbook","snapshot":%b,"data":{"timestamp":%n,"asks":[`)
	bookLevel = adapter.MustShape(`{"price":"%s","qty":"%s"}`)
	bookBids  = adapter.MustShape(`,"bids":[`)
	bookEnd   = adapter.MustShape(`}}`)
)

// fastBook normalizes an orderbook frame of bookHead's shape without a fastjson tree and
// reports whether it did; on false nothing is appended. The record, content key
// included, is book's (FuzzSame).
func (ps *Parser) fastBook(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var hv [4][]byte
	rest, ok := bookHead.Head(frame, hv[:])
	if !ok {
		return false
	}
	sym, ts := hv[0], hv[3]
	var c adapter.Conv
	r, h := adapter.KeyedSnapshot(&c, out, sym, ts, time.Millisecond)
	// book's order: symbol, timestamp, bids, asks.
	rest, h, ok = ps.sides.Read(&c, rest, bookLevel, bookBids, r, h)
	c.Check(ok && bookEnd.Match(rest, nil))
	return ps.KeepKeyed(&c, r, sym, recvNs, out, h)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	typ := v.GetStringBytes("type")
	if typ == nil {
		switch st := v.GetStringBytes("status"); string(st) {
		case "success":
			return adapter.ResultControl, nil
		case "fail":
			code, msg := v.GetStringBytes("code"), v.GetStringBytes("message")
			if bytes.Contains(code, []byte("TOO_MANY")) || bytes.Contains(code, []byte("RATE_LIMIT")) {
				return adapter.ResultError, fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, code, msg)
			}
			return adapter.ResultError, fmt.Errorf("%w: %s: %s", adapter.ErrExchange, code, msg)
		case "":
			return adapter.ResultData, fmt.Errorf("%w: message without type or status", adapter.ErrMalformed)
		default: // "error" (a server-side failure) and any status to come
			return adapter.ResultError, fmt.Errorf("%w: status %s: %s: %s", adapter.ErrExchange, st, v.GetStringBytes("code"), v.GetStringBytes("message"))
		}
	}
	sym, err := adapter.StringAt(v, "symbol")
	if err != nil {
		return adapter.ResultData, err
	}
	data := v.Get("data")
	if data == nil {
		return adapter.ResultData, fmt.Errorf("%w: missing data", adapter.ErrMalformed)
	}
	switch string(typ) {
	case "orderbook":
		return adapter.ResultData, ps.book(sym, data, recvNs, out)
	case "trade":
		n := out.Len()
		if err := ps.trades(sym, data, recvNs, out); err != nil {
			return adapter.ResultData, err
		}
		if v.GetBool("snapshot") {
			// The latest trades repeated after every (re)subscribe (package doc):
			// checked, not published.
			out.Truncate(n)
			return adapter.ResultControl, nil
		}
		return adapter.ResultData, nil
	case "ticker":
		return adapter.ResultData, ps.ticker(sym, v, data, recvNs, out)
	}
	return adapter.ResultData, fmt.Errorf("%w: korbit type %q", adapter.ErrUnsupported, typ)
}

// instrument converts a pair ("btc_krw") to the canonical instrument.
func instrument(dst *wire.Name, sym []byte) error { return adapter.InstrumentSep(dst, sym, '_', false) }

// dec reads an exact non-negative decimal and folds its text into the content key.
func (ps *Parser) dec(o *fastjson.Value, key string) (wire.Decimal, error) {
	d, b, err := ps.Rd.DecimalText(o.Get(key), key)
	if err != nil {
		return wire.Decimal{}, err
	}
	ps.Hash(b)
	return d, nil
}

// ts reads a ms timestamp and folds its text into the content key.
func (ps *Parser) ts(o *fastjson.Value, key string) (int64, error) {
	b, err := ps.KeyedRaw(o, key)
	if err != nil {
		return 0, err
	}
	ns, err := adapter.EpochNs(b, time.Millisecond)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return ns, nil
}

func (ps *Parser) book(sym []byte, data *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	if data.Type() != fastjson.TypeObject {
		return fmt.Errorf("%w: orderbook data is %s, want object", adapter.ErrMalformed, data.Type())
	}
	r, err := ps.StartKeyed(out, wire.KindBookSnapshot, sym, recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.ts(data, "timestamp"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Bids, err = ps.ObjectLevels(r.Bids, data, "bids", "price", "qty", true); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Asks, err = ps.ObjectLevels(r.Asks, data, "asks", "price", "qty", true); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = ps.Key()
	return nil
}

func (ps *Parser) trades(sym []byte, data *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	list, err := data.Array()
	if err != nil {
		return fmt.Errorf("%w: trade data is %s, want array", adapter.ErrMalformed, data.Type())
	}
	for _, it := range list {
		if it.Type() != fastjson.TypeObject {
			return fmt.Errorf("%w: trade is %s, want object", adapter.ErrMalformed, it.Type())
		}
		r, err := ps.StartKeyed(out, wire.KindTrade, sym, recvNs)
		if err != nil {
			return err
		}
		if r.Seq, err = ps.Rd.UintAt(it, "tradeId"); err != nil {
			return adapter.Fail(out, err)
		}
		if r.TsExchange, err = ps.ts(it, "timestamp"); err != nil {
			return adapter.Fail(out, err)
		}
		if r.Price, err = ps.dec(it, "price"); err != nil {
			return adapter.Fail(out, err)
		}
		if r.Size, err = ps.dec(it, "qty"); err != nil {
			return adapter.Fail(out, err)
		}
		switch bt := it.Get("isBuyerTaker"); {
		case bt == nil:
			return adapter.Fail(out, fmt.Errorf("%w: missing isBuyerTaker", adapter.ErrMalformed))
		case bt.Type() == fastjson.TypeTrue:
			r.Side = wire.SideBuy
		case bt.Type() == fastjson.TypeFalse:
			r.Side = wire.SideSell
		default:
			return adapter.Fail(out, fmt.Errorf("%w: isBuyerTaker is %s, want bool", adapter.ErrMalformed, bt.Type()))
		}
	}
	return nil
}

func (ps *Parser) ticker(sym []byte, v, data *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	if data.Type() != fastjson.TypeObject {
		return fmt.Errorf("%w: ticker data is %s, want object", adapter.ErrMalformed, data.Type())
	}
	r, err := ps.StartKeyed(out, wire.KindTicker, sym, recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.ts(v, "timestamp"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.dec(data, "close"); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = ps.Key()
	return nil
}
