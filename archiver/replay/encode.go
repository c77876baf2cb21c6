package replay

import (
	"strconv"

	"github.com/tickline/tickline/shared/wire"
)

// AppendJSON appends r as one JSON object (no newline). The shape is the gateway's
// normalized JSON (`tickline normalize`: exchange, symbol, instrument, kind,
// ts_exchange_ns, seq, then the kind's fields, decimals as strings exactly as written)
// plus what only an archived record carries: ts_recv_ns, gateway_id, gateway_seq, the
// trade's exchange trade id always, seq_first when set and flags when non-zero.
// Integers that may exceed 2^53 (ids, sequences) are strings. It does not allocate when dst
// has room.
func AppendJSON(dst []byte, r *wire.Record) []byte {
	dst = wire.AppendJSONOpen(dst, r)
	dst = append(dst, `,"ts_recv_ns":`...)
	dst = strconv.AppendInt(dst, r.TsRecv, 10)
	dst = append(dst, `,"gateway_id":`...)
	dst = strconv.AppendUint(dst, uint64(r.GatewayID), 10)
	dst = append(dst, `,"gateway_seq":"`...)
	dst = strconv.AppendUint(dst, r.GatewaySeq, 10)
	dst = append(dst, `","seq":"`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, '"')
	if r.SeqFirst != 0 {
		dst = append(dst, `,"seq_first":"`...)
		dst = strconv.AppendUint(dst, r.SeqFirst, 10)
		dst = append(dst, '"')
	}
	if r.Flags != 0 {
		dst = append(dst, `,"flags":`...)
		dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
	}
	dst = wire.AppendJSONBody(dst, r)
	switch r.Kind {
	case wire.KindStatus:
		dst = append(dst, `,"status":"`...)
		dst = append(dst, r.Status.String()...)
		dst = append(dst, `","expected":"`...)
		dst = strconv.AppendUint(dst, r.Expected, 10)
		dst = append(dst, `","got":"`...)
		dst = strconv.AppendUint(dst, r.Got, 10)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// CSVHeader is the first line a CSV sink writes; AppendCSV writes rows in this column order.
// Decimals are text exactly as the exchange wrote them; book levels are
// "price:size;price:size" lists; empty cells are fields the kind does not carry.
const CSVHeader = "ts_exchange_ns,ts_recv_ns,exchange,kind,instrument,symbol,seq,seq_first,gateway_id,gateway_seq,flags," +
	"side,price,size,bid_px,bid_sz,ask_px,ask_sz,bids,asks,status,expected,got\n"

// AppendCSV appends r as one CSV row (RFC 4180, newline-terminated) in CSVHeader's columns.
// It does not allocate when dst has room.
func AppendCSV(dst []byte, r *wire.Record) []byte {
	dst = strconv.AppendInt(dst, r.TsExchange, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, r.TsRecv, 10)
	dst = append(dst, ',')
	dst = append(dst, r.Exchange.String()...)
	dst = append(dst, ',')
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, ',')
	dst = appendCSVField(dst, r.Instrument.Bytes())
	dst = append(dst, ',')
	dst = appendCSVField(dst, r.Symbol.Bytes())
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, ',')
	if r.SeqFirst != 0 {
		dst = strconv.AppendUint(dst, r.SeqFirst, 10)
	}
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(r.GatewayID), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, r.GatewaySeq, 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
	dst = append(dst, ',')
	dec := func(d wire.Decimal, on bool) {
		if on {
			dst = d.AppendString(dst)
		}
		dst = append(dst, ',')
	}
	levels := func(ls []wire.Level) {
		for i, l := range ls {
			if i > 0 {
				dst = append(dst, ';')
			}
			dst = l.Price.AppendString(dst)
			dst = append(dst, ':')
			dst = l.Size.AppendString(dst)
		}
		dst = append(dst, ',')
	}
	isTrade := r.Kind == wire.KindTrade
	dst = append(dst, r.Side.String()...) // "" unless a trade with a known side
	dst = append(dst, ',')
	dec(r.Price, isTrade || r.Kind == wire.KindTicker)
	dec(r.Size, isTrade || r.Kind == wire.KindTicker)
	bbo := r.Kind == wire.KindBBO
	dec(r.BidPx, bbo)
	dec(r.BidSz, bbo)
	dec(r.AskPx, bbo)
	dec(r.AskSz, bbo)
	levels(r.Bids)
	levels(r.Asks)
	if r.Kind == wire.KindStatus {
		dst = append(dst, r.Status.String()...)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, r.Expected, 10)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, r.Got, 10)
	} else {
		dst = append(dst, ",,"...)
	}
	return append(dst, '\n')
}

// appendCSVField appends b, quoted when it holds a comma or a quote.
func appendCSVField(dst, b []byte) []byte {
	quote := false
	for _, c := range b {
		if c == ',' || c == '"' {
			quote = true
			break
		}
	}
	if !quote {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for _, c := range b {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
