package coinone

import (
	"fmt"
	"strings"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// keys names the fields of one message format.
type keys struct {
	resp, channel, data, qc, tc, ts, id, price, qty, sm, asks, bids, last, abp, abq, bbp, bbq string
}

var (
	defaultKeys = keys{"response_type", "channel", "data", "quote_currency", "target_currency", "timestamp", "id",
		"price", "qty", "is_seller_maker", "asks", "bids", "last", "ask_best_price", "ask_best_qty", "bid_best_price", "bid_best_qty"}
	shortKeys = keys{"r", "c", "d", "qc", "tc", "t", "i", "p", "q", "sm", "a", "b", "la", "abp", "abq", "bbp", "bbq"}
)

// Parser normalizes Coinone frames. It is owned by one goroutine.
type Parser struct {
	adapter.ParserBase
	sym   [2*wire.NameLen + 1]byte // scratch for "TARGET-QUOTE"
	sides adapter.BookSides        // fast's scratch
}

// Parse normalizes one frame: DATA messages, CONNECTED/SUBSCRIBED/UNSUBSCRIBED/PONG
// (control) and ERROR, in the DEFAULT or the SHORT format.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	if ps.fast(frame, recvNs, out) {
		return adapter.ResultData, nil
	}
	return ps.parseTree(frame, recvNs, out)
}

// DATA messages of the DEFAULT format as Coinone writes them (the docs' field order),
// byte for byte: the fast path (adapter.Shape) of most of its frames. The holes start with
// quote, target, timestamp and id in that order, whatever the order of the fields.
const dataHead = `{"response_type":"DATA","channel":"%s","data":{"quote_currency":"%s","target_currency":"%s"`

var (
	bookHead    = adapter.MustShape(strings.Replace(dataHead, "%s", "ORDERBOOK", 1) + `,"timestamp":%n,"id":"%s","asks":[`)
	bookLevel   = adapter.MustShape(`{"price":"%s","qty":"%s"}`)
	bookBids    = adapter.MustShape(`,"bids":[`)
	bookEnd     = adapter.MustShape(`}}`)
	tickerShape = adapter.MustShape(strings.Replace(dataHead, "%s", "TICKER", 1) + `,"timestamp":%n,"quote_volume":"%s","target_volume":"%s","high":"%s","low":"%s","first":"%s","last":"%s","volume_power":"%s","ask_best_price":"%s","ask_best_qty":"%s","bid_best_price":"%s","bid_best_qty":"%s","id":"%s","yesterday_high":"%s","yesterday_low":"%s","yesterday_first":"%s","yesterday_last":"%s","yesterday_quote_volume":"%s","yesterday_target_volume":"%s"}}`)
	tradeShape  = adapter.MustShape(strings.Replace(dataHead, "%s", "TRADE", 1) + `,"id":"%s","timestamp":%n,"price":"%s","qty":"%s","is_seller_maker":%b}}`)
)

// fast normalizes a DATA frame of one of the shapes above without a fastjson tree and
// reports whether it did; on false nothing is appended and parseTree handles the frame.
// The records are the fastjson path's (FuzzSame).
func (ps *Parser) fast(frame []byte, recvNs int64, out *adapter.Batch) bool {
	var v [21][]byte
	var c adapter.Conv
	switch {
	case tickerShape.Match(frame, v[:tickerShape.Holes()]):
		// quote, target, timestamp, 7 ignored, ask px/qty, bid px/qty, id, 6 ignored
		r := fastStart(&c, out, wire.KindBBO, v[2], v[14], recvNs)
		r.AskPx, r.AskSz = c.Decimal(v[10]), c.Decimal(v[11])
		r.BidPx, r.BidSz = c.Decimal(v[12]), c.Decimal(v[13])
		return ps.fastKeep(&c, r, v[0], v[1], out)
	case tradeShape.Match(frame, v[:7]):
		r := fastStart(&c, out, wire.KindTrade, v[3], v[2], recvNs)
		r.Price, r.Size = c.Decimal(v[4]), c.Decimal(v[5])
		r.Side = wire.SideSell
		if string(v[6]) == "true" { // the seller was the maker: the buyer took
			r.Side = wire.SideBuy
		}
		return ps.fastKeep(&c, r, v[0], v[1], out)
	}
	rest, ok := bookHead.Head(frame, v[:4])
	if !ok {
		return false
	}
	r := fastStart(&c, out, wire.KindBookSnapshot, v[2], v[3], recvNs)
	rest, _, ok = ps.sides.Read(&c, rest, bookLevel, bookBids, r, 0) // no content key: ids
	c.Check(ok && bookEnd.Match(rest, nil))
	return ps.fastKeep(&c, r, v[0], v[1], out)
}

// fastStart takes a record slot of kind k with the message's timestamp and id.
func fastStart(c *adapter.Conv, out *adapter.Batch, k wire.Kind, ts, id []byte, recvNs int64) *wire.Record {
	r := out.Next()
	r.Kind, r.TsRecv = k, recvNs
	r.TsExchange = c.Epoch(ts, time.Millisecond)
	r.Seq = c.Uint(id)
	return r
}

// fastKeep finishes a fast-path record: its market, or, when that or a conversion
// failed, it drops r and returns false.
func (ps *Parser) fastKeep(c *adapter.Conv, r *wire.Record, quote, target []byte, out *adapter.Batch) bool {
	if c.Failed() || ps.market(r, target, quote) != nil {
		out.Drop()
		return false
	}
	return true
}

// market sets r's exchange, instrument (target-quote) and symbol ("TARGET-QUOTE").
func (ps *Parser) market(r *wire.Record, tc, qc []byte) error {
	r.Exchange = wire.Coinone
	if err := adapter.SetInstrument(&r.Instrument, tc, qc); err != nil {
		return err
	}
	n := copy(ps.sym[:], tc) // both fit: SetInstrument checked tc-qc against NameLen
	ps.sym[n] = '-'
	n += 1 + copy(ps.sym[n+1:], qc)
	if err := r.Symbol.Set(ps.sym[:n]); err != nil {
		return fmt.Errorf("%w: %w", adapter.ErrMalformed, err)
	}
	return nil
}

// parseTree normalizes any frame through a fastjson tree.
func (ps *Parser) parseTree(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	v, err := ps.Object(frame)
	if err != nil {
		return adapter.ResultData, err
	}
	k := &defaultKeys
	resp := v.GetStringBytes(k.resp)
	if resp == nil {
		k = &shortKeys
		resp = v.GetStringBytes(k.resp)
	}
	switch string(resp) {
	case "DATA":
	case "CONNECTED", "SUBSCRIBED", "UNSUBSCRIBED", "PONG":
		return adapter.ResultControl, nil
	case "ERROR":
		return adapter.ResultError, fmt.Errorf("%w: error_code %d: %s", adapter.ErrExchange, v.GetInt("error_code"), v.GetStringBytes("message"))
	case "":
		return adapter.ResultData, fmt.Errorf("%w: message without response_type", adapter.ErrMalformed)
	default:
		return adapter.ResultData, fmt.Errorf("%w: coinone response_type %q", adapter.ErrUnsupported, resp)
	}
	d := v.Get(k.data)
	if d == nil || d.Type() != fastjson.TypeObject {
		return adapter.ResultData, fmt.Errorf("%w: DATA without a data object", adapter.ErrMalformed)
	}
	switch ch := v.GetStringBytes(k.channel); string(ch) {
	case "TICKER":
		return adapter.ResultData, ps.ticker(d, k, recvNs, out)
	case "TRADE":
		return adapter.ResultData, ps.trade(d, k, recvNs, out)
	case "ORDERBOOK":
		return adapter.ResultData, ps.book(d, k, recvNs, out)
	default:
		return adapter.ResultData, fmt.Errorf("%w: coinone channel %q", adapter.ErrUnsupported, ch)
	}
}

// start appends a record of kind for the data's market, with Seq = its id and TsExchange
// = its timestamp.
func (ps *Parser) start(d *fastjson.Value, k *keys, kind wire.Kind, recvNs int64, out *adapter.Batch) (*wire.Record, error) {
	tc, err := adapter.StringAt(d, k.tc)
	if err != nil {
		return nil, err
	}
	qc, err := adapter.StringAt(d, k.qc)
	if err != nil {
		return nil, err
	}
	r := out.Next()
	r.Kind, r.TsRecv = kind, recvNs
	if err := ps.market(r, tc, qc); err != nil {
		return nil, adapter.Fail(out, err)
	}
	if r.Seq, err = ps.Rd.UintAt(d, k.id); err != nil {
		return nil, adapter.Fail(out, err)
	}
	if r.TsExchange, err = ps.Rd.EpochAt(d, k.ts, time.Millisecond); err != nil {
		return nil, adapter.Fail(out, err)
	}
	return r, nil
}

// present reports whether key holds a value other than null.
func present(o *fastjson.Value, key string) bool {
	v := o.Get(key)
	return v != nil && v.Type() != fastjson.TypeNull
}

func (ps *Parser) ticker(d *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	if !present(d, k.abp) || !present(d, k.bbp) { // an empty side: no BBO, a last price
		r, err := ps.start(d, k, wire.KindTicker, recvNs, out)
		if err != nil {
			return err
		}
		if r.Price, err = ps.Rd.DecimalAt(d, k.last); err != nil {
			return adapter.Fail(out, err)
		}
		return nil
	}
	r, err := ps.start(d, k, wire.KindBBO, recvNs, out)
	if err != nil {
		return err
	}
	for _, f := range [...]struct {
		key string
		dst *wire.Decimal
	}{{k.bbp, &r.BidPx}, {k.bbq, &r.BidSz}, {k.abp, &r.AskPx}, {k.abq, &r.AskSz}} {
		if *f.dst, err = ps.Rd.DecimalAt(d, f.key); err != nil {
			return adapter.Fail(out, err)
		}
	}
	return nil
}

func (ps *Parser) trade(d *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(d, k, wire.KindTrade, recvNs, out)
	if err != nil {
		return err
	}
	if r.Price, err = ps.Rd.DecimalAt(d, k.price); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Size, err = ps.Rd.DecimalAt(d, k.qty); err != nil {
		return adapter.Fail(out, err)
	}
	switch sm := d.Get(k.sm); {
	case sm == nil:
		return adapter.Fail(out, fmt.Errorf("%w: missing %s", adapter.ErrMalformed, k.sm))
	case sm.Type() == fastjson.TypeTrue:
		r.Side = wire.SideBuy // the seller was the maker: the buyer took
	case sm.Type() == fastjson.TypeFalse:
		r.Side = wire.SideSell
	default:
		return adapter.Fail(out, fmt.Errorf("%w: %s is %s, want bool", adapter.ErrMalformed, k.sm, sm.Type()))
	}
	return nil
}

func (ps *Parser) book(d *fastjson.Value, k *keys, recvNs int64, out *adapter.Batch) error {
	r, err := ps.start(d, k, wire.KindBookSnapshot, recvNs, out)
	if err != nil {
		return err
	}
	if r.Bids, err = ps.ObjectLevels(r.Bids, d, k.bids, k.price, k.qty, false); err != nil {
		return adapter.Fail(out, err)
	}
	if r.Asks, err = ps.ObjectLevels(r.Asks, d, k.asks, k.price, k.qty, false); err != nil {
		return adapter.Fail(out, err)
	}
	return nil
}
