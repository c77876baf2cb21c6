package adapter

import (
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
	return append(wire.AppendJSONHead(dst, r), '}')
}
