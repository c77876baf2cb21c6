package sim

import (
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// korbitVenue serves Korbit's v2 public WebSocket at /v2/public: requests are a JSON
// array of {"requestId","method":"subscribe"|"unsubscribe","type","symbols":["btc_krw"]},
// acknowledged {"status":"success","requestId":N} (only when requestId is set) or
// {"status":"fail","code","message","requestId"}; data frames {"symbol","timestamp",
// "type","snapshot","data"}: orderbook (the whole top 30 on every change, the first one
// snapshot:true), trade (an array; isBuyerTaker; tradeId), ticker (best prices without
// sizes). Symbols are lower case. The server pings every 30 s. Times in ms. This shape
// follows the adapter's sources (third-party quotes of the Digital X v2 reference) and is
// unverified against live traffic.
type korbitVenue struct{ profile }

var venueKorbit = korbitVenue{profile{ex: "korbit", prem: 0.023, paths: []string{"/v2/public"}, levels: 30, px: styleTrim, sz: styleTrim, sep: '_'}}

func init() { register(venueKorbit) }

// korbitLevel is a book level in Korbit's orderbook data.
var korbitLevel = objectLevel{open: `{"price":"`, mid: `","qty":"`}

func (korbitVenue) serverPing() time.Duration    { return 30 * time.Second }
func (v korbitVenue) symbol(i instrument) string { return strings.ToLower(v.profile.symbol(i)) }
func (v korbitVenue) instrument(s string) (instrument, bool) {
	if s != strings.ToLower(s) {
		return instrument{}, false
	}
	return splitSep(s, v.sep, false)
}
func (korbitVenue) newSession(c *conn, _ string) session { return &korbitSession{jsonSession{c: c}} }

func (korbitVenue) head(dst []byte, b *book, typ string, ns int64, snapshot bool) []byte {
	dst = append(dst, `{"symbol":"`...)
	dst = appendLower(dst, b.inst.base)
	dst = append(dst, '_')
	dst = appendLower(dst, b.inst.quote)
	dst = append(dst, `","timestamp":`...)
	dst = appendMs(dst, ns)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","snapshot":`...)
	if snapshot {
		dst = append(dst, "true"...)
	} else {
		dst = append(dst, "false"...)
	}
	return append(dst, `,"data":`...)
}

func (v korbitVenue) orderbook(dst []byte, b *book, ns int64, snapshot bool) []byte {
	dst = v.head(dst, b, "orderbook", ns, snapshot)
	dst = append(dst, `{"timestamp":`...)
	dst = appendMs(dst, ns)
	for _, ask := range [2]bool{true, false} {
		dst = append(dst, side(ask, `,"asks":`, `,"bids":`)...)
		dst = korbitLevel.appendSide(dst, b, ask, false)
	}
	return append(dst, `}}`...)
}

func (v korbitVenue) ticker(dst []byte, b *book, ns int64, snapshot bool) []byte {
	dst = v.head(dst, b, "ticker", ns, snapshot)
	for i, f := range [...]string{"open", "high", "low", "close", "prevClose"} {
		dst = append(dst, side(i == 0, `{"`, `","`)...)
		dst = append(dst, f...)
		dst = append(dst, `":"`...)
		dst = b.appendPx(dst, b.lastPx, styleTrim)
	}
	dst = append(dst, `","priceChange":"0","priceChangePercent":"0","volume":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = append(dst, `","quoteVolume":"0","bestAskPrice":"`...)
	dst = b.appendPx(dst, b.asks[0].px, styleTrim)
	dst = append(dst, `","bestBidPrice":"`...)
	dst = b.appendPx(dst, b.bids[0].px, styleTrim)
	dst = append(dst, `","lastTradedAt":`...)
	dst = appendMs(dst, ns)
	return append(dst, `}}`...)
}

func (v korbitVenue) trade(dst []byte, b *book, id uint64, px, sz int64, takerBuy bool, ns int64, snapshot bool) []byte {
	dst = v.head(dst, b, "trade", ns, snapshot)
	dst = append(dst, `[{"timestamp":`...)
	dst = appendMs(dst, ns)
	dst = append(dst, `,"price":"`...)
	dst = b.appendPx(dst, px, styleTrim)
	dst = append(dst, `","qty":"`...)
	dst = b.appendSz(dst, sz, styleTrim)
	dst = append(dst, `","isBuyerTaker":`...)
	dst = append(dst, side(takerBuy, "true", "false")...)
	dst = append(dst, `,"tradeId":`...)
	dst = appendUint(dst, id)
	return append(dst, `}]}`...)
}

func (v korbitVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, ev.ns, false)
	case kTrade:
		if !ev.trade {
			return dst
		}
		return v.trade(dst, b, ev.tradeID, ev.tradePx, ev.tradeSz, ev.takerBuy, ev.ns, false)
	case kTicker:
		if !ev.trade && !ev.top {
			return dst
		}
		return v.ticker(dst, b, ev.ns, false)
	}
	return dst
}

func (v korbitVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, now, true)
	case kTrade:
		if b.lastSz > 0 {
			return v.trade(dst, b, b.tradeID, b.lastPx, b.lastSz, b.lastBuy, now, true)
		}
	case kTicker:
		return v.ticker(dst, b, now, true)
	}
	return dst
}

// korbitTypes maps a subscription's type to the kind of its stream.
var korbitTypes = map[string]kind{"orderbook": kFull, "trade": kTrade, "ticker": kTicker}

type korbitSession struct{ jsonSession }

func (s *korbitSession) handle(msg []byte) {
	v, err := s.p.ParseBytes(msg)
	if err != nil {
		s.c.send([]byte(`{"status":"fail","message":"invalid_format"}`))
		return
	}
	reqs := []*fastjson.Value{v}
	if v.Type() == fastjson.TypeArray {
		reqs = v.GetArray()
	}
	for _, r := range reqs {
		if r.Type() != fastjson.TypeObject {
			s.c.send([]byte(`{"status":"fail","message":"invalid_format"}`))
			return
		}
		id := ""
		if x := r.Get("requestId"); x != nil {
			id = `,"requestId":` + x.String()
		}
		fail := func(code, m string) {
			s.c.send([]byte(`{"status":"fail","code":"` + code + `","message":"` + jsonSafe([]byte(m)) + `"` + id + `}`))
		}
		method := string(r.GetStringBytes("method"))
		if method != "subscribe" && method != "unsubscribe" {
			fail("INVALID_REQUEST", "invalid_method")
			continue
		}
		kd, known := korbitTypes[string(r.GetStringBytes("type"))]
		if !known {
			fail("INVALID_REQUEST", "invalid_type")
			continue
		}
		k := streamKey{kind: kd}
		var syms []string
		ok := true
		for _, sv := range r.GetArray("symbols") {
			sym := string(sv.GetStringBytes())
			if _, valid := venueKorbit.instrument(sym); !valid {
				fail("INVALID_SYMBOL", "The symbol does not exist ("+sym+")")
				ok = false
				break
			}
			syms = append(syms, sym)
		}
		if !ok {
			continue
		}
		if len(syms) == 0 {
			fail("INVALID_REQUEST", "invalid_symbols")
			continue
		}
		if id != "" {
			s.c.send([]byte(`{"status":"success"` + id + `}`))
		}
		for _, sym := range syms {
			s.c.setSubscribed(method == "subscribe", sym, k)
		}
	}
}

// describe says what the frames of stream k become (events.go).
func (korbitVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap && k.kind == kFull:
		return d.set(bodyBook, ms, "")
	case d.snap && k.kind == kTicker:
		return d.set(bodyTicker, ms, "")
	case d.snap && k.kind == kTrade && b.lastSz > 0:
		return d.set(bodyTrade, ms, idStr(b.tradeID), u("tradeId", b.tradeID))
	case d.snap:
	case k.kind == kFull:
		return d.set(bodyBook, ms, "")
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, ms, idStr(ev.tradeID), u("tradeId", ev.tradeID))
	case k.kind == kTicker && (d.trade || d.top):
		return d.set(bodyTicker, ms, "")
	}
	return entry{}
}
