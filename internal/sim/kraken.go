package sim

import (
	"hash/crc32"
	"strconv"
	"time"
)

// krakenVenue serves Kraken spot WebSocket v2 at /v2: a status frame on connect,
// {"method":"subscribe","params":{"channel","symbol":[...],...}} answered per symbol;
// channels ticker (event_trigger "bbo": on every top change; "trades", the default: on
// trades), trade (side = taker, sequential trade_id), book (snapshot, then updates, each
// with the CRC32 of the top 10 levels after applying it); {"channel":"heartbeat"} every
// second; {"method":"ping"} → pong. Numbers are bare JSON numbers keeping their trailing
// zeros; times RFC 3339 with µs. Books keep exactly 10 levels a side (what the checksum
// covers), whatever depth is subscribed.
type krakenVenue struct{ profile }

var venueKraken = krakenVenue{profile{ex: "kraken", prem: -0.0005, paths: []string{"/v2"}, levels: 10, px: styleNatural, sz: styleFixed8, sep: '/'}}

func init() { register(venueKraken) }

// Kraken ticker variants.
const (
	krTickerTrades uint8 = iota
	krTickerBBO
)

var krakenHeartbeat = []byte(`{"channel":"heartbeat"}`)

func (krakenVenue) heartbeat() (time.Duration, byte, []byte) {
	return time.Second, opText, krakenHeartbeat
}
func (krakenVenue) newSession(c *conn, _ string) session { return &krakenSession{jsonSession{c: c}} }

// krakenChecksum is Kraken's book checksum: CRC32 (IEEE) of the top 10 asks (lowest
// first) then the top 10 bids (highest first), each level's price then qty text with
// the decimal point and leading zeros removed.
func krakenChecksum(b *book) uint32 {
	var buf [64]byte
	crc := ^uint32(0)
	for _, ask := range [2]bool{true, false} {
		s := *b.side(ask)
		for i := 0; i < len(s) && i < 10; i++ {
			crc = crcUpdate(crc, krakenDigits(b.appendPx(buf[:0], s[i].px, styleNatural)))
			crc = crcUpdate(crc, krakenDigits(b.appendSz(buf[:0], s[i].sz, styleFixed8)))
		}
	}
	return ^crc
}

// crcUpdate feeds p into a running, pre-inverted CRC32 (IEEE) one byte at a time:
// crc32.Update's buffer escapes, which would allocate per level.
func crcUpdate(crc uint32, p []byte) uint32 {
	for _, c := range p {
		crc = crc32.IEEETable[byte(crc)^c] ^ crc>>8
	}
	return crc
}

// krakenDigits removes the '.' and the leading zeros, in place.
func krakenDigits(t []byte) []byte {
	out := t[:0]
	for _, c := range t {
		if c == '.' || c == '0' && len(out) == 0 {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (krakenVenue) appendLevel(dst []byte, b *book, px, sz int64) []byte {
	dst = append(dst, `{"price":`...)
	dst = b.appendPx(dst, px, styleNatural)
	dst = append(dst, `,"qty":`...)
	dst = b.appendSz(dst, sz, styleFixed8)
	return append(dst, '}')
}

func (krakenVenue) head(dst []byte, b *book, channel, typ string) []byte {
	dst = append(dst, `{"channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","data":[{"symbol":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, '/')
	dst = append(dst, b.inst.quote...)
	return append(dst, '"')
}

func (v krakenVenue) book(dst []byte, b *book, ev *event, ns int64) []byte {
	typ := "snapshot"
	if ev != nil {
		typ = "update"
	}
	dst = v.head(dst, b, "book", typ)
	for _, ask := range [2]bool{false, true} {
		if ask {
			dst = append(dst, `,"asks":[`...)
		} else {
			dst = append(dst, `,"bids":[`...)
		}
		n := 0
		if ev != nil {
			for _, c := range ev.changes {
				if c.ask == ask {
					if n > 0 {
						dst = append(dst, ',')
					}
					n++
					dst = v.appendLevel(dst, b, c.px, c.sz)
				}
			}
		} else {
			for i, l := range *b.side(ask) {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = v.appendLevel(dst, b, l.px, l.sz)
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"checksum":`...)
	dst = strconv.AppendUint(dst, uint64(krakenChecksum(b)), 10)
	dst = append(dst, `,"timestamp":"`...)
	dst = appendRFC3339Micro(dst, ns)
	return append(dst, `"}]}`...)
}

func (v krakenVenue) ticker(dst []byte, b *book, typ string, ns int64) []byte {
	dst = v.head(dst, b, "ticker", typ)
	dst = b.appendTop(dst, false, `,"bid":`, `,"bid_qty":`, styleNatural, styleFixed8)
	dst = b.appendTop(dst, true, `,"ask":`, `,"ask_qty":`, styleNatural, styleFixed8)
	dst = append(dst, `,"last":`...)
	dst = b.appendPx(dst, b.lastPx, styleNatural)
	dst = append(dst, `,"volume":`...)
	dst = b.appendSz(dst, b.volume, styleFixed8)
	dst = b.appendPxEach(dst, b.lastPx, styleNatural, `,"vwap":`, `,"low":`, `,"high":`)
	dst = append(dst, `,"change":0.0,"change_pct":0.00,"timestamp":"`...)
	dst = appendRFC3339Micro(dst, ns)
	return append(dst, `"}]}`...)
}

func (v krakenVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kDelta:
		return v.book(dst, b, ev, ev.ns)
	case kTicker:
		if k.v == krTickerBBO && !ev.top || k.v == krTickerTrades && !ev.trade {
			return dst
		}
		return v.ticker(dst, b, "update", ev.ns)
	case kTrade:
		if !ev.trade {
			return dst
		}
		dst = v.head(dst, b, "trade", "update")
		dst = append(dst, `,"side":"`...)
		dst = append(dst, side(ev.takerBuy, "buy", "sell")...)
		dst = append(dst, `","price":`...)
		dst = b.appendPx(dst, ev.tradePx, styleNatural)
		dst = append(dst, `,"qty":`...)
		dst = b.appendSz(dst, ev.tradeSz, styleFixed8)
		dst = append(dst, `,"ord_type":"market","trade_id":`...)
		dst = appendUint(dst, ev.tradeID)
		dst = append(dst, `,"timestamp":"`...)
		dst = appendRFC3339Micro(dst, ev.ns)
		return append(dst, `"}]}`...)
	}
	return dst
}

func (v krakenVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kDelta:
		return v.book(dst, b, nil, now)
	case kTicker:
		return v.ticker(dst, b, "snapshot", now)
	}
	return dst
}

type krakenSession struct{ jsonSession }

func (s *krakenSession) open() {
	s.c.send([]byte(`{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":12893057198423418112,"system":"online","version":"2.0.10"}]}`))
}

func krakenTimes() string {
	t := string(appendRFC3339Micro(nil, time.Now().UnixNano()))
	return `"time_in":"` + t + `","time_out":"` + t + `"`
}

func (s *krakenSession) handle(msg []byte) {
	v := s.object(msg, func() []byte { return []byte(`{"error":"Malformed request","success":false,` + krakenTimes() + `}`) })
	if v == nil {
		return
	}
	method := string(v.GetStringBytes("method"))
	reqID := ""
	if r := v.Get("req_id"); r != nil {
		reqID = `,"req_id":` + r.String()
	}
	switch method {
	case "ping":
		s.c.send([]byte(`{"method":"pong"` + reqID + `,` + krakenTimes() + `}`))
		return
	case "subscribe", "unsubscribe":
	default:
		s.c.send([]byte(`{"error":"Method not found","method":"` + jsonSafe([]byte(method)) + `","success":false` + reqID + `,` + krakenTimes() + `}`))
		return
	}
	p := v.Get("params")
	ch := string(p.GetStringBytes("channel"))
	var k streamKey
	extra := ""
	switch ch {
	case "book":
		depth := 10
		if d := p.Get("depth"); d != nil {
			depth = d.GetInt()
		}
		if depth != 10 && depth != 25 && depth != 100 && depth != 500 && depth != 1000 {
			s.c.send([]byte(`{"error":"Subscription depth not supported","method":"` + method + `","success":false` + reqID + `,` + krakenTimes() + `}`))
			return
		}
		k = streamKey{kind: kDelta, depth: depth}
		extra = `,"depth":` + strconv.Itoa(depth) + `,"snapshot":true`
	case "ticker":
		k = streamKey{kind: kTicker, v: krTickerTrades}
		trig := "trades"
		if string(p.GetStringBytes("event_trigger")) == "bbo" {
			k.v, trig = krTickerBBO, "bbo"
		}
		extra = `,"event_trigger":"` + trig + `","snapshot":true`
	case "trade":
		k = streamKey{kind: kTrade}
		extra = `,"snapshot":false`
	default:
		s.c.send([]byte(`{"error":"Channel ` + jsonSafe([]byte(ch)) + ` not found","method":"` + method + `","success":false` + reqID + `,` + krakenTimes() + `}`))
		return
	}
	for _, sv := range p.GetArray("symbol") {
		sym := string(sv.GetStringBytes())
		if _, ok := venueKraken.instrument(sym); !ok {
			s.c.send([]byte(`{"error":"Currency pair not supported ` + jsonSafe([]byte(sym)) + `","method":"` + method +
				`","success":false,"symbol":"` + jsonSafe([]byte(sym)) + `"` + reqID + `,` + krakenTimes() + `}`))
			continue
		}
		s.c.send([]byte(`{"method":"` + method + `","result":{"channel":"` + ch + `"` + extra + `,"symbol":"` + sym + `"},"success":true` + reqID + `,` + krakenTimes() + `}`))
		s.c.setSubscribed(method == "subscribe", sym, k)
	}
}

// describe says what the frames of stream k become (events.go).
func (krakenVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap && k.kind == kDelta:
		return d.set(bodyBook, us, "", u("checksum", uint64(krakenChecksum(b))))
	case d.snap && k.kind == kTicker:
		return d.set(bodyBBO, us, "")
	case d.snap:
	case k.kind == kDelta:
		return d.set(bodyDelta, us, "", u("checksum", uint64(krakenChecksum(b))))
	case k.kind == kTicker && (k.v == krTickerBBO && d.top || k.v == krTickerTrades && d.trade):
		return d.set(bodyBBO, us, "")
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, us, idStr(ev.tradeID), u("trade_id", ev.tradeID))
	}
	return entry{}
}
