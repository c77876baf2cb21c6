package okx

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Parser normalizes OKX frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
}

// Parse normalizes one frame: the text "pong", an event frame ({"event":...}) or a push
// ({"arg":{"channel","instId"},"action"?,"data":[...]}), one record per data item.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fastBBO(frame, recvNs, out) || ps.fastPush(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// bboShape is a bbo-tbt push as OKX writes it (since seqId was added): OKX's busiest
// channel. Values: instId; ask px, size, "0", orders; bid px, size, "0", orders; ts; seqId.
var bboShape = adapter.MustShape(`{"arg":{"channel":"bbo-tbt","instId":"%s"},"data":[{"asks":[["%s","%s","%s","%s"]],"bids":[["%s","%s","%s","%s"]],"ts":"%s","seqId":%n}]}`)

// The trades and books-update pushes as OKX writes them: the fast path of its other busy
// channels. Values: arg instId, then per trade instId, tradeId, px, sz, side, ts, count;
// arg instId, then the levels, ts, prevSeqId, seqId.
var (
	tradesHead = adapter.MustShape(`{"arg":{"channel":"trades","instId":"%s"},"data":[`)
	tradeItem  = adapter.MustShape(`{"instId":"%s","tradeId":"%s","px":"%s","sz":"%s","side":"%s","ts":"%s","count":"%s"}`)
	booksHead  = adapter.MustShape(`{"arg":{"channel":"books","instId":"%s"},"action":"update","data":[{"asks":[`)
	booksBids  = adapter.MustShape(`,"bids":[`)
	booksTail  = adapter.MustShape(`,"ts":"%s","prevSeqId":%n,"seqId":%n}]}`)
	level      = adapter.MustShape(`["%s","%s","%s","%s"]`)
	pushEnd    = adapter.MustShape(`}`)
)

// fastPush normalizes a trades or books-update push of the shapes above without a
// fastjson tree, as trade and bookUpdate would, and reports whether it did; on false
// nothing is appended and parseTree handles the frame.
func (ps *Parser) fastPush(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [7][]byte
	if rest, ok := tradesHead.Head(frame, v[:1]); ok {
		return ps.fastTrades(rest, recvNs, out)
	}
	rest, ok := booksHead.Head(frame, v[:1])
	if !ok {
		return false
	}
	var c adapter.Conv
	r := out.Next()
	r.Kind = wire.KindBookDelta
	rest, ok = c.Sides(&r.Asks, &r.Bids, rest, level, booksBids)
	c.Check(ok && booksTail.Match(rest, v[1:4]))
	if !c.Failed() {
		r.TsExchange = c.Epoch(v[1], time.Millisecond)
		prev := c.Uint(v[2])
		r.Seq = c.Uint(v[3])
		c.Check(prev != math.MaxUint64)
		r.SeqFirst = prev + 1
		if r.Seq < prev {
			r.Flags |= wire.FlagSeqReset // as bookUpdate
		}
	}
	return ps.Keep(&c, r, v[0], recvNs, out)
}

// fastTrades is fastPush for a trades push's items, from just after the data's '['.
func (ps *Parser) fastTrades(rest []byte, recvNs int64, out *adapter.Batch) bool {
	var v [7][]byte
	items := tradeItem.Items(rest, out)
	for items.Next(v[:]) {
		var c adapter.Conv
		r := c.Trade(out, v[1], v[2], v[3])
		r.Side = c.Side(v[4], "buy", "sell") // the taker's side
		r.TsExchange = c.Epoch(v[5], time.Millisecond)
		items.Kept(ps.Keep(&c, r, v[0], recvNs, out))
	}
	return items.End(pushEnd)
}

// fastBBO normalizes a bbo-tbt push of the usual shape without a fastjson tree
// (adapter.Shape), as bbo would. It returns false, appending nothing, for any other frame
// or any value bbo would reject: parseTree then handles the frame.
func (ps *Parser) fastBBO(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [11][]byte
	if !bboShape.Match(frame, v[:]) {
		return false
	}
	var c adapter.Conv
	r := c.BBO(out, v[5], v[6], v[1], v[2])
	r.TsExchange = c.Epoch(v[9], time.Millisecond)
	r.Seq = c.Uint(v[10])
	return ps.Keep(&c, r, v[0], recvNs, out)
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if string(frame) == "pong" {
		return adapter.ResultControl, nil
	}
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	if ev := v.Get("event"); ev != nil {
		return ps.event(v, ev)
	}
	arg := v.Get("arg")
	if arg == nil || arg.Type() != fastjson.TypeObject {
		return adapter.ResultData, fmt.Errorf("%w: push without arg object", adapter.ErrMalformed)
	}
	ch := arg.GetStringBytes("channel")
	argInst := arg.GetStringBytes("instId")
	data := v.Get("data")
	if data == nil {
		return adapter.ResultData, fmt.Errorf("%w: push without data", adapter.ErrMalformed)
	}
	items, err := data.Array()
	if err != nil {
		return adapter.ResultData, fmt.Errorf("%w: data is %s, want array", adapter.ErrMalformed, data.Type())
	}
	var item func(*fastjson.Value, []byte, int64, *adapter.Batch) error
	switch string(ch) {
	case "bbo-tbt":
		item = ps.bbo
	case "tickers":
		item = ps.ticker
	case "trades":
		item = ps.trade
	case "books5":
		item = ps.books5
	case "books", "books-l2-tbt", "books50-l2-tbt":
		switch act := v.GetStringBytes("action"); string(act) {
		case "snapshot":
			item = ps.bookSnapshot
		case "update":
			item = ps.bookUpdate
		default:
			return adapter.ResultData, fmt.Errorf("%w: %s action %q", adapter.ErrMalformed, ch, act)
		}
	default:
		return adapter.ResultData, fmt.Errorf("%w: okx channel %q", adapter.ErrUnsupported, ch)
	}
	for _, it := range items {
		if it.Type() != fastjson.TypeObject {
			return adapter.ResultData, fmt.Errorf("%w: %s data item is %s, want object", adapter.ErrMalformed, ch, it.Type())
		}
		sym := it.GetStringBytes("instId")
		if sym == nil {
			sym = argInst
		}
		if sym == nil {
			return adapter.ResultData, fmt.Errorf("%w: %s push without instId", adapter.ErrMalformed, ch)
		}
		if err := item(it, sym, recvNs, out); err != nil {
			return adapter.ResultData, err
		}
	}
	return adapter.ResultData, nil
}

// event classifies {"event":...} frames: acks, errors and notices.
func (ps *Parser) event(v, ev *fastjson.Value) (adapter.Result, error) {
	name, _ := ev.StringBytes()
	switch string(name) {
	case "subscribe", "unsubscribe", "channel-conn-count", "login":
		return adapter.ResultControl, nil
	case "error", "channel-conn-count-error":
		code := ps.text(v.Get("code"))
		if string(code) == "60014" {
			return adapter.ResultError, fmt.Errorf("%w: %w: code %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, code, v.GetStringBytes("msg"))
		}
		return adapter.ResultError, fmt.Errorf("%w: code %s: %s", adapter.ErrExchange, code, v.GetStringBytes("msg"))
	case "notice":
		if string(ps.text(v.Get("code"))) == "64008" {
			return adapter.ResultClosing, nil
		}
		return adapter.ResultControl, nil
	}
	return adapter.ResultData, fmt.Errorf("%w: okx event %q", adapter.ErrUnsupported, name)
}

// text returns the bytes of a string or number value, or nil.
func (ps *Parser) text(v *fastjson.Value) []byte {
	b, err := ps.Rd.Raw(v)
	if err != nil {
		return nil
	}
	return b
}

// instrument converts an instId to the canonical instrument. Only BASE-QUOTE spot
// instruments are accepted; derivatives (BTC-USDT-SWAP, BTC-USD-250627) are unsupported.
func instrument(dst *wire.Name, sym []byte) error {
	if bytes.Count(sym, []byte{'-'}) > 1 {
		return fmt.Errorf("%w: okx instrument %q is not spot", adapter.ErrUnsupported, string(sym))
	}
	return adapter.InstrumentSep(dst, sym, '-', false)
}

// start takes a record slot of kind k for sym and reads the item's ts (ms).
func (ps *Parser) start(it *fastjson.Value, sym []byte, k wire.Kind, recvNs int64, out *adapter.Batch) (*wire.Record, error) {
	r, err := ps.StartSym(out, k, sym, recvNs)
	if err != nil {
		return nil, err
	}
	ts, err := ps.Rd.EpochAt(it, "ts", time.Millisecond)
	if err != nil {
		return nil, adapter.Fail(out, err)
	}
	r.TsExchange = ts
	return r, nil
}

// noSeq marks r as having no exchange sequence: Seq = its exchange timestamp in ms.
func noSeq(r *wire.Record) {
	r.Flags |= wire.FlagNoSeq
	r.Seq = uint64(r.TsExchange / int64(time.Millisecond))
}

// seqID sets r.Seq from the item's seqId, or marks the record FlagNoSeq (seqId absent:
// messages before 2023).
func (ps *Parser) seqID(it *fastjson.Value, r *wire.Record) error {
	v := it.Get("seqId")
	if v == nil {
		noSeq(r)
		return nil
	}
	var err error
	r.Seq, err = ps.Rd.Uint(v, "seqId")
	return err
}

func (ps *Parser) bbo(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(it, sym, wire.KindBBO, recvNs, out)
	if err != nil {
		return err
	}
	if err := ps.seqID(it, r); err != nil {
		return adapter.Fail(out, err)
	}
	if r.BidPx, r.BidSz, err = ps.Rd.Top(it, "bids"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.AskPx, r.AskSz, err = ps.Rd.Top(it, "asks"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// quoteKeys are a ticker's best bid and ask fields, in Record order (BidPx, BidSz, AskPx,
// AskSz).
var quoteKeys = [...]string{"bidPx", "bidSz", "askPx", "askSz"}

// ticker yields a bbo record when the ticker carries a whole best bid and ask (OKX sends
// "" for a missing side), else a ticker record with the last trade.
func (ps *Parser) ticker(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	var quote [len(quoteKeys)]*fastjson.Value
	whole := true
	for i, k := range quoteKeys {
		if quote[i] = it.Get(k); !present(quote[i]) {
			whole = false
		}
	}
	k := wire.KindTicker
	if whole {
		k = wire.KindBBO
	}
	r, err := ps.start(it, sym, k, recvNs, out)
	if err != nil {
		return err
	}
	noSeq(r)
	if whole {
		for i, dst := range [...]*wire.Decimal{&r.BidPx, &r.BidSz, &r.AskPx, &r.AskSz} {
			if *dst, err = ps.Rd.Decimal(quote[i], quoteKeys[i]); err != nil {
				return adapter.Fail(out, err)
			}
		}
		return nil
	}
	if r.Price, err = ps.Rd.DecimalAt(it, "last"); err != nil {
		return adapter.Fail(out, err)
	}
	if sz := it.Get("lastSz"); present(sz) {
		if r.Size, err = ps.Rd.Decimal(sz, "lastSz"); err != nil {
			return adapter.Fail(out, err)
		}
	}
	return nil
}

// present reports whether v is a number or a non-empty string (OKX writes "" for "none").
func present(v *fastjson.Value) bool {
	if v == nil {
		return false
	}
	if v.Type() == fastjson.TypeNumber {
		return true
	}
	b, err := v.StringBytes()
	return err == nil && len(b) > 0
}

func (ps *Parser) trade(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(it, sym, wire.KindTrade, recvNs, out)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(it, "tradeId"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Rd.DecimalAt(it, "px"); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Rd.DecimalAt(it, "sz"); err != nil {
		return adapter.Fail(out, err)
	}
	switch side := it.GetStringBytes("side"); string(side) { // OKX: the taker's side
	case "buy":
		r.Side = wire.SideBuy
	case "sell":
		r.Side = wire.SideSell
	default:
		return adapter.Fail(out, fmt.Errorf("%w: trade side %q", adapter.ErrMalformed, side))
	}
	return nil
}

// books5 is a full top-5 book on every push.
func (ps *Parser) books5(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(it, sym, wire.KindBookSnapshot, recvNs, out)
	if err != nil {
		return err
	}
	if err := ps.seqID(it, r); err != nil {
		return adapter.Fail(out, err)
	}
	if err := ps.Rd.Book(r, it, "bids", "asks"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}

// bookSnapshot is the books channel's first push: Seq = seqId (prevSeqId is -1).
func (ps *Parser) bookSnapshot(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	return ps.books5(it, sym, recvNs, out)
}

// bookUpdate is a books increment: Seq = seqId, SeqFirst = prevSeqId + 1 (see the package
// doc for the no-change and reset cases).
func (ps *Parser) bookUpdate(it *fastjson.Value, sym []byte, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(it, sym, wire.KindBookDelta, recvNs, out)
	if err != nil {
		return err
	}
	if err := ps.seqID(it, r); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Flags&wire.FlagNoSeq == 0 {
		prev, err := ps.Rd.Uint(it.Get("prevSeqId"), "prevSeqId")
		if err != nil {
			return adapter.Fail(out, err)
		}
		if prev == math.MaxUint64 {
			return adapter.Fail(out, fmt.Errorf("%w: prevSeqId %d out of range", adapter.ErrMalformed, prev))
		}
		r.SeqFirst = prev + 1
		if r.Seq < prev {
			// OKX's reset after maintenance: the sequence starts again below prevSeqId.
			r.Flags |= wire.FlagSeqReset
		}
	}
	if err := ps.Rd.Book(r, it, "bids", "asks"); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}
