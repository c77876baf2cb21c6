// Package upbitapi reads the Upbit WebSocket message format, which Upbit speaks and
// Bithumb's new API copies ("Upbit-compatible"): trade, orderbook and ticker objects in the
// DEFAULT or SIMPLE key format, error objects, and the content keys of records without an
// id (FNV-1a 64 over the exact field texts, each followed by 0xff: adapter.ContentKey).
// The venue packages keep what is their own (control messages, Bithumb's legacy API) and
// embed Parser.
package upbitapi

import (
	"bytes"
	"fmt"
	"strconv"
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

// Venue is what differs between the venues that speak the format.
type Venue struct {
	Exchange wire.Exchange
	// Instrument converts a market code (and, for Bithumb, a legacy symbol) to the
	// canonical instrument.
	Instrument func(dst *wire.Name, code []byte) error
}

// Parser reads Upbit-format messages. It is owned by one goroutine, as the venue parser
// that embeds it.
type Parser struct {
	adapter.ParserBase // Reply and ParseSnapshot: neither venue pings nor has a REST snapshot step
}

// NewParser returns a parser for venue v.
func NewParser(v Venue) Parser {
	return Parser{ParserBase: adapter.NewParserBase(v.Exchange, v.Instrument)}
}

// Messages returns the messages of a parsed frame: the elements of a top-level array
// (SIMPLE_LIST / JSON_LIST) or the frame's value itself, held in one.
func Messages(v *fastjson.Value, one *[1]*fastjson.Value) []*fastjson.Value {
	if v.Type() == fastjson.TypeArray {
		arr, _ := v.Array()
		return arr
	}
	one[0] = v
	return one[:]
}

// Message normalizes a typed message (trade, orderbook, ticker, in either key format) or
// an error object. handled is false for a message with neither a type nor an error (the
// venue's control messages): the caller classifies it.
func (ps *Parser) Message(v *fastjson.Value, recvNs int64, out *adapter.Batch) (res adapter.Result, handled bool, err error) {
	k := &defaultKeys
	typ := v.GetStringBytes("type")
	if typ == nil {
		if typ = v.GetStringBytes("ty"); typ != nil {
			k = &simpleKeys
		}
	}
	switch string(typ) {
	case "trade":
		return adapter.ResultData, true, ps.trade(v, k, recvNs, out)
	case "orderbook":
		return adapter.ResultData, true, ps.book(v, k, recvNs, out)
	case "ticker":
		return adapter.ResultData, true, ps.ticker(v, k, recvNs, out)
	case "":
	default:
		return adapter.ResultData, true, fmt.Errorf("%w: %s type %q", adapter.ErrUnsupported, ps.Venue, typ)
	}
	if e := v.Get("error"); e != nil {
		name := e.GetStringBytes("name")
		if bytes.Contains(name, []byte("TOO_MANY")) {
			return adapter.ResultError, true, fmt.Errorf("%w: %w: %s: %s", adapter.ErrExchange, adapter.ErrRateLimited, name, e.GetStringBytes("message"))
		}
		return adapter.ResultError, true, fmt.Errorf("%w: %s: %s", adapter.ErrExchange, name, e.GetStringBytes("message"))
	}
	return adapter.ResultData, false, nil
}

// Dec reads an exact non-negative decimal and folds its text into the content key.
func (ps *Parser) Dec(o *fastjson.Value, key string) (wire.Decimal, error) {
	b, err := ps.KeyedRaw(o, key)
	if err != nil {
		return wire.Decimal{}, err
	}
	return adapter.ParseDecimal(b, key)
}

// Ts reads an epoch timestamp in ms (or µs when it has 16 or more integer digits, seen in
// one 2023 Upbit orderbook capture and reported on Bithumb) and folds its text into the
// content key.
func (ps *Parser) Ts(o *fastjson.Value, key string) (int64, error) {
	b, err := ps.KeyedRaw(o, key)
	if err != nil {
		return 0, err
	}
	ns, err := adapter.EpochNs(b, TsUnit(b))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return ns, nil
}

// tsUnit is the unit of an epoch timestamp's text: ms, or µs with 16 or more integer
// digits.
func TsUnit(b []byte) time.Duration {
	digits := bytes.IndexByte(b, '.')
	if digits < 0 {
		digits = len(b)
	}
	if digits >= 16 {
		return time.Microsecond
	}
	return time.Millisecond
}

// The DEFAULT-format messages as the venues send them, byte for byte: the fast path
// (adapter.Shape) of the orderbook and trade messages, most of a Korean venue's frames.
var (
	bookHead  = adapter.MustShape(`{"type":"orderbook","code":"%s","timestamp":%n,"total_ask_size":%n,"total_bid_size":%n,"orderbook_units":[`)
	bookUnit  = adapter.MustShape(`{"ask_price":%n,"bid_price":%n,"ask_size":%n,"bid_size":%n}`)
	bookTail  = adapter.MustShape(`,"stream_type":"%s","level":%n}`)
	tradeFull = adapter.MustShape(`{"type":"trade","code":"%s","timestamp":%n,"trade_date":"%s","trade_time":"%s","trade_timestamp":%n,"trade_price":%n,"trade_volume":%n,"ask_bid":"%s","prev_closing_price":%n,"change":"%s","change_price":%n,"sequential_id":%n,"best_ask_price":%n,"best_ask_size":%n,"best_bid_price":%n,"best_bid_size":%n,"stream_type":"%s"}`)
)

// Fast normalizes a frame that is one DEFAULT-format orderbook or trade message written
// exactly as the venues write it, without a fastjson tree, and reports whether it did;
// on false nothing is appended and the fastjson path (Message) handles the frame. The
// records, content keys included, are the ones Message gives (adaptertest.FuzzSame).
func (ps *Parser) Fast(frame []byte, recvNs int64, out *adapter.Batch) bool {
	if ps.fastTrade(frame, recvNs, out) {
		return true
	}
	var hv [4][]byte
	rest, ok := bookHead.Head(frame, hv[:])
	if !ok {
		return false
	}
	sym, ts := hv[0], hv[1]
	var c adapter.Conv
	r, h := adapter.KeyedSnapshot(&c, out, sym, ts, TsUnit(ts))
	var v [4][]byte
	it := bookUnit.Elems(rest, wire.MaxLevels)
	for it.Next(v[:]) {
		ask := wire.Level{Price: c.Decimal(v[0]), Size: c.Decimal(v[2])}
		bid := wire.Level{Price: c.Decimal(v[1]), Size: c.Decimal(v[3])}
		// Message's order: ask price, ask size, bid price, bid size.
		h = adapter.ContentKey(adapter.ContentKey(adapter.ContentKey(adapter.ContentKey(h, v[0]), v[2]), v[1]), v[3])
		if !ask.Price.IsZero() { // price 0: a padding unit
			r.Asks = append(r.Asks, ask)
		}
		if !bid.Price.IsZero() {
			r.Bids = append(r.Bids, bid)
		}
	}
	rest, ok = it.Rest()
	var tv [2][]byte
	c.Check(ok && bookTail.Match(rest, tv[:]))
	return ps.KeepKeyed(&c, r, sym, recvNs, out, h)
}

// fastTrade is Fast for a trade message.
func (ps *Parser) fastTrade(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [17][]byte
	if !tradeFull.Match(frame, v[:]) {
		return false
	}
	sym := v[0]
	var c adapter.Conv
	r := c.Trade(out, v[11], v[5], v[6])
	r.TsExchange = c.Epoch(v[4], TsUnit(v[4]))
	r.Side = c.Side(v[7], "BID", "ASK") // ASK: the taker sold into the bids
	return ps.Keep(&c, r, sym, recvNs, out)
}

func (ps *Parser) trade(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartKeyedAt(out, wire.KindTrade, v, k.code, recvNs)
	if err != nil {
		return err
	}
	if r.Seq, err = ps.Rd.UintAt(v, k.seqID); err != nil {
		return adapter.Fail(out, err)
	}
	if r.TsExchange, err = ps.Ts(v, k.tradeTs); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Dec(v, k.price); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Dec(v, k.volume); err != nil {
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
	r, err := ps.StartKeyedAt(out, wire.KindTicker, v, k.code, recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.Ts(v, k.ts); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Price, err = ps.Dec(v, k.price); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Dec(v, k.volume); err != nil {
		return adapter.Fail(out, err)
	}
	r.Seq = ps.Key()
	return nil
}

func (ps *Parser) book(v *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.StartKeyedAt(out, wire.KindBookSnapshot, v, k.code, recvNs)
	if err != nil {
		return err
	}
	r.Flags |= wire.FlagNoSeq
	if r.TsExchange, err = ps.Ts(v, k.ts); err != nil {
		return adapter.Fail(out, err)
	}
	units, err := adapter.ArrayAt(v, k.units)
	if err != nil {
		return adapter.Fail(out, err)
	}
	for _, u := range units {
		if u.Type() != fastjson.TypeObject {
			return adapter.Fail(out, fmt.Errorf("%w: orderbook unit is %s, want object", adapter.ErrMalformed, u.Type()))
		}
		var ask, bid wire.Level
		if ask.Price, err = ps.Dec(u, k.ap); err != nil {
			return adapter.Fail(out, err)
		}
		if ask.Size, err = ps.Dec(u, k.as); err != nil {
			return adapter.Fail(out, err)
		}
		if bid.Price, err = ps.Dec(u, k.bp); err != nil {
			return adapter.Fail(out, err)
		}
		if bid.Size, err = ps.Dec(u, k.bs); err != nil {
			return adapter.Fail(out, err)
		}
		if !ask.Price.IsZero() { // price 0: a padding unit
			r.Asks = append(r.Asks, ask)
		}
		if !bid.Price.IsZero() {
			r.Bids = append(r.Bids, bid)
		}
	}
	r.Seq = ps.Key()
	return nil
}

// BookCode is the format's orderbook code for a symbol (code): with a depth, code.N where
// N is the venue's depth for it (level), with depth 1 for a BBO-only subscription
// without one; else the plain code (the server's default depth). Plan-time only.
func BookCode(code string, depth int, bboOnly bool, level func(depth int) int) string {
	if bboOnly && depth <= 0 {
		depth = 1
	}
	if depth <= 0 {
		return code
	}
	return code + "." + strconv.Itoa(level(depth))
}

// SubscribeFrame is the one subscribe request of the format: [{"ticket":ticket},
// {"type":"trade","codes":[...]},{"type":"orderbook","codes":[...]},{"type":"ticker",
// "codes":[...]},{"format":"DEFAULT"}], leaving out the types without codes.
func SubscribeFrame(ticket string, trades, books, tickers []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `[{"ticket":%q}`, ticket)
	for _, t := range [...]struct {
		typ   string
		codes []string
	}{{"trade", trades}, {"orderbook", books}, {"ticker", tickers}} {
		if len(t.codes) == 0 {
			continue
		}
		fmt.Fprintf(&b, `,{"type":%q,"codes":[`, t.typ)
		adapter.WriteStrings(&b, t.codes)
		b.WriteString("]}")
	}
	b.WriteString(`,{"format":"DEFAULT"}]`)
	return b.Bytes()
}
