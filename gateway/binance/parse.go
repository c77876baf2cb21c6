package binance

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Binance frames. It is owned by one goroutine.
type Parser struct {
	p  fastjson.Parser
	rd adapter.Reader
}

// Reply returns nil: Binance never asks for a text heartbeat.
func (*Parser) Reply() []byte { return nil }

// Parse normalizes one frame: a combined-stream envelope {"stream","data"} or a raw
// payload; subscription answers are ResultControl.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if len(frame) > adapter.MaxFrameBytes {
		return adapter.ResultData, fmt.Errorf("%w: %d-byte frame", adapter.ErrMalformed, len(frame))
	}
	v, err := ps.p.ParseBytes(frame)
	if err != nil {
		return adapter.ResultData, fmt.Errorf("%w: %w", adapter.ErrMalformed, err)
	}
	if v.Type() != fastjson.TypeObject {
		return adapter.ResultData, fmt.Errorf("%w: frame is %s, want object", adapter.ErrMalformed, v.Type())
	}
	if d := v.Get("data"); d != nil {
		v = d
	} else if v.Exists("id") {
		if e := v.Get("error"); e != nil {
			code := e.GetInt("code")
			if code == -1003 || code == 429 {
				return adapter.ResultError, fmt.Errorf("%w: %w: %s", adapter.ErrExchange, adapter.ErrRateLimited, e.GetStringBytes("msg"))
			}
			return adapter.ResultError, fmt.Errorf("%w: code %d: %s", adapter.ErrExchange, code, e.GetStringBytes("msg"))
		}
		return adapter.ResultControl, nil // {"result":null,"id":1}
	}
	ev := v.GetStringBytes("e")
	switch {
	case ev == nil && v.Exists("u") && v.Exists("b"):
		return adapter.ResultData, ps.bookTicker(v, recvNs, out)
	case string(ev) == "trade":
		return adapter.ResultData, ps.trade(v, recvNs, out, "t")
	case string(ev) == "aggTrade":
		return adapter.ResultData, ps.trade(v, recvNs, out, "a")
	case string(ev) == "depthUpdate":
		return adapter.ResultData, ps.depth(v, recvNs, out)
	case string(ev) == "serverShutdown":
		return adapter.ResultClosing, nil
	}
	return adapter.ResultData, fmt.Errorf("%w: binance event %q", adapter.ErrUnsupported, ev)
}

// header fills the fields every record of symbol sym shares.
func header(r *wire.Record, sym []byte, recvNs int64) error {
	r.Exchange, r.TsRecv = wire.Binance, recvNs
	if err := r.Symbol.Set(sym); err != nil {
		return fmt.Errorf("%w: %w", adapter.ErrMalformed, err)
	}
	return adapter.InstrumentConcat(&r.Instrument, sym)
}

// fail drops the half-built record and returns err.
func fail(out *adapter.Batch, err error) error {
	out.Drop()
	return err
}

func (ps *Parser) bookTicker(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	sym, err := adapter.StringAt(v, "s")
	if err != nil {
		return err
	}
	r := out.Next()
	r.Kind = wire.KindBBO
	if err := header(r, sym, recvNs); err != nil {
		return fail(out, err)
	}
	if r.Seq, err = ps.rd.UintAt(v, "u"); err != nil {
		return fail(out, err)
	}
	for _, f := range [...]struct {
		key string
		dst *wire.Decimal
	}{{"b", &r.BidPx}, {"B", &r.BidSz}, {"a", &r.AskPx}, {"A", &r.AskSz}} {
		if *f.dst, err = ps.rd.DecimalAt(v, f.key); err != nil {
			return fail(out, err)
		}
	}
	return nil
}

func (ps *Parser) trade(v *fastjson.Value, recvNs int64, out *adapter.Batch, idKey string) error {
	sym, err := adapter.StringAt(v, "s")
	if err != nil {
		return err
	}
	r := out.Next()
	r.Kind = wire.KindTrade
	if err := header(r, sym, recvNs); err != nil {
		return fail(out, err)
	}
	if r.Seq, err = ps.rd.UintAt(v, idKey); err != nil {
		return fail(out, err)
	}
	if r.TsExchange, err = ps.rd.EpochAt(v, "T", time.Millisecond); err != nil {
		return fail(out, err)
	}
	if r.Price, err = ps.rd.DecimalAt(v, "p"); err != nil {
		return fail(out, err)
	}
	if r.Size, err = ps.rd.DecimalAt(v, "q"); err != nil {
		return fail(out, err)
	}
	m := v.Get("m")
	switch {
	case m == nil:
		return fail(out, fmt.Errorf("%w: missing m", adapter.ErrMalformed))
	case m.Type() == fastjson.TypeTrue:
		r.Side = wire.SideSell // the buyer was the maker: the taker sold
	case m.Type() == fastjson.TypeFalse:
		r.Side = wire.SideBuy
	default:
		return fail(out, fmt.Errorf("%w: m is %s, want bool", adapter.ErrMalformed, m.Type()))
	}
	return nil
}

func (ps *Parser) depth(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	sym, err := adapter.StringAt(v, "s")
	if err != nil {
		return err
	}
	r := out.Next()
	r.Kind = wire.KindBookDelta
	if err := header(r, sym, recvNs); err != nil {
		return fail(out, err)
	}
	if r.TsExchange, err = ps.rd.EpochAt(v, "E", time.Millisecond); err != nil {
		return fail(out, err)
	}
	if r.SeqFirst, err = ps.rd.UintAt(v, "U"); err != nil {
		return fail(out, err)
	}
	if r.Seq, err = ps.rd.UintAt(v, "u"); err != nil {
		return fail(out, err)
	}
	if r.SeqFirst > r.Seq {
		return fail(out, fmt.Errorf("%w: U %d > u %d", adapter.ErrMalformed, r.SeqFirst, r.Seq))
	}
	if r.Bids, err = ps.rd.Levels(r.Bids, v.Get("b"), "b"); err != nil {
		return fail(out, err)
	}
	if r.Asks, err = ps.rd.Levels(r.Asks, v.Get("a"), "a"); err != nil {
		return fail(out, err)
	}
	return nil
}

// ParseSnapshot normalizes a GET /api/v3/depth body into a book snapshot with
// Seq = lastUpdateId.
func (ps *Parser) ParseSnapshot(body []byte, symbol string, recvNs int64, out *adapter.Batch) error {
	v, err := ps.p.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %w", adapter.ErrMalformed, err)
	}
	r := out.Next()
	r.Kind = wire.KindBookSnapshot
	if err := header(r, bytes.ToUpper([]byte(symbol)), recvNs); err != nil {
		return fail(out, err)
	}
	if r.Seq, err = ps.rd.UintAt(v, "lastUpdateId"); err != nil {
		return fail(out, err)
	}
	if r.Bids, err = ps.rd.Levels(r.Bids, v.Get("bids"), "bids"); err != nil {
		return fail(out, err)
	}
	if r.Asks, err = ps.rd.Levels(r.Asks, v.Get("asks"), "asks"); err != nil {
		return fail(out, err)
	}
	return nil
}
