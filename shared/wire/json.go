package wire

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
