package coinone

import (
	"fmt"
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
	sym [2*wire.NameLen + 1]byte // scratch for "TARGET-QUOTE"
}

// Parse normalizes one frame: DATA messages, CONNECTED/SUBSCRIBED/UNSUBSCRIBED/PONG
// (control) and ERROR, in the DEFAULT or the SHORT format.
func (ps *Parser) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
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
	r.Kind, r.Exchange, r.TsRecv = kind, wire.Coinone, recvNs
	if err := adapter.SetInstrument(&r.Instrument, tc, qc); err != nil {
		return nil, adapter.Fail(out, err)
	}
	n := copy(ps.sym[:], tc) // both fit: SetInstrument checked tc-qc against NameLen
	ps.sym[n] = '-'
	n += 1 + copy(ps.sym[n+1:], qc)
	if err := r.Symbol.Set(ps.sym[:n]); err != nil {
		return nil, adapter.Fail(out, fmt.Errorf("%w: %w", adapter.ErrMalformed, err))
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
