package wire

import "strconv"

// AppendJSONHead appends the opening of r's JSON object as `tickline normalize` prints it,
// without the closing brace, so that callers (normalize, the tap) can add members:
// exchange, symbol, instrument, kind, ts_exchange_ns, seq, the kind's body
// (AppendJSONBody), trade_id and status. Trades: "trade_id" is Seq; "seq" is printed only
// when the exchange has a message sequence separate from the trade id (kept in SeqFirst,
// e.g. Coinbase). Other kinds: "seq" is Seq, omitted when the record has FlagNoSeq. It
// does not allocate when dst has room.
func AppendJSONHead(dst []byte, r *Record) []byte {
	dst = AppendJSONOpen(dst, r)
	seq, hasSeq := r.Seq, r.Flags&FlagNoSeq == 0
	if r.Kind == KindTrade {
		seq, hasSeq = r.SeqFirst, r.SeqFirst != 0
	}
	if hasSeq {
		dst = append(dst, `,"seq":"`...)
		dst = strconv.AppendUint(dst, seq, 10)
		dst = append(dst, '"')
	}
	dst = AppendJSONBody(dst, r)
	switch r.Kind {
	case KindTrade:
		if r.Flags&FlagNoSeq == 0 {
			dst = append(dst, `,"trade_id":"`...)
			dst = strconv.AppendUint(dst, r.Seq, 10)
			dst = append(dst, '"')
		}
	case KindStatus:
		dst = append(dst, `,"status":"`...)
		dst = append(dst, r.Status.String()...)
		dst = append(dst, '"')
	}
	return dst
}

// AppendJSONOpen appends the opening of r's JSON object, the members every JSON form of
// a record starts with (normalize, the tap, the replay's JSONL): exchange, symbol,
// instrument, kind, ts_exchange_ns. It does not allocate when dst has room.
func AppendJSONOpen(dst []byte, r *Record) []byte {
	dst = append(dst, `{"exchange":"`...)
	dst = append(dst, r.Exchange.String()...)
	dst = append(dst, `","symbol":`...)
	dst = appendJSONName(dst, r.Symbol.Bytes())
	dst = append(dst, `,"instrument":`...)
	dst = appendJSONName(dst, r.Instrument.Bytes())
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, `","ts_exchange_ns":`...)
	return strconv.AppendInt(dst, r.TsExchange, 10)
}

// appendJSONName appends a name (printable ASCII) as a JSON string.
func appendJSONName(dst, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// AppendJSONBody appends the kind-specific fields of r as JSON members, each preceded by
// a comma: bid_px bid_sz ask_px ask_sz (bbo); price size side (trade); price and size
// when non-zero (ticker); bids asks as [["price","size"],...] (books). Decimals are JSON
// strings exactly as written. Status fields are left to the caller (their shape differs
// between normalize and replay). It does not allocate when dst has room.
func AppendJSONBody(dst []byte, r *Record) []byte {
	switch r.Kind {
	case KindBBO:
		dst = appendJSONDecimal(dst, "bid_px", r.BidPx)
		dst = appendJSONDecimal(dst, "bid_sz", r.BidSz)
		dst = appendJSONDecimal(dst, "ask_px", r.AskPx)
		dst = appendJSONDecimal(dst, "ask_sz", r.AskSz)
	case KindTrade:
		dst = appendJSONDecimal(dst, "price", r.Price)
		dst = appendJSONDecimal(dst, "size", r.Size)
		if r.Side != SideUnknown {
			dst = append(dst, `,"side":"`...)
			dst = append(dst, r.Side.String()...)
			dst = append(dst, '"')
		}
	case KindTicker:
		dst = appendJSONDecimal(dst, "price", r.Price)
		if !r.Size.IsZero() {
			dst = appendJSONDecimal(dst, "size", r.Size)
		}
	case KindBookSnapshot, KindBookDelta:
		dst = appendJSONLevels(dst, "bids", r.Bids)
		dst = appendJSONLevels(dst, "asks", r.Asks)
	}
	return dst
}

func appendJSONDecimal(dst []byte, name string, d Decimal) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":"`...)
	dst = d.AppendString(dst)
	return append(dst, '"')
}

func appendJSONLevels(dst []byte, name string, ls []Level) []byte {
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
	return append(dst, ']')
}
