package bybit

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes Bybit frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
}

// hasPrefix is bytes.HasPrefix for a string prefix, without a conversion.
func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// Parse normalizes one frame: a push ({"topic","ts","type","data"}) or an operation
// answer ({"success","ret_msg","op",...}: acks and pongs).
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastBBO(frame, recvNs, out) || ps.fastPush(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// bboShape is an orderbook.1 snapshot as Bybit writes it (since cts was added): the BBO
// channel. Values: symbol (in the topic), ts, s, bid px, size, ask px, size, u, seq, cts.
var bboShape = adapter.MustShape(`{"topic":"orderbook.1.%s","ts":%n,"type":"snapshot","data":{"s":"%s","b":[["%s","%s"]],"a":[["%s","%s"]],"u":%n,"seq":%n},"cts":%n}`)

// fastBBO normalizes an orderbook.1 snapshot of the usual shape without a fastjson tree
// (adapter.Shape), as bbo would. It returns false, appending nothing, for any other frame
// or any value bbo would reject: parseTree then handles the frame.
func (ps *Parser) fastBBO(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [10][]byte
	if !bboShape.Match(frame, v[:]) {
		return false
	}
	var c adapter.Conv
	r := c.BBO(out, v[3], v[4], v[5], v[6])
	r.TsExchange = c.Epoch(v[1], time.Millisecond)
	r.Seq = c.Uint(v[7])
	c.Check(r.Seq != 0)
	if !ps.Keep(&c, r, v[2], recvNs, out) {
		return false
	}
	seqReset(r)
	return true
}

// The orderbook.N (N > 1) and publicTrade pushes as Bybit writes them: the fast path of
// its other busy topics. Values: topic rest, ts, type, s, then the levels, u, seq, cts;
// symbol, ts, then per trade T, s, S, v, p, i, BT, RPI, seq.
var (
	bookHead   = adapter.MustShape(`{"topic":"orderbook.%s","ts":%n,"type":"%s","data":{"s":"%s","b":[`)
	bookAsks   = adapter.MustShape(`,"a":[`)
	bookTail   = adapter.MustShape(`,"u":%n,"seq":%n},"cts":%n}`)
	level      = adapter.MustShape(`["%s","%s"]`)
	tradesHead = adapter.MustShape(`{"topic":"publicTrade.%s","ts":%n,"type":"snapshot","data":[`)
	tradeItem  = adapter.MustShape(`{"T":%n,"s":"%s","S":"%s","v":"%s","p":"%s","i":"%s","BT":%b,"RPI":%b,"seq":%n}`)
	tradesEnd  = adapter.MustShape(`}`)
)

// fastPush normalizes an orderbook or publicTrade push of the shapes above without a
// fastjson tree, as book and trades would, and reports whether it did; on false nothing
// is appended and parseTree handles the frame.
func (ps *Parser) fastPush(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [9][]byte
	if rest, ok := tradesHead.Head(frame, v[:2]); ok {
		return ps.fastTrades(rest, recvNs, out)
	}
	rest, ok := bookHead.Head(frame, v[:4])
	if !ok || hasPrefix(v[0], "1.") { // orderbook.1 is the BBO (fastBBO, bbo)
		return false
	}
	var c adapter.Conv
	r := out.Next()
	r.Kind = c.BookKind(v[2], "snapshot", "delta")
	r.TsExchange = c.Epoch(v[1], time.Millisecond)
	sym := v[3]
	rest, ok = c.Sides(&r.Bids, &r.Asks, rest, level, bookAsks)
	c.Check(ok && bookTail.Match(rest, v[4:7]))
	if !c.Failed() {
		r.Seq = c.Uint(v[4])
		c.Check(r.Seq != 0)
	}
	if !ps.Keep(&c, r, sym, recvNs, out) {
		return false
	}
	if r.Kind == wire.KindBookDelta {
		r.SeqFirst = r.Seq // as book
	} else {
		seqReset(r)
	}
	return true
}

// fastTrades is fastPush for a publicTrade push's items, from just after the data's '['.
func (ps *Parser) fastTrades(rest []byte, recvNs int64, out *adapter.Batch) bool {
	var v [9][]byte
	items := tradeItem.Items(rest, out)
	for items.Next(v[:]) {
		var c adapter.Conv
		r := out.Next()
		r.Kind = wire.KindTrade
		r.TsExchange = c.Epoch(v[0], time.Millisecond)
		id := v[5]
		c.Check(len(id) > 0)
		var numeric bool
		if r.Seq, numeric = adapter.ParseID(id); !numeric {
			r.Flags |= wire.FlagNoSeq
			r.Seq = adapter.FNV64a(adapter.FNVOffset64, id)
		}
		r.SeqFirst = c.Uint(v[8])
		r.Price, r.Size = c.Decimal(v[4]), c.Decimal(v[3])
		r.Side = c.Side(v[2], "Buy", "Sell") // the taker's side
		items.Kept(ps.Keep(&c, r, v[1], recvNs, out))
	}
	return items.End(tradesEnd)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	tv := v.Get("topic")
	if tv == nil {
		return control(v)
	}
	topic, err := tv.StringBytes()
	if err != nil {
		return adapter.ResultData, fmt.Errorf("%w: topic is %s, want string", adapter.ErrMalformed, tv.Type())
	}
	switch {
	case hasPrefix(topic, "orderbook.1."):
		return adapter.ResultData, ps.bbo(v, recvNs, out)
	case hasPrefix(topic, "orderbook."):
		return adapter.ResultData, ps.book(v, recvNs, out)
	case hasPrefix(topic, "publicTrade."):
		return adapter.ResultData, ps.trades(v, recvNs, out)
	case hasPrefix(topic, "tickers."):
		return adapter.ResultData, ps.ticker(v, recvNs, out)
	}
	return adapter.ResultData, fmt.Errorf("%w: bybit topic %q", adapter.ErrUnsupported, topic)
}

// control classifies operation answers: {"success":true,...} acks and pongs are
// ResultControl, {"success":false,...} is ResultError.
func control(v *fastjson.Value) (adapter.Result, error) {
	op := v.GetStringBytes("op")
	s := v.Get("success")
	switch {
	case s != nil && s.Type() == fastjson.TypeTrue:
		return adapter.ResultControl, nil
	case s != nil && s.Type() == fastjson.TypeFalse:
		msg := v.GetStringBytes("ret_msg")
		low := bytes.ToLower(msg)
		if bytes.Contains(low, []byte("too many")) || bytes.Contains(low, []byte("frequen")) {
			return adapter.ResultError, fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, op, msg)
		}
		return adapter.ResultError, fmt.Errorf("%w: %s: %s", adapter.ErrExchange, op, msg)
	case s != nil:
		return adapter.ResultData, fmt.Errorf("%w: success is %s, want bool", adapter.ErrMalformed, s.Type())
	}
	switch string(op) { // answers without "success" (the linear/private pong form)
	case "pong", "ping", "subscribe", "unsubscribe":
		return adapter.ResultControl, nil
	case "":
		return adapter.ResultData, fmt.Errorf("%w: frame has neither topic nor op", adapter.ErrMalformed)
	}
	return adapter.ResultData, fmt.Errorf("%w: bybit op %q", adapter.ErrUnsupported, op)
}

// object returns v's "data" object.
func object(v *fastjson.Value) (*fastjson.Value, error) {
	d := v.Get("data")
	if d == nil || d.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%w: data is not an object", adapter.ErrMalformed)
	}
	return d, nil
}

// start takes a record slot of kind k for the push's data object d (symbol at symKey) and
// reads the push's ts (ms).
func (ps *Parser) start(v, d *fastjson.Value, symKey string, k wire.Kind, recvNs int64, out *adapter.Batch) (*wire.Record, error) {
	r, err := ps.Start(out, k, d, symKey, recvNs)
	if err != nil {
		return nil, err
	}
	if r.TsExchange, err = ps.Rd.EpochAt(v, "ts", time.Millisecond); err != nil {
		return nil, adapter.Fail(out, err)
	}
	return r, nil
}

// updateID reads the books' u (Bybit's ids start at 1).
func (ps *Parser) updateID(d *fastjson.Value) (uint64, error) {
	u, err := ps.Rd.UintAt(d, "u")
	if err == nil && u == 0 {
		err = fmt.Errorf("%w: u is 0", adapter.ErrMalformed)
	}
	return u, err
}

// bbo normalizes an orderbook.1 snapshot.
func (ps *Parser) bbo(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	if typ := v.GetStringBytes("type"); string(typ) != "snapshot" {
		return fmt.Errorf("%w: orderbook.1 type %q (level 1 is snapshot-only; a delta is not a whole BBO)", adapter.ErrUnsupported, typ)
	}
	d, err := object(v)
	if err != nil {
		return err
	}
	r, err := ps.start(v, d, "s", wire.KindBBO, recvNs, out)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.updateID(d); err != nil {
		return adapter.Fail(out, err)
	}
	seqReset(r)
	if r.BidPx, r.BidSz, err = ps.Rd.Top(d, "b"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.AskPx, r.AskSz, err = ps.Rd.Top(d, "a"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// book normalizes an orderbook.{50,200,1000} snapshot or delta.
func (ps *Parser) book(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	var k wire.Kind
	switch typ := v.GetStringBytes("type"); string(typ) {
	case "snapshot":
		k = wire.KindBookSnapshot
	case "delta":
		k = wire.KindBookDelta
	default:
		return fmt.Errorf("%w: orderbook type %q", adapter.ErrMalformed, typ)
	}
	d, err := object(v)
	if err != nil {
		return err
	}
	r, err := ps.start(v, d, "s", k, recvNs, out)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.updateID(d); err != nil {
		return adapter.Fail(out, err)
	}
	if k == wire.KindBookDelta {
		r.SeqFirst = r.Seq // u is consecutive: one update id per push
	} else {
		seqReset(r)
	}
	if err := ps.Rd.Book(r, d, "b", "a"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// seqReset marks a snapshot whose u is 1: Bybit's rule for the snapshot it sends after a
// service restart, which starts u again (orderbook.1, whose every push is a snapshot,
// included). Ids after it are not comparable with those before it (wire.FlagSeqReset).
func seqReset(r *wire.Record) {
	if r.Seq == 1 {
		r.Flags |= wire.FlagSeqReset
	}
}

// trades normalizes a publicTrade push: one record per trade.
func (ps *Parser) trades(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	d := v.Get("data")
	if d == nil {
		return fmt.Errorf("%w: missing data", adapter.ErrMalformed)
	}
	items, err := d.Array()
	if err != nil {
		return fmt.Errorf("%w: data is %s, want array", adapter.ErrMalformed, d.Type())
	}
	for _, it := range items {
		if err := ps.trade(it, recvNs, out); err != nil {
			return err
		}
	}
	return nil
}

func (ps *Parser) trade(it *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	r, err := ps.Start(out, wire.KindTrade, it, "s", recvNs)
	if err != nil {
		return err
	}
	if r.TsExchange, err = ps.Rd.EpochAt(it, "T", time.Millisecond); err != nil {
		return adapter.Fail(out, err)
	}
	id, err := ps.Rd.Raw(it.Get("i"))
	if err != nil || len(id) == 0 {
		return adapter.Fail(out, fmt.Errorf("%w: trade id i missing or empty", adapter.ErrMalformed))
	}
	var ok bool
	if r.Seq, ok = adapter.ParseID(id); !ok {
		r.Flags |= wire.FlagNoSeq
		r.Seq = adapter.FNV64a(adapter.FNVOffset64, id)
	}
	if sq := it.Get("seq"); sq != nil {
		if r.SeqFirst, err = ps.Rd.Uint(sq, "seq"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	if r.Price, err = ps.Rd.DecimalAt(it, "p"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Rd.DecimalAt(it, "v"); err != nil {
		return adapter.Fail(out, err)
	}
	switch side := it.GetStringBytes("S"); string(side) { // S is the taker's side
	case "Buy":
		r.Side = wire.SideBuy
	case "Sell":
		r.Side = wire.SideSell
	default:
		return adapter.Fail(out, fmt.Errorf("%w: trade side S %q", adapter.ErrMalformed, side))
	}
	return nil
}

// quoteKeys are a ticker's best bid and ask fields, in Record order (BidPx, BidSz, AskPx,
// AskSz).
var quoteKeys = [...]string{"bid1Price", "bid1Size", "ask1Price", "ask1Size"}

// ticker normalizes a tickers push: a ticker record (spot has no bid/ask), or a bbo record
// when the push carries a whole best bid and ask.
func (ps *Parser) ticker(v *fastjson.Value, recvNs int64, out *adapter.Batch) error {
	d, err := object(v)
	if err != nil {
		return err
	}
	var quote [len(quoteKeys)]*fastjson.Value
	k := wire.KindBBO
	for i, key := range quoteKeys {
		q := d.Get(key)
		quote[i] = q
		switch {
		case q == nil || q.Type() == fastjson.TypeNull:
			k = wire.KindTicker // spot tickers carry no bid/ask
		case q.Type() != fastjson.TypeString:
			// Bybit writes prices as strings: a number here is not a BBO to drop silently.
			return fmt.Errorf("%w: %s is %s, want string", adapter.ErrMalformed, key, q.Type())
		case len(q.GetStringBytes()) == 0:
			k = wire.KindTicker
		}
	}
	r, err := ps.start(v, d, "symbol", k, recvNs, out)
	if err != nil {
		return err
	}
	if cs := v.Get("cs"); cs != nil {
		if r.Seq, err = ps.Rd.Uint(cs, "cs"); err != nil {
			return adapter.Fail(out, err)
		}
	} else {
		r.Flags |= wire.FlagNoSeq
		r.Seq = uint64(r.TsExchange / int64(time.Millisecond))
	}
	if k == wire.KindBBO {
		for i, dst := range [...]*wire.Decimal{&r.BidPx, &r.BidSz, &r.AskPx, &r.AskSz} {
			if *dst, err = ps.Rd.Decimal(quote[i], quoteKeys[i]); err != nil {
				return adapter.Fail(out, err)
			}
		}
		return nil
	}
	if r.Price, err = ps.Rd.DecimalAt(d, "lastPrice"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}
