package sim

import (
	"strconv"
	"strings"
	"time"
)

// bybitVenue serves Bybit v5 spot: /v5/public/spot, {"op":"subscribe","args":[topics],
// "req_id"} answered by {"success":true,"ret_msg":"subscribe",...}; topics
// orderbook.{1|50|200|1000}.SYM (a snapshot on subscribe, then deltas whose u is the
// previous u + 1 and seq the cross sequence; level 1 is snapshot-only with its own u),
// publicTrade.SYM (S = taker side, i = trade id), tickers.SYM (no BBO on spot).
// {"op":"ping"} → {"success":true,"ret_msg":"pong",...}. Times in ms.
type bybitVenue struct{ profile }

var venueBybit = bybitVenue{profile{ex: "bybit", prem: -0.0002, paths: []string{"/v5/public/spot"}, px: styleTrim, sz: styleTrim}}

func init() { register(venueBybit) }

func (bybitVenue) newSession(c *conn, _ string) session { return &bybitSession{jsonSession{c: c}} }

// bybitTopic maps "orderbook.50.BTCUSDT" to its symbol and key.
func bybitTopic(t string) (string, streamKey, bool) {
	parts := strings.Split(t, ".")
	switch {
	case len(parts) == 3 && parts[0] == "orderbook":
		n, err := strconv.Atoi(parts[1])
		if err != nil || (n != 1 && n != 50 && n != 200 && n != 1000) {
			return "", streamKey{}, false
		}
		if n == 1 {
			return parts[2], streamKey{kind: kBBO, depth: 1}, true
		}
		return parts[2], streamKey{kind: kDelta, depth: n}, true
	case len(parts) == 2 && parts[0] == "publicTrade":
		return parts[1], streamKey{kind: kTrade}, true
	case len(parts) == 2 && parts[0] == "tickers":
		return parts[1], streamKey{kind: kTicker}, true
	}
	return "", streamKey{}, false
}

func (bybitVenue) head(dst []byte, b *book, k streamKey, typ string, ns int64) []byte {
	dst = append(dst, `{"topic":"`...)
	switch k.kind {
	case kBBO, kDelta:
		dst = append(dst, "orderbook."...)
		dst = strconv.AppendInt(dst, int64(k.depth), 10)
		dst = append(dst, '.')
	case kTrade:
		dst = append(dst, "publicTrade."...)
	case kTicker:
		dst = append(dst, "tickers."...)
	}
	dst = append(dst, b.inst.base...)
	dst = append(dst, b.inst.quote...)
	dst = append(dst, `","ts":`...)
	dst = appendMs(dst, ns)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, typ...)
	return append(dst, `","data":`...)
}

// book appends an orderbook message: the whole top n (levels == nil) or ev's changes.
func (v bybitVenue) book(dst []byte, b *book, k streamKey, ev *event, u uint64, ns int64) []byte {
	typ := "snapshot"
	if ev != nil {
		typ = "delta"
	}
	dst = v.head(dst, b, k, typ, ns)
	dst = append(dst, `{"s":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, b.inst.quote...)
	dst = append(dst, `","b":`...)
	if ev != nil {
		dst = appendChanges(dst, b, ev, false, styleTrim, styleTrim, "")
		dst = append(dst, `,"a":`...)
		dst = appendChanges(dst, b, ev, true, styleTrim, styleTrim, "")
	} else {
		dst = appendLevels(dst, b, false, k.depth, styleTrim, styleTrim)
		dst = append(dst, `,"a":`...)
		dst = appendLevels(dst, b, true, k.depth, styleTrim, styleTrim)
	}
	dst = append(dst, `,"u":`...)
	dst = appendUint(dst, u)
	dst = append(dst, `,"seq":`...)
	dst = appendUint(dst, b.seq)
	dst = append(dst, `},"cts":`...)
	dst = appendMs(dst, ns)
	return append(dst, '}')
}

func (v bybitVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kDelta:
		return v.book(dst, b, k, ev, ev.n, ev.ns)
	case kBBO:
		if !ev.top {
			return dst
		}
		return v.book(dst, b, k, nil, b.tops, ev.ns)
	case kTrade:
		if !ev.trade {
			return dst
		}
		dst = v.head(dst, b, k, "snapshot", ev.ns)
		dst = append(dst, `[{"T":`...)
		dst = appendMs(dst, ev.ns)
		dst = append(dst, `,"s":"`...)
		dst = append(dst, b.inst.base...)
		dst = append(dst, b.inst.quote...)
		dst = append(dst, `","S":"`...)
		dst = append(dst, side(ev.takerBuy, "Buy", "Sell")...)
		dst = append(dst, `","v":"`...)
		dst = b.appendSz(dst, ev.tradeSz, styleTrim)
		dst = append(dst, `","p":"`...)
		dst = b.appendPx(dst, ev.tradePx, styleTrim)
		dst = append(dst, `","i":"`...)
		dst = appendUint(dst, 2290000000000000000+ev.tradeID)
		dst = append(dst, `","BT":false,"RPI":false,"seq":`...)
		dst = appendUint(dst, ev.seq)
		return append(dst, `}]}`...)
	case kTicker:
		if !ev.trade {
			return dst
		}
		return v.ticker(dst, b, k, ev.ns)
	}
	return dst
}

func (v bybitVenue) ticker(dst []byte, b *book, k streamKey, ns int64) []byte {
	dst = v.head(dst, b, k, "snapshot", ns)
	dst = append(dst, `{"symbol":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, b.inst.quote...)
	dst = b.appendPxEach(dst, b.lastPx, styleTrim, `","lastPrice":"`, `","highPrice24h":"`, `","lowPrice24h":"`, `","prevPrice24h":"`)
	dst = append(dst, `","volume24h":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = append(dst, `","turnover24h":"0","price24hPcnt":"0","usdIndexPrice":""},"cs":`...)
	dst = appendUint(dst, b.seq)
	return append(dst, '}')
}

func (v bybitVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kDelta:
		return v.book(dst, b, k, nil, b.events, now)
	case kBBO:
		return v.book(dst, b, k, nil, b.tops, now)
	case kTicker:
		return v.ticker(dst, b, k, now)
	}
	return dst
}

type bybitSession struct{ jsonSession }

func (s *bybitSession) handle(msg []byte) {
	v := s.object(msg, func() []byte {
		return []byte(`{"success":false,"ret_msg":"Invalid request: ` + jsonSafe(msg) + `","conn_id":"sim-0001","op":""}`)
	})
	if v == nil {
		return
	}
	op := string(v.GetStringBytes("op"))
	reqID := ""
	if r := v.GetStringBytes("req_id"); r != nil {
		reqID = `,"req_id":"` + jsonSafe(r) + `"`
	}
	switch op {
	case "ping":
		s.c.send([]byte(`{"success":true,"ret_msg":"pong","conn_id":"sim-0001"` + reqID + `,"op":"ping"}`))
	case "subscribe", "unsubscribe":
		type sub struct {
			sym string
			k   streamKey
		}
		var subs []sub
		var bad []string
		for _, a := range v.GetArray("args") {
			t := string(a.GetStringBytes())
			sym, k, ok := bybitTopic(t)
			if ok {
				_, ok = venueBybit.instrument(sym)
			}
			if !ok {
				bad = append(bad, jsonSafe([]byte(t)))
				continue
			}
			subs = append(subs, sub{sym, k})
		}
		if len(bad) > 0 {
			s.c.send([]byte(`{"success":false,"ret_msg":"Invalid symbol :[` + strings.Join(bad, ",") + `]","conn_id":"sim-0001"` + reqID + `,"op":"` + op + `"}`))
			return
		}
		s.c.send([]byte(`{"success":true,"ret_msg":"` + op + `","conn_id":"sim-0001"` + reqID + `,"op":"` + op + `"}`))
		for _, x := range subs {
			s.c.setSubscribed(op == "subscribe", x.sym, x.k)
		}
	default:
		s.c.send([]byte(`{"success":false,"ret_msg":"Invalid op","conn_id":"sim-0001"` + reqID + `,"op":"` + jsonSafe([]byte(op)) + `"}`))
	}
}

// describe says what the frames of stream k become (events.go).
func (bybitVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap && k.kind == kDelta:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, idStr(b.events), u("u", b.events), u("seq", b.seq))
	case d.snap && k.kind == kBBO:
		return d.set(bodyBBO, ms, idStr(b.tops), u("u", b.tops), u("seq", b.seq))
	case d.snap && k.kind == kTicker:
		return d.set(bodyTicker, ms, idStr(b.seq), u("cs", b.seq))
	case d.snap:
	case k.kind == kDelta:
		return d.set(bodyDelta, ms, idStr(ev.n), u("u", ev.n), u("seq", b.seq))
	case k.kind == kBBO && d.top:
		return d.set(bodyBBO, ms, idStr(b.tops), u("u", b.tops), u("seq", b.seq))
	case k.kind == kTrade && d.trade:
		i := 2290000000000000000 + ev.tradeID
		return d.set(bodyTrade, ms, idStr(i), u("i", i), u("seq", ev.seq))
	case k.kind == kTicker && d.trade:
		return d.set(bodyTicker, ms, idStr(b.seq), u("cs", b.seq))
	}
	return entry{}
}
