package sim

import "time"

// coinoneVenue serves Coinone's public WebSocket at /: {"response_type":"CONNECTED"} on
// connect, {"request_type":"SUBSCRIBE"|"UNSUBSCRIBE","channel":"TICKER"|"TRADE"|
// "ORDERBOOK","topic":{"quote_currency":"KRW","target_currency":"BTC"}} answered by
// SUBSCRIBED / UNSUBSCRIBED (ERROR 160012 "Invalid Topic" otherwise),
// {"request_type":"PING"} → {"response_type":"PONG"}. Data: ORDERBOOK (the whole book,
// 16 levels a side, on every change; asks listed WORST first like the docs' example and
// live captures, bids best first), TRADE (is_seller_maker true = a taker buy), TICKER
// (best prices and sizes). Every data message has an id "<ms><3 digits>", larger =
// newer. Numbers are strings; times in ms. Frames are always in the DEFAULT format.
// Book symbols are TARGET-QUOTE ("BTC-KRW").
type coinoneVenue struct{ profile }

var venueCoinone = coinoneVenue{profile{ex: "coinone", prem: 0.026, paths: []string{"/"}, levels: coinoneDepth, px: styleTrim, sz: styleTrim, sep: '-'}}

func init() { register(venueCoinone) }

const coinoneDepth = 16

// coinoneLevel is a book level in Coinone's ORDERBOOK data.
var coinoneLevel = objectLevel{open: `{"price":"`, mid: `","qty":"`}

func (coinoneVenue) newSession(c *conn, _ string) session { return &coinoneSession{jsonSession{c: c}} }

// head opens a DATA message of channel as Coinone writes it, through the market's
// target_currency; the fields that follow differ in order per channel (ts and id).
func (coinoneVenue) head(dst []byte, b *book, channel string) []byte {
	dst = append(dst, `{"response_type":"DATA","channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","data":{"quote_currency":"`...)
	dst = append(dst, b.inst.quote...)
	dst = append(dst, `","target_currency":"`...)
	dst = append(dst, b.inst.base...)
	return append(dst, '"')
}

// timestamp appends the "timestamp" field (ms) of event time ns.
func (coinoneVenue) timestamp(dst []byte, ns int64) []byte {
	dst = append(dst, `,"timestamp":`...)
	return appendMs(dst, ns)
}

// id appends the "id" field: the event's ms and its sequence mod 1000.
func (coinoneVenue) id(dst []byte, ns int64, n uint64) []byte {
	dst = append(dst, `,"id":"`...)
	dst = appendMs(dst, ns)
	dst = append(dst, byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
	return append(dst, '"')
}

func (v coinoneVenue) orderbook(dst []byte, b *book, ns int64, n uint64) []byte {
	dst = v.id(v.timestamp(v.head(dst, b, "ORDERBOOK"), ns), ns, n)
	dst = append(dst, `,"asks":`...)
	dst = coinoneLevel.appendSide(dst, b, true, true) // worst first, as Coinone lists them
	dst = append(dst, `,"bids":`...)
	dst = coinoneLevel.appendSide(dst, b, false, false)
	return append(dst, `}}`...)
}

func (v coinoneVenue) ticker(dst []byte, b *book, ns int64, n uint64) []byte {
	dst = v.timestamp(v.head(dst, b, "TICKER"), ns)
	dst = append(dst, `,"quote_volume":"0","target_volume":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = b.appendPxEach(dst, b.lastPx, styleTrim, `","high":"`, `","low":"`, `","first":"`, `","last":"`)
	dst = append(dst, `","volume_power":"100`...)
	dst = b.appendTop(dst, true, `","ask_best_price":"`, `","ask_best_qty":"`, styleTrim, styleTrim)
	dst = b.appendTop(dst, false, `","bid_best_price":"`, `","bid_best_qty":"`, styleTrim, styleTrim)
	dst = v.id(append(dst, '"'), ns, n)
	dst = b.appendPxEach(dst, b.lastPx, styleTrim, `,"yesterday_high":"`, `","yesterday_low":"`, `","yesterday_first":"`, `","yesterday_last":"`)
	dst = append(dst, `","yesterday_quote_volume":"0","yesterday_target_volume":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	return append(dst, `"}}`...)
}

func (v coinoneVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, ev.ns, ev.n)
	case kTicker:
		if !ev.top && !ev.trade {
			return dst
		}
		return v.ticker(dst, b, ev.ns, ev.n)
	case kTrade:
		if !ev.trade {
			return dst
		}
		dst = v.timestamp(v.id(v.head(dst, b, "TRADE"), ev.ns, ev.n), ev.ns)
		dst = append(dst, `,"price":"`...)
		dst = b.appendPx(dst, ev.tradePx, styleTrim)
		dst = append(dst, `","qty":"`...)
		dst = b.appendSz(dst, ev.tradeSz, styleTrim)
		dst = append(dst, `","is_seller_maker":`...)
		dst = append(dst, side(ev.takerBuy, "true", "false")...)
		return append(dst, `}}`...)
	}
	return dst
}

func (v coinoneVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, now, b.events)
	case kTicker:
		return v.ticker(dst, b, now, b.events)
	}
	return dst
}

// coinoneChannels maps a subscription's channel to the kind of its stream.
var coinoneChannels = map[string]kind{"ORDERBOOK": kFull, "TRADE": kTrade, "TICKER": kTicker}

type coinoneSession struct{ jsonSession }

func (s *coinoneSession) open() {
	s.c.send([]byte(`{"response_type":"CONNECTED","data":{"session_id":"00000000-0000-4000-8000-000000000001"}}`))
}

func (s *coinoneSession) handle(msg []byte) {
	v := s.object(msg, func() []byte {
		return []byte(`{"response_type":"ERROR","error_code":160001,"message":"Invalid Format"}`)
	})
	if v == nil {
		return
	}
	rt := string(v.GetStringBytes("request_type"))
	switch rt {
	case "PING":
		s.c.send([]byte(`{"response_type":"PONG"}`))
		return
	case "SUBSCRIBE", "UNSUBSCRIBE":
	default:
		s.c.send([]byte(`{"response_type":"ERROR","error_code":160011,"message":"Invalid Type","field":"request_type"}`))
		return
	}
	ch := string(v.GetStringBytes("channel"))
	kd, known := coinoneChannels[ch]
	if !known {
		s.c.send([]byte(`{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}`))
		return
	}
	k := streamKey{kind: kd}
	t := v.Get("topic")
	q, tc := string(t.GetStringBytes("quote_currency")), string(t.GetStringBytes("target_currency"))
	sym := tc + "-" + q
	if _, ok := venueCoinone.instrument(sym); !ok {
		s.c.send([]byte(`{"response_type":"ERROR","error_code":160012,"message":"Invalid Topic"}`))
		return
	}
	s.c.send([]byte(`{"response_type":"` + rt + `D","channel":"` + ch + `","data":{"quote_currency":"` + q + `","target_currency":"` + tc + `"}}`))
	s.c.setSubscribed(rt == "SUBSCRIBE", sym, k)
}

// describe says what the frames of stream k become (events.go).
func (coinoneVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	// id "<ms><3 digits of the book's event count>"; a snapshot's ms is its send time,
	// unknown here, so its id is left out (per-connection lines match by content).
	n := func() uint64 { return uint64(ev.ns/1e6)*1000 + ev.n%1000 }
	switch {
	case d.snap && k.kind == kFull:
		return d.set(bodyBook, ms, "")
	case d.snap && k.kind == kTicker:
		return d.set(bodyBBO, ms, "")
	case d.snap:
	case k.kind == kFull:
		return d.set(bodyBook, ms, idStr(n()), u("id", n()))
	case k.kind == kTicker && (d.top || d.trade):
		return d.set(bodyBBO, ms, idStr(n()), u("id", n()))
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, ms, idStr(n()), u("id", n()))
	}
	return entry{}
}
