package sim

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bithumbVenue serves both Bithumb public WebSocket APIs:
//   - the legacy API at /pub/ws: {"status":"0000","resmsg":"Connected Successfully"} on
//     connect, {"type":"transaction"|"orderbookdepth"|"orderbooksnapshot"|"ticker",
//     "symbols":["BTC_KRW"]} filters answered by "Filter Registered Successfully" (or
//     status 5100); transaction (buySellGb "1" = a taker sell, "2" = a taker buy; contDtm
//     is KST local time with µs, no zone; no trade id), orderbookdepth (level changes, no
//     sequence), orderbooksnapshot (the whole top 30 on every change), ticker (KST date
//     and time). Text frames, numbers as strings, datetime in µs;
//   - the Upbit-compatible v2 API at /websocket/v1 (binary frames, QUOTE-BASE codes),
//     served by the Upbit protocol (upbitVenue).
//
// REST: GET /public/orderbook/BTC_KRW (legacy snapshot, no sequence).
type bithumbVenue struct{ profile }

var venueBithumb = bithumbVenue{profile{ex: "bithumb", prem: 0.027, paths: []string{"/pub/ws", "/websocket/v1"}, levels: 30, px: styleTrim, sz: styleTrim, sep: '_'}}

func init() { register(venueBithumb) }

// bithumbRESTLevel is a book level in Bithumb's REST orderbook, size first.
var bithumbRESTLevel = objectLevel{open: `{"quantity":"`, mid: `","price":"`, sizeFirst: true}

// bhLegacy marks legacy-API streams (streamKey.v); other variants are Upbit's.
const bhLegacy uint8 = 0x80

// bhUpbit writes the v2 API's frames: Upbit's protocol under Bithumb's name.
var bhUpbit = func() upbitVenue {
	v := venueUpbit
	v.ex = "bithumb"
	return v
}()

// binaryFrames: the v2 API (/websocket/v1) sends binary frames, as Upbit does.
func (bithumbVenue) binaryFrames(path string) bool { return strings.HasPrefix(path, "/websocket") }

// instrument accepts both the legacy BTC_KRW and the v2 KRW-BTC.
func (bithumbVenue) instrument(s string) (instrument, bool) {
	if strings.Contains(s, "_") {
		return splitUpper(s, '_', false)
	}
	return splitUpper(s, '-', true)
}

func (v bithumbVenue) newSession(c *conn, path string) session {
	if strings.HasPrefix(path, "/websocket") {
		return &upbitSession{jsonSession: jsonSession{c: c}, v: v}
	}
	return &bithumbSession{jsonSession{c: c}}
}

func (v bithumbVenue) rest(s *Server) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/public/orderbook/": func(w http.ResponseWriter, r *http.Request) {
		sym := strings.TrimPrefix(r.URL.Path, "/bithumb/public/orderbook/")
		var body []byte
		if !strings.Contains(sym, "_") || !s.restBook(v, sym, func(b *book) {
			s.logREST(b, 0, "")
			body = append(body, `{"status":"0000","data":{"timestamp":"`...)
			body = appendMs(body, time.Now().UnixNano())
			body = append(body, `","payment_currency":"`...)
			body = append(body, b.inst.quote...)
			body = append(body, `","order_currency":"`...)
			body = append(body, b.inst.base...)
			body = append(body, '"')
			for _, ask := range [2]bool{false, true} {
				body = append(body, side(ask, `,"asks":`, `,"bids":`)...)
				body = bithumbRESTLevel.appendSide(body, b, ask, false)
			}
			body = append(body, `}}`...)
		}) {
			writeJSON(w, http.StatusOK, `{"status":"5500","message":"Invalid Parameter"}`)
			return
		}
		writeJSON(w, http.StatusOK, string(body))
	}}
}

// appendKST appends ns as "2006-01-02 15:04:05.000000" in Korea Standard Time, no zone.
func appendKST(dst []byte, ns int64) []byte {
	return time.Unix(0, ns).In(kst).AppendFormat(dst, "2006-01-02 15:04:05.000000")
}

func appendBhSym(dst []byte, b *book) []byte {
	dst = append(dst, b.inst.base...)
	dst = append(dst, '_')
	return append(dst, b.inst.quote...)
}

func (v bithumbVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	if k.v&bhLegacy == 0 {
		return bhUpbit.encode(dst, b, ev, k)
	}
	switch k.kind {
	case kTrade:
		if !ev.trade {
			return dst
		}
		dst = append(dst, `{"type":"transaction","content":{"list":[{"buySellGb":"`...)
		dst = append(dst, side(ev.takerBuy, "2", "1")...)
		dst = append(dst, `","contPrice":"`...)
		dst = b.appendPx(dst, ev.tradePx, styleTrim)
		dst = append(dst, `","contQty":"`...)
		dst = b.appendSz(dst, ev.tradeSz, styleTrim)
		dst = append(dst, `","contAmt":"`...)
		amt := float64(ev.tradePx) * b.tick() * float64(ev.tradeSz) / math.Pow10(b.szScale)
		dst = strconv.AppendFloat(dst, amt, 'f', 4, 64)
		dst = append(dst, `","contDtm":"`...)
		dst = appendKST(dst, ev.ns)
		dst = append(dst, `","updn":"`...)
		dst = append(dst, side(ev.takerBuy, "up", "dn")...)
		dst = append(dst, `","symbol":"`...)
		dst = appendBhSym(dst, b)
		return append(dst, `"}]}}`...)
	case kDelta:
		dst = append(dst, `{"type":"orderbookdepth","content":{"list":[`...)
		for i, c := range ev.changes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"symbol":"`...)
			dst = appendBhSym(dst, b)
			dst = append(dst, `","orderType":"`...)
			dst = append(dst, side(c.ask, "ask", "bid")...)
			dst = append(dst, `","price":"`...)
			dst = b.appendPx(dst, c.px, styleTrim)
			dst = append(dst, `","quantity":"`...)
			dst = b.appendSz(dst, c.sz, styleTrim)
			dst = append(dst, `","total":"`...)
			dst = append(dst, side(c.sz > 0, "1", "0")...)
			dst = append(dst, `"}`...)
		}
		dst = append(dst, `],"datetime":"`...)
		dst = appendInt(dst, ev.ns/1000)
		return append(dst, `"}}`...)
	case kFull:
		return v.orderbook(dst, b, ev.ns)
	case kTicker:
		if !ev.trade {
			return dst
		}
		return v.ticker(dst, b, ev.ns)
	}
	return dst
}

func (bithumbVenue) orderbook(dst []byte, b *book, ns int64) []byte {
	dst = append(dst, `{"type":"orderbooksnapshot","content":{"symbol":"`...)
	dst = appendBhSym(dst, b)
	dst = append(dst, `","datetime":"`...)
	dst = appendInt(dst, ns/1000)
	dst = append(dst, `","asks":`...)
	dst = appendLevels(dst, b, true, 0, styleTrim, styleTrim)
	dst = append(dst, `,"bids":`...)
	dst = appendLevels(dst, b, false, 0, styleTrim, styleTrim)
	return append(dst, `}}`...)
}

func (bithumbVenue) ticker(dst []byte, b *book, ns int64) []byte {
	t := time.Unix(0, ns).In(kst)
	dst = append(dst, `{"type":"ticker","content":{"tickType":"24H","date":"`...)
	dst = t.AppendFormat(dst, "20060102")
	dst = append(dst, `","time":"`...)
	dst = t.AppendFormat(dst, "150405")
	for _, f := range [...]string{"openPrice", "closePrice", "lowPrice", "highPrice", "prevClosePrice"} {
		dst = append(dst, `","`...)
		dst = append(dst, f...)
		dst = append(dst, `":"`...)
		dst = b.appendPx(dst, b.lastPx, styleTrim)
	}
	dst = append(dst, `","value":"0","volume":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = append(dst, `","sellVolume":"0","buyVolume":"0","chgRate":"0","chgAmt":"0","volumePower":"100","symbol":"`...)
	dst = appendBhSym(dst, b)
	return append(dst, `"}}`...)
}

func (v bithumbVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	if k.v&bhLegacy == 0 {
		return bhUpbit.snapshot(dst, b, k)
	}
	if k.kind == kFull {
		return v.orderbook(dst, b, time.Now().UnixNano())
	}
	return dst
}

// bithumbTypes maps a legacy subscription's type to the kind of its stream.
var bithumbTypes = map[string]kind{"transaction": kTrade, "orderbookdepth": kDelta, "orderbooksnapshot": kFull, "ticker": kTicker}

type bithumbSession struct{ jsonSession }

func (s *bithumbSession) open() {
	s.c.send([]byte(`{"status":"0000","resmsg":"Connected Successfully"}`))
}

func (s *bithumbSession) handle(msg []byte) {
	bad := []byte(`{"status":"5100","resmsg":"Invalid Filter Syntax"}`)
	v := s.object(msg, func() []byte { return bad })
	if v == nil {
		return
	}
	kd, known := bithumbTypes[string(v.GetStringBytes("type"))]
	if !known {
		s.c.send(bad)
		return
	}
	k := streamKey{kind: kd, v: bhLegacy}
	syms := v.GetArray("symbols")
	if len(syms) == 0 {
		s.c.send(bad)
		return
	}
	for _, sv := range syms {
		sym := string(sv.GetStringBytes())
		if _, ok := venueBithumb.instrument(sym); !ok || !strings.Contains(sym, "_") {
			s.c.send(bad)
			return
		}
	}
	s.c.send([]byte(`{"status":"0000","resmsg":"Filter Registered Successfully"}`))
	for _, sv := range syms {
		_, _ = s.c.subscribe(string(sv.GetStringBytes()), k)
	}
}

// describe says what the frames of stream k become (events.go); the v2 API's are
// Upbit's.
func (bithumbVenue) describe(b *book, ev *event, k streamKey) entry {
	if k.v&bhLegacy == 0 {
		return bhUpbit.describe(b, ev, k) // the Upbit-compatible API
	}
	d := describing(ev)
	switch {
	case d.snap && k.kind == kFull:
		return d.set(bodyBook, us, "")
	case d.snap:
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, us, "")
	case k.kind == kDelta:
		return d.set(bodyDelta, us, "")
	case k.kind == kFull:
		return d.set(bodyBook, us, "")
	case k.kind == kTicker && d.trade:
		return d.set(bodyTicker, int64(1e9), "")
	}
	return entry{}
}
