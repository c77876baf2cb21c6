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
	dst = wire.AppendJSONBody(dst, r)
	switch r.Kind {
	case wire.KindTrade:
		if r.Flags&wire.FlagNoSeq == 0 {
			dst = append(dst, `,"trade_id":"`...)
			dst = strconv.AppendUint(dst, r.Seq, 10)
			dst = append(dst, '"')
		}
	case wire.KindStatus:
		dst = append(dst, `,"status":"`...)
		dst = append(dst, r.Status.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
