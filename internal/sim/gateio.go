package sim

import (
	"net/http"
	"strconv"
	"time"
)

// gateVenue serves Gate v4 spot: /ws/v4/, {"time","channel","event":"subscribe",
// "payload":[...]} answered by {"...","event":"subscribe","result":{"status":"success"}};
// channels spot.book_ticker (u shares the order-book id space), spot.trades (side = taker),
// spot.order_book_update (U/u diffs chained to the REST snapshot id), spot.order_book
// (limited full books), spot.tickers; spot.ping → spot.pong. REST:
// GET /api/v4/spot/order_book?currency_pair=BTC_USDT&limit=N&with_id=true. Envelope time
// in s, inner t in ms.
type gateVenue struct{ profile }

var venueGate = gateVenue{profile{ex: "gateio", prem: 0.0004, paths: []string{"/ws/v4/"}, px: styleTrim, sz: styleTrim, sep: '_'}}

func init() { register(venueGate) }

func (gateVenue) newSession(c *conn, _ string) session { return &gateSession{jsonSession{c: c}} }
func (gateVenue) snapshot(dst []byte, _ *book, _ streamKey) []byte {
	return dst // books come from REST; spot.order_book pushes whole books anyway
}

func (v gateVenue) rest(s *Server) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/api/v4/spot/order_book": func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sym := q.Get("currency_pair")
		limit, ok := queryLimit(w, r, 10, 1000, `{"label":"INVALID_PARAM_VALUE","message":"invalid limit"}`)
		if !ok {
			return
		}
		withID := q.Get("with_id") == "true"
		var body []byte
		if !s.restBook(v, sym, func(b *book) {
			idName := ""
			if withID {
				idName = "id"
			}
			s.logREST(b, limit, idName)
			body = append(body, '{')
			if withID {
				body = append(body, `"id":`...)
				body = appendUint(body, b.seq)
				body = append(body, ',')
			}
			now := time.Now().UnixNano()
			body = append(body, `"current":`...)
			body = appendMs(body, now)
			body = append(body, `,"update":`...)
			body = appendMs(body, now)
			body = append(body, `,"asks":`...)
			body = appendLevels(body, b, true, limit, styleTrim, styleTrim)
			body = append(body, `,"bids":`...)
			body = appendLevels(body, b, false, limit, styleTrim, styleTrim)
			body = append(body, '}')
		}) {
			writeJSON(w, http.StatusBadRequest, `{"label":"INVALID_CURRENCY_PAIR","message":"Invalid currency pair `+jsonSafe([]byte(sym))+`"}`)
			return
		}
		writeJSON(w, http.StatusOK, string(body))
	}}
}

func gateChannelName(k streamKey) string {
	switch k.kind {
	case kBBO:
		return "spot.book_ticker"
	case kTrade:
		return "spot.trades"
	case kDelta:
		return "spot.order_book_update"
	case kFull:
		return "spot.order_book"
	}
	return "spot.tickers"
}

func (gateVenue) head(dst []byte, k streamKey, ns int64) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendInt(dst, ns/1e9)
	dst = append(dst, `,"time_ms":`...)
	dst = appendMs(dst, ns)
	dst = append(dst, `,"channel":"`...)
	dst = append(dst, gateChannelName(k)...)
	return append(dst, `","event":"update","result":`...)
}

func appendGateSym(dst []byte, b *book) []byte {
	dst = append(dst, b.inst.base...)
	dst = append(dst, '_')
	return append(dst, b.inst.quote...)
}

func (v gateVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kBBO:
		if !ev.top {
			return dst
		}
		return appendGateBBO(v.head(dst, k, ev.ns), b, ev)
	case kTrade:
		if !ev.trade {
			return dst
		}
		return appendGateTrade(v.head(dst, k, ev.ns), b, ev)
	case kDelta:
		return appendGateDelta(v.head(dst, k, ev.ns), b, ev)
	case kFull:
		return appendGateFull(v.head(dst, k, ev.ns), b, ev, k.depth)
	case kTicker:
		if !ev.trade && !ev.top {
			return dst
		}
		return appendGateTicker(v.head(dst, k, ev.ns), b)
	}
	return dst
}

// appendGateBBO appends the result object of the book ticker, closing the envelope.
func appendGateBBO(dst []byte, b *book, ev *event) []byte {
	dst = append(dst, `{"t":`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"u":`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, `,"s":"`...)
	dst = appendGateSym(dst, b)
	dst = b.appendTop(dst, false, `","b":"`, `","B":"`, styleTrim, styleTrim)
	dst = b.appendTop(dst, true, `","a":"`, `","A":"`, styleTrim, styleTrim)
	return append(dst, `"}}`...)
}

// appendGateTrade appends the result object of one trade, closing the envelope.
func appendGateTrade(dst []byte, b *book, ev *event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendUint(dst, ev.tradeID)
	dst = append(dst, `,"create_time":`...)
	dst = appendInt(dst, ev.ns/1e9)
	dst = append(dst, `,"create_time_ms":"`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, ev.ns/1e5%10, 10)
	dst = append(dst, `","side":"`...)
	dst = append(dst, side(ev.takerBuy, "buy", "sell")...)
	dst = append(dst, `","currency_pair":"`...)
	dst = appendGateSym(dst, b)
	dst = append(dst, `","amount":"`...)
	dst = b.appendSz(dst, ev.tradeSz, styleTrim)
	dst = append(dst, `","price":"`...)
	dst = b.appendPx(dst, ev.tradePx, styleTrim)
	dst = append(dst, `","range":"`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, '-')
	dst = appendUint(dst, ev.seq)
	return append(dst, `"}}`...)
}

// appendGateDelta appends the result object of a depth update (the event's changed levels), closing the envelope.
func appendGateDelta(dst []byte, b *book, ev *event) []byte {
	dst = append(dst, `{"t":`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"e":"depthUpdate","E":`...)
	dst = appendInt(dst, ev.ns/1e9)
	dst = append(dst, `,"s":"`...)
	dst = appendGateSym(dst, b)
	dst = append(dst, `","U":`...)
	dst = appendUint(dst, ev.seqFirst)
	dst = append(dst, `,"u":`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, `,"b":`...)
	dst = appendChanges(dst, b, ev, false, styleTrim, styleTrim, "")
	dst = append(dst, `,"a":`...)
	dst = appendChanges(dst, b, ev, true, styleTrim, styleTrim, "")
	return append(dst, `}}`...)
}

// appendGateFull appends the result object of the top depth levels (0: all), closing the envelope.
func appendGateFull(dst []byte, b *book, ev *event, depth int) []byte {
	dst = append(dst, `{"t":`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"lastUpdateId":`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, `,"s":"`...)
	dst = appendGateSym(dst, b)
	dst = append(dst, `","bids":`...)
	dst = appendLevels(dst, b, false, depth, styleTrim, styleTrim)
	dst = append(dst, `,"asks":`...)
	dst = appendLevels(dst, b, true, depth, styleTrim, styleTrim)
	return append(dst, `}}`...)
}

// appendGateTicker appends the result object of the ticker, closing the envelope.
func appendGateTicker(dst []byte, b *book) []byte {
	dst = append(dst, `{"currency_pair":"`...)
	dst = appendGateSym(dst, b)
	dst = append(dst, `","last":"`...)
	dst = b.appendPx(dst, b.lastPx, styleTrim)
	dst = append(dst, `","lowest_ask":"`...)
	dst = b.appendPx(dst, b.asks[0].px, styleTrim)
	dst = append(dst, `","highest_bid":"`...)
	dst = b.appendPx(dst, b.bids[0].px, styleTrim)
	dst = append(dst, `","change_percentage":"0","base_volume":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = append(dst, `","quote_volume":"0`...)
	dst = b.appendPxEach(dst, b.lastPx, styleTrim, `","high_24h":"`, `","low_24h":"`)
	return append(dst, `"}}`...)
}

type gateSession struct{ jsonSession }

func (s *gateSession) handle(msg []byte) {
	v := s.object(msg, func() []byte {
		return []byte(`{"time":` + strconv.FormatInt(time.Now().Unix(), 10) + `,"channel":"","event":"","error":{"code":1,"message":"invalid argument provided"},"result":null}`)
	})
	if v == nil {
		return
	}
	ch := string(v.GetStringBytes("channel"))
	ev := string(v.GetStringBytes("event"))
	now := time.Now()
	idPart := ""
	if id := v.Get("id"); id != nil {
		idPart = `,"id":` + id.String()
	}
	head := `{"time":` + strconv.FormatInt(now.Unix(), 10) + `,"time_ms":` + strconv.FormatInt(now.UnixMilli(), 10) +
		idPart + `,"conn_id":"sim0001","trace_id":"sim0001","channel":"` + jsonSafe([]byte(ch)) + `","event":"` + jsonSafe([]byte(ev)) + `"`
	if ch == "spot.ping" {
		s.c.send([]byte(`{"time":` + strconv.FormatInt(now.Unix(), 10) + `,"time_ms":` + strconv.FormatInt(now.UnixMilli(), 10) +
			idPart + `,"conn_id":"sim0001","trace_id":"sim0001","channel":"spot.pong","event":"","result":null}`))
		return
	}
	if ev != "subscribe" && ev != "unsubscribe" {
		s.c.send([]byte(head + `,"error":{"code":2,"message":"unknown event"},"result":null}`))
		return
	}
	payload := v.GetArray("payload")
	var k streamKey
	var syms []string
	switch ch {
	case "spot.book_ticker", "spot.trades", "spot.tickers":
		k.kind = map[string]kind{"spot.book_ticker": kBBO, "spot.trades": kTrade, "spot.tickers": kTicker}[ch]
		for _, p := range payload {
			syms = append(syms, string(p.GetStringBytes()))
		}
	case "spot.order_book_update":
		k.kind = kDelta
		if len(payload) > 0 {
			syms = append(syms, string(payload[0].GetStringBytes()))
		}
	case "spot.order_book":
		k.kind = kFull
		k.depth = 20
		if len(payload) > 1 {
			if n, err := strconv.Atoi(string(payload[1].GetStringBytes())); err == nil && n > 0 {
				k.depth = n
			}
		}
		if len(payload) > 0 {
			syms = append(syms, string(payload[0].GetStringBytes()))
		}
	default:
		s.c.send([]byte(head + `,"error":{"code":2,"message":"unknown channel ` + jsonSafe([]byte(ch)) + `"},"result":null}`))
		return
	}
	for _, sym := range syms {
		if _, ok := venueGate.instrument(sym); !ok {
			s.c.send([]byte(head + `,"error":{"code":2,"message":"unknown currency pair ` + jsonSafe([]byte(sym)) + `"},"result":null}`))
			return
		}
	}
	if len(syms) == 0 {
		s.c.send([]byte(head + `,"error":{"code":2,"message":"empty payload"},"result":null}`))
		return
	}
	s.c.send([]byte(head + `,"payload":` + v.Get("payload").String() + `,"result":{"status":"success"}}`))
	for _, sym := range syms {
		s.c.setSubscribed(ev == "subscribe", sym, k)
	}
}

// describe says what the frames of stream k become (events.go).
func (gateVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap:
	case k.kind == kBBO && d.top:
		return d.set(bodyBBO, ms, idStr(ev.seq), u("u", ev.seq))
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, ms/10, idStr(ev.tradeID), u("id", ev.tradeID))
	case k.kind == kDelta:
		return d.set(bodyDelta, ms, idStr(ev.seq), u("U", ev.seqFirst), u("u", ev.seq))
	case k.kind == kFull:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, idStr(ev.seq), u("lastUpdateId", ev.seq))
	case k.kind == kTicker && (d.trade || d.top):
		return d.set(bodyTicker, 0, "")
	}
	return entry{}
}
