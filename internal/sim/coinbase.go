package sim

import (
	"time"

	"github.com/valyala/fastjson"
)

// coinbaseVenue serves the Coinbase Exchange feed at /: {"type":"subscribe",
// "product_ids":[...],"channels":[names or {"name","product_ids"}]} answered by
// {"type":"subscriptions",...}; channels ticker (best bid/ask with sizes, published on
// trades, sequence = the product's feed sequence), matches (side = the MAKER's side;
// last_match on subscribe), level2 / level2_batch (snapshot, then l2update changes with
// no sequence) and heartbeat (one per product per second, with sequence and
// last_trade_id). Times are RFC 3339 with microseconds, UTC.
type coinbaseVenue struct{ profile }

var venueCoinbase = coinbaseVenue{profile{ex: "coinbase", prem: 0.0006, paths: []string{"/"}, px: styleNatural, sz: styleFixed8, sep: '-'}}

func init() { register(venueCoinbase) }

// Coinbase channel variants.
const (
	cbLevel2 uint8 = iota
	cbLevel2Batch
)

func (coinbaseVenue) newSession(c *conn, _ string) session {
	return &coinbaseSession{jsonSession{c: c}}
}

func coinbaseChannel(name string) (streamKey, bool) {
	switch name {
	case "ticker":
		return streamKey{kind: kTicker}, true
	case "matches":
		return streamKey{kind: kTrade}, true
	case "level2":
		return streamKey{kind: kDelta, v: cbLevel2}, true
	case "level2_batch":
		return streamKey{kind: kDelta, v: cbLevel2Batch}, true
	case "heartbeat":
		return streamKey{kind: kHeartbeat}, true
	}
	return streamKey{}, false
}

func (coinbaseVenue) product(dst []byte, b *book) []byte {
	dst = append(dst, `"product_id":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, '-')
	dst = append(dst, b.inst.quote...)
	return append(dst, '"')
}

func (v coinbaseVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	if ev == nil {
		if k.kind != kHeartbeat {
			return dst
		}
		dst = append(dst, `{"type":"heartbeat","last_trade_id":`...)
		dst = appendUint(dst, b.tradeID)
		dst = append(dst, ',')
		dst = v.product(dst, b)
		dst = append(dst, `,"sequence":`...)
		dst = appendUint(dst, b.seq)
		dst = append(dst, `,"time":"`...)
		dst = appendRFC3339Micro(dst, time.Now().UnixNano())
		return append(dst, `"}`...)
	}
	switch k.kind {
	case kDelta:
		dst = append(dst, `{"type":"l2update",`...)
		dst = v.product(dst, b)
		dst = append(dst, `,"changes":[`...)
		for i, c := range ev.changes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `["`...)
			dst = append(dst, side(!c.ask, "buy", "sell")...)
			dst = append(dst, `","`...)
			dst = b.appendPx(dst, c.px, styleNatural)
			dst = append(dst, `","`...)
			dst = b.appendSz(dst, c.sz, styleFixed8)
			dst = append(dst, `"]`...)
		}
		dst = append(dst, `],"time":"`...)
		dst = appendRFC3339Micro(dst, ev.ns)
		return append(dst, `"}`...)
	case kTrade:
		if !ev.trade {
			return dst
		}
		return v.match(dst, b, "match", ev.tradeID, ev.tradePx, ev.tradeSz, ev.takerBuy, ev.seq, ev.ns)
	case kTicker:
		if !ev.trade {
			return dst
		}
		return v.ticker(dst, b, ev.takerBuy, ev.ns)
	}
	return dst
}

func (v coinbaseVenue) match(dst []byte, b *book, typ string, id uint64, px, sz int64, takerBuy bool, seq uint64, ns int64) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","trade_id":`...)
	dst = appendUint(dst, id)
	dst = append(dst, `,"maker_order_id":"00000000-0000-4000-8000-`...)
	dst = appendFixed12(dst, id*2)
	dst = append(dst, `","taker_order_id":"00000000-0000-4000-8000-`...)
	dst = appendFixed12(dst, id*2+1)
	dst = append(dst, `","side":"`...)
	dst = append(dst, side(takerBuy, "sell", "buy")...) // the maker's side
	dst = append(dst, `","size":"`...)
	dst = b.appendSz(dst, sz, styleFixed8)
	dst = append(dst, `","price":"`...)
	dst = b.appendPx(dst, px, styleNatural)
	dst = append(dst, `",`...)
	dst = v.product(dst, b)
	dst = append(dst, `,"sequence":`...)
	dst = appendUint(dst, seq)
	dst = append(dst, `,"time":"`...)
	dst = appendRFC3339Micro(dst, ns)
	return append(dst, `"}`...)
}

// appendFixed12 appends v as 12 zero-padded decimal digits.
func appendFixed12(dst []byte, v uint64) []byte {
	for d := 11; d >= 0; d-- {
		dst = append(dst, byte('0'+v/uint64(pow10[d])%10))
	}
	return dst
}

func (v coinbaseVenue) ticker(dst []byte, b *book, takerBuy bool, ns int64) []byte {
	dst = append(dst, `{"type":"ticker","sequence":`...)
	dst = appendUint(dst, b.seq)
	dst = append(dst, ',')
	dst = v.product(dst, b)
	dst = b.appendPxEach(dst, b.lastPx, styleNatural, `,"price":"`, `","open_24h":"`)
	dst = append(dst, `","volume_24h":"`...)
	dst = b.appendSz(dst, b.volume, styleFixed8)
	dst = b.appendPxEach(dst, b.lastPx, styleNatural, `","low_24h":"`, `","high_24h":"`)
	dst = append(dst, `","volume_30d":"`...)
	dst = b.appendSz(dst, b.volume, styleFixed8)
	dst = b.appendTop(dst, false, `","best_bid":"`, `","best_bid_size":"`, styleNatural, styleFixed8)
	dst = b.appendTop(dst, true, `","best_ask":"`, `","best_ask_size":"`, styleNatural, styleFixed8)
	dst = append(dst, `","side":"`...)
	dst = append(dst, side(takerBuy, "buy", "sell")...)
	dst = append(dst, `","time":"`...)
	dst = appendRFC3339Micro(dst, ns)
	dst = append(dst, `","trade_id":`...)
	dst = appendUint(dst, b.tradeID)
	dst = append(dst, `,"last_size":"`...)
	dst = b.appendSz(dst, b.lastSz, styleFixed8)
	return append(dst, `"}`...)
}

func (v coinbaseVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kDelta:
		dst = append(dst, `{"type":"snapshot",`...)
		dst = v.product(dst, b)
		dst = append(dst, `,"asks":`...)
		dst = appendLevels(dst, b, true, 0, styleNatural, styleFixed8)
		dst = append(dst, `,"bids":`...)
		dst = appendLevels(dst, b, false, 0, styleNatural, styleFixed8)
		return append(dst, '}')
	case kTicker:
		return v.ticker(dst, b, true, now)
	case kTrade:
		if b.tradeID == 0 {
			return dst
		}
		return v.match(dst, b, "last_match", b.tradeID, b.lastPx, b.lastSz, b.lastBuy, b.seq, now)
	}
	return dst
}

type coinbaseSession struct{ jsonSession }

func (s *coinbaseSession) handle(msg []byte) {
	v := s.object(msg, func() []byte {
		return []byte(`{"type":"error","message":"Malformed JSON","reason":"invalid character"}`)
	})
	if v == nil {
		return
	}
	typ := string(v.GetStringBytes("type"))
	if typ != "subscribe" && typ != "unsubscribe" {
		s.c.send([]byte(`{"type":"error","message":"Failed to subscribe","reason":"Type has to be either subscribe or unsubscribe"}`))
		return
	}
	var top []string
	for _, p := range v.GetArray("product_ids") {
		top = append(top, string(p.GetStringBytes()))
	}
	type sub struct {
		sym string
		k   streamKey
	}
	var subs []sub
	var ack []byte
	ack = append(ack, `{"type":"subscriptions","channels":[`...)
	for i, ch := range v.GetArray("channels") {
		name, ids := string(ch.GetStringBytes()), top
		if ch.Type() == fastjson.TypeObject {
			name, ids = string(ch.GetStringBytes("name")), nil
			for _, p := range ch.GetArray("product_ids") {
				ids = append(ids, string(p.GetStringBytes()))
			}
			if len(ids) == 0 {
				ids = top
			}
		}
		k, ok := coinbaseChannel(name)
		if !ok {
			s.c.send([]byte(`{"type":"error","message":"Failed to subscribe","reason":"` + jsonSafe([]byte(name)) + ` is not a valid channel"}`))
			return
		}
		if i > 0 {
			ack = append(ack, ',')
		}
		ack = append(ack, `{"name":"`...)
		ack = append(ack, name...)
		ack = append(ack, `","product_ids":[`...)
		for j, id := range ids {
			if _, ok := venueCoinbase.instrument(id); !ok {
				s.c.send([]byte(`{"type":"error","message":"Failed to subscribe","reason":"` + jsonSafe([]byte(id)) + ` is not a valid product"}`))
				return
			}
			if j > 0 {
				ack = append(ack, ',')
			}
			ack = append(ack, '"')
			ack = append(ack, id...)
			ack = append(ack, '"')
			subs = append(subs, sub{id, k})
		}
		ack = append(ack, `]}`...)
	}
	if len(subs) == 0 {
		s.c.send([]byte(`{"type":"error","message":"Failed to subscribe","reason":"No channels provided"}`))
		return
	}
	ack = append(ack, `]}`...)
	s.c.send(ack)
	for _, x := range subs {
		s.c.setSubscribed(typ == "subscribe", x.sym, x.k)
	}
}

// describe says what the frames of stream k become (events.go).
func (coinbaseVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap && k.kind == kDelta:
		return d.set(bodyBook, 0, "")
	case d.snap && k.kind == kTicker:
		return d.set(bodyBBO, us, idStr(b.seq), u("sequence", b.seq), u("trade_id", b.tradeID))
	case d.snap:
	case k.kind == kTicker && d.trade:
		return d.set(bodyBBO, us, idStr(b.seq), u("sequence", b.seq), u("trade_id", b.tradeID))
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, us, idStr(ev.tradeID), u("trade_id", ev.tradeID), u("sequence", ev.seq))
	case k.kind == kDelta:
		return d.set(bodyDelta, us, "")
	}
	return entry{}
}
