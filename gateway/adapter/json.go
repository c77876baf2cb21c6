package adapter

import (
	"strconv"

	"github.com/tickline/tickline/shared/wire"
)

// AppendJSON appends one record as the JSON object `tickline normalize` prints, without a
// trailing newline. Field names are fixed (see the README); fields that do not apply to the
// record's kind are omitted; prices and sizes are JSON strings holding the exact decimal.
//
// Trades: "trade_id" is Seq; "seq" is printed only when the exchange has a message
// sequence separate from the trade id (kept in SeqFirst, e.g. Coinbase). Other kinds: "seq"
// is Seq, omitted when the record has FlagNoSeq.
func AppendJSON(dst []byte, r *wire.Record) []byte {
	dst = append(dst, `{"exchange":"`...)
	dst = append(dst, r.Exchange.String()...)
	dst = append(dst, `","symbol":`...)
	dst = strconv.AppendQuote(dst, string(r.Symbol.Bytes()))
	dst = append(dst, `,"instrument":`...)
	dst = strconv.AppendQuote(dst, string(r.Instrument.Bytes()))
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, `","ts_exchange_ns":`...)
	dst = strconv.AppendInt(dst, r.TsExchange, 10)
	seq, hasSeq := r.Seq, r.Flags&wire.FlagNoSeq == 0
	if r.Kind == wire.KindTrade {
		seq, hasSeq = r.SeqFirst, r.SeqFirst != 0
	}
	if hasSeq {
		dst = append(dst, `,"seq":"`...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, '"')
	}
	dec := func(name string, d wire.Decimal) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":"`...)
		dst = d.AppendString(dst)
		dst = append(dst, '"')
	}
	levels := func(name string, ls []wire.Level) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":[`...)
		for i, l := range ls {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `["`...)
			dst = l.Price.AppendString(dst)
			dst = append(dst, `","`...)
			dst = l.Size.AppendString(dst)
			dst = append(dst, `"]`...)
		}
		dst = append(dst, ']')
	}
	switch r.Kind {
	case wire.KindBBO:
		dec("bid_px", r.BidPx)
		dec("bid_sz", r.BidSz)
		dec("ask_px", r.AskPx)
		dec("ask_sz", r.AskSz)
	case wire.KindTrade:
		dec("price", r.Price)
		dec("size", r.Size)
		if r.Side != wire.SideUnknown {
			dst = append(dst, `,"side":"`...)
			dst = append(dst, r.Side.String()...)
			dst = append(dst, '"')
		}
		if r.Flags&wire.FlagNoSeq == 0 {
			dst = append(dst, `,"trade_id":"`...)
			dst = strconv.AppendUint(dst, r.Seq, 10)
			dst = append(dst, '"')
		}
	case wire.KindTicker:
		dec("price", r.Price)
		if !r.Size.IsZero() {
			dec("size", r.Size)
		}
	case wire.KindBookSnapshot, wire.KindBookDelta:
		levels("bids", r.Bids)
		levels("asks", r.Asks)
	case wire.KindStatus:
		dst = append(dst, `,"status":"`...)
		dst = append(dst, r.Status.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
