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
	adapter.ParserBase
	f adapter.Fields // one-letter keys of the payload, indexed in one pass
}

// Parse normalizes one frame: a combined-stream envelope {"stream","data"} or a raw
// payload; subscription answers are ResultControl.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastBookTicker(frame, recvNs, out) || ps.fastStream(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// The bookTicker frames as Binance writes them, combined-stream and raw (values: stream,
// u, s, b, B, a, A). bookTicker is the busiest stream by far.
var (
	bookTickerStream = adapter.MustShape(`{"stream":"%s","data":{"u":%n,"s":"%s","b":"%s","B":"%s","a":"%s","A":"%s"}}`)
	bookTickerRaw    = adapter.MustShape(`{"u":%n,"s":"%s","b":"%s","B":"%s","a":"%s","A":"%s"}`)
)

// The trade and depthUpdate frames of the combined streams as Binance writes them: the
// fast path of the other busy streams (values: stream, E, s, t, p, q, T, m, M; stream, E,
// s, U, u, then the levels).
var (
	tradeStream = adapter.MustShape(`{"stream":"%s","data":{"e":"trade","E":%n,"s":"%s","t":%n,"p":"%s","q":"%s","T":%n,"m":%b,"M":%b}}`)
	depthStream = adapter.MustShape(`{"stream":"%s","data":{"e":"depthUpdate","E":%n,"s":"%s","U":%n,"u":%n,"b":[`)
	depthAsks   = adapter.MustShape(`,"a":[`)
	level       = adapter.MustShape(`["%s","%s"]`)
	frameEnd    = adapter.MustShape(`}}`)
)

// fastStream normalizes a trade or depthUpdate frame of the shapes above without a
// fastjson tree, as trade and depth would, and reports whether it did; on false nothing is
// appended and parseTree handles the frame.
func (ps *Parser) fastStream(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [9][]byte
	var c adapter.Conv
	if tradeStream.Match(frame, v[:]) {
		r := c.Trade(out, v[3], v[4], v[5])
		r.TsExchange = c.Epoch(v[6], time.Millisecond)
		r.Side = wire.SideBuy
		if string(v[7]) == "true" {
			r.Side = wire.SideSell // the buyer was the maker: the taker sold
		}
		return ps.Keep(&c, r, v[2], recvNs, out)
	}
	rest, ok := depthStream.Head(frame, v[:5])
	if !ok {
		return false
	}
	r := out.Next()
	r.Kind = wire.KindBookDelta
	r.TsExchange = c.Epoch(v[1], time.Millisecond)
	r.SeqFirst, r.Seq = c.Uint(v[3]), c.Uint(v[4])
	c.Check(r.SeqFirst <= r.Seq)
	rest, ok = c.Sides(&r.Bids, &r.Asks, rest, level, depthAsks)
	c.Check(ok && frameEnd.Match(rest, nil))
	return ps.Keep(&c, r, v[2], recvNs, out)
}

// fastBookTicker normalizes a bookTicker frame of the usual shape without a fastjson tree
// (adapter.Shape), as bookTicker would. It returns false, appending nothing, for any other
// frame or any value bookTicker would reject: parseTree then handles the frame.
func (ps *Parser) fastBookTicker(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [7][]byte
	var f [][]byte // u, s, b, B, a, A
	switch {
	case bookTickerStream.Match(frame, v[:]):
		f = v[1:]
	case bookTickerRaw.Match(frame, v[:6]):
		f = v[:6]
	default:
		return false
	}
	var c adapter.Conv
	r := c.BBO(out, f[2], f[3], f[4], f[5])
	r.Seq = c.Uint(f[0])
	return ps.Keep(&c, r, f[1], recvNs, out)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
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
	f := &ps.f
	if !f.Load(v) {
		return adapter.ResultData, fmt.Errorf("%w: data is %s, want object", adapter.ErrMalformed, v.Type())
	}
	var ev []byte
	if f['e'] != nil {
		ev, _ = f['e'].StringBytes()
	}
	switch {
	case f['e'] == nil && f['u'] != nil && f['b'] != nil:
		return adapter.ResultData, ps.bookTicker(recvNs, out)
	case string(ev) == "trade":
		return adapter.ResultData, ps.trade(recvNs, out, 't', "t")
	case string(ev) == "aggTrade":
		return adapter.ResultData, ps.trade(recvNs, out, 'a', "a")
	case string(ev) == "depthUpdate":
		return adapter.ResultData, ps.depth(recvNs, out)
	case string(ev) == "serverShutdown":
		return adapter.ResultClosing, nil
	}
	return adapter.ResultData, fmt.Errorf("%w: binance event %q", adapter.ErrUnsupported, ev)
}

// start takes a record slot of kind k for the payload's symbol "s" and fills its header;
// on error nothing is left appended.
func (ps *Parser) start(out *adapter.Batch, k wire.Kind, recvNs int64) (*wire.Record, error) {
	sym, err := adapter.String(ps.f['s'], "s")
	if err != nil {
		return nil, err
	}
	return ps.StartSym(out, k, sym, recvNs)
}

func (ps *Parser) bookTicker(recvNs int64, out *adapter.Batch) error {
	f := &ps.f
	r, err := ps.start(out, wire.KindBBO, recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.Uint(f['u'], "u"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.BidPx, err = ps.Rd.Decimal(f['b'], "b"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.BidSz, err = ps.Rd.Decimal(f['B'], "B"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.AskPx, err = ps.Rd.Decimal(f['a'], "a"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.AskSz, err = ps.Rd.Decimal(f['A'], "A"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

func (ps *Parser) trade(recvNs int64, out *adapter.Batch, idKey byte, idName string) error {
	f := &ps.f
	r, err := ps.start(out, wire.KindTrade, recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.Uint(f[idKey], idName); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, err = ps.Rd.Epoch(f['T'], "T", time.Millisecond); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Rd.Decimal(f['p'], "p"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Rd.Decimal(f['q'], "q"); err != nil {
		return adapter.Fail(out, err)
	}
	m := f['m']
	switch {
	case m == nil:
		return adapter.Fail(out, fmt.Errorf("%w: missing m", adapter.ErrMalformed))
	case m.Type() == fastjson.TypeTrue:
		r.Side = wire.SideSell // the buyer was the maker: the taker sold
	case m.Type() == fastjson.TypeFalse:
		r.Side = wire.SideBuy
	default:
		return adapter.Fail(out, fmt.Errorf("%w: m is %s, want bool", adapter.ErrMalformed, m.Type()))
	}
	return nil
}

func (ps *Parser) depth(recvNs int64, out *adapter.Batch) error {
	f := &ps.f
	r, err := ps.start(out, wire.KindBookDelta, recvNs)
	if err != nil {
		return err
	}
	if r.TsExchange, err = ps.Rd.Epoch(f['E'], "E", time.Millisecond); err != nil {
		return adapter.Fail(out, err)
	}
	if r.SeqFirst, err = ps.Rd.Uint(f['U'], "U"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Seq, err = ps.Rd.Uint(f['u'], "u"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.SeqFirst > r.Seq {
		return adapter.Fail(out, fmt.Errorf("%w: U %d > u %d", adapter.ErrMalformed, r.SeqFirst, r.Seq))
	}
	if r.Bids, err = ps.Rd.Levels(r.Bids, f['b'], "b"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Asks, err = ps.Rd.Levels(r.Asks, f['a'], "a"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// ParseSnapshot normalizes a GET /api/v3/depth body into a book snapshot with
// Seq = lastUpdateId.
func (ps *Parser) ParseSnapshot(body []byte, symbol string, recvNs int64, out *adapter.Batch) error {
	v, err := ps.JSON.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("%w: snapshot: %w", adapter.ErrMalformed, err)
	}
	r := out.Next()
	r.Kind, r.Exchange, r.TsRecv = wire.KindBookSnapshot, wire.Binance, recvNs
	if err := ps.Syms.Resolve(r, bytes.ToUpper([]byte(symbol)), adapter.InstrumentConcat); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Seq, err = ps.Rd.UintAt(v, "lastUpdateId"); err != nil {
		return adapter.Fail(out, err)
	}
	if err := ps.Rd.Book(r, v, "bids", "asks"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}
