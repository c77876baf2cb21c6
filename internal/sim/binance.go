package sim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// binanceVenue serves Binance spot: the combined-stream endpoint /stream (with
// ?streams=a/b or SUBSCRIBE frames, events wrapped as {"stream","data"}) and raw streams
// /ws and /ws/<stream>; streams <sym>@bookTicker, @trade, @aggTrade, @depth[@100ms]
// (diffs with U/u sharing the id space of bookTicker u and the REST snapshot's
// lastUpdateId) and @depth5/10/20 (partial books). The server pings every 20 s.
// REST: GET /api/v3/depth?symbol=BTCUSDT&limit=N. Numbers are strings with 8 decimals;
// times are ms; trade m = "the buyer is the maker" (a taker sell).
type binanceVenue struct{ profile }

var venueBinance = binanceVenue{profile{ex: "binance", paths: []string{"/stream", "/ws", "/ws/"}, px: styleFixed8, sz: styleFixed8}}

func init() { register(venueBinance) }

// Binance stream variants (streamKey.v): bit 0 = combined envelope, bits 1+ = flavour.
const (
	bnCombined  = 1
	bnAggTrade  = 2 << 1
	bnDepth100  = 1 << 1
	bnPartial   = 3 << 1
	bnFlavourMk = 0xfe
)

func (binanceVenue) serverPing() time.Duration { return 20 * time.Second }
func (binanceVenue) instrument(s string) (instrument, bool) {
	if s != strings.ToUpper(s) && s != strings.ToLower(s) {
		return instrument{}, false
	}
	return splitConcat(s)
}

func (v binanceVenue) rest(s *Server) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"/api/v3/depth": func(w http.ResponseWriter, r *http.Request) {
		sym := r.URL.Query().Get("symbol")
		limit, ok := queryLimit(w, r, 100, 5000, `{"code":-1100,"msg":"Illegal characters found in parameter 'limit'."}`)
		if !ok {
			return
		}
		var body []byte
		if sym == "" || sym != strings.ToUpper(sym) || !s.restBook(v, sym, func(b *book) {
			s.logREST(b, limit, "lastUpdateId")
			body = v.partial(body, b, limit)
		}) {
			writeJSON(w, http.StatusBadRequest, `{"code":-1121,"msg":"Invalid symbol."}`)
			return
		}
		writeJSON(w, http.StatusOK, string(body))
	}}
}

// queryLimit reads a REST request's "limit" parameter: def when absent, 1..max, else it
// answers 400 with bad and returns false.
func queryLimit(w http.ResponseWriter, r *http.Request, def, max int, bad string) (int, bool) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return def, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n <= 0 || n > max {
		writeJSON(w, http.StatusBadRequest, bad)
		return 0, false
	}
	return n, true
}

// writeJSON writes a JSON response.
func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// parseStream maps a stream name ("btcusdt@depth@100ms") to a symbol and a key.
func (binanceVenue) parseStream(name string, combined bool) (string, streamKey, bool) {
	sym, rest, ok := strings.Cut(name, "@")
	if !ok || sym != strings.ToLower(sym) {
		return "", streamKey{}, false
	}
	var k streamKey
	switch rest {
	case "bookTicker":
		k.kind = kBBO
	case "trade":
		k.kind = kTrade
	case "aggTrade":
		k = streamKey{kind: kTrade, v: bnAggTrade}
	case "depth":
		k.kind = kDelta
	case "depth@100ms":
		k = streamKey{kind: kDelta, v: bnDepth100}
	case "depth5", "depth10", "depth20", "depth5@100ms", "depth10@100ms", "depth20@100ms":
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rest, "depth"), "@100ms"))
		k = streamKey{kind: kFull, depth: n, v: bnPartial}
		if strings.HasSuffix(rest, "@100ms") {
			k.depth += 100 // remembered for the stream name only; depth%100 is used
		}
	default:
		return "", streamKey{}, false
	}
	if combined {
		k.v |= bnCombined
	}
	return strings.ToUpper(sym), k, true
}

// appendConcat appends BASEQUOTE.
func appendConcat(dst []byte, b *book) []byte {
	dst = append(dst, b.inst.base...)
	return append(dst, b.inst.quote...)
}

// appendStreamName appends the stream name of key k for inst ("btcusdt@depth@100ms").
func (binanceVenue) appendStreamName(dst []byte, inst instrument, k streamKey) []byte {
	dst = appendLower(dst, inst.base)
	dst = appendLower(dst, inst.quote)
	switch {
	case k.kind == kBBO:
		dst = append(dst, "@bookTicker"...)
	case k.kind == kTrade && k.v&bnFlavourMk == bnAggTrade:
		dst = append(dst, "@aggTrade"...)
	case k.kind == kTrade:
		dst = append(dst, "@trade"...)
	case k.kind == kDelta && k.v&bnFlavourMk == bnDepth100:
		dst = append(dst, "@depth@100ms"...)
	case k.kind == kDelta:
		dst = append(dst, "@depth"...)
	case k.kind == kFull:
		dst = append(dst, "@depth"...)
		dst = strconv.AppendInt(dst, int64(k.depth%100), 10)
		if k.depth > 100 {
			dst = append(dst, "@100ms"...)
		}
	}
	return dst
}

func (v binanceVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	combined := k.v&bnCombined != 0
	if combined {
		dst = append(dst, `{"stream":"`...)
		dst = v.appendStreamName(dst, b.inst, k)
		dst = append(dst, `","data":`...)
	}
	n := len(dst)
	switch k.kind {
	case kBBO:
		if !ev.top {
			return dst[:0]
		}
		dst = appendBinanceBBO(dst, b, ev)
	case kTrade:
		if !ev.trade {
			return dst[:0]
		}
		dst = appendBinanceTrade(dst, b, ev, k)
	case kDelta:
		dst = appendBinanceDelta(dst, b, ev)
	case kFull:
		dst = v.partial(dst, b, k.depth%100)
	}
	if len(dst) == n {
		return dst[:0]
	}
	if combined {
		dst = append(dst, '}')
	}
	return dst
}

// appendBinanceBBO appends a bookTicker object.
func appendBinanceBBO(dst []byte, b *book, ev *event) []byte {
	dst = append(dst, `{"u":`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, `,"s":"`...)
	dst = appendConcat(dst, b)
	dst = b.appendTop(dst, false, `","b":"`, `","B":"`, styleFixed8, styleFixed8)
	dst = b.appendTop(dst, true, `","a":"`, `","A":"`, styleFixed8, styleFixed8)
	dst = append(dst, `"}`...)
	return dst
}

// appendBinanceTrade appends a trade or aggTrade object.
func appendBinanceTrade(dst []byte, b *book, ev *event, k streamKey) []byte {
	agg := k.v&bnFlavourMk == bnAggTrade
	if agg {
		dst = append(dst, `{"e":"aggTrade","E":`...)
	} else {
		dst = append(dst, `{"e":"trade","E":`...)
	}
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"s":"`...)
	dst = appendConcat(dst, b)
	if agg {
		dst = append(dst, `","a":`...)
	} else {
		dst = append(dst, `","t":`...)
	}
	dst = appendUint(dst, ev.tradeID)
	dst = append(dst, `,"p":"`...)
	dst = b.appendPx(dst, ev.tradePx, styleFixed8)
	dst = append(dst, `","q":"`...)
	dst = b.appendSz(dst, ev.tradeSz, styleFixed8)
	dst = append(dst, '"')
	if agg {
		dst = append(dst, `,"f":`...)
		dst = appendUint(dst, ev.tradeID)
		dst = append(dst, `,"l":`...)
		dst = appendUint(dst, ev.tradeID)
	}
	dst = append(dst, `,"T":`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"m":`...)
	dst = strconv.AppendBool(dst, !ev.takerBuy) // the buyer was the maker: a taker sell
	dst = append(dst, `,"M":true}`...)
	return dst
}

// appendBinanceDelta appends a depthUpdate object (the event's changed levels).
func appendBinanceDelta(dst []byte, b *book, ev *event) []byte {
	dst = append(dst, `{"e":"depthUpdate","E":`...)
	dst = appendMs(dst, ev.ns)
	dst = append(dst, `,"s":"`...)
	dst = appendConcat(dst, b)
	dst = append(dst, `","U":`...)
	dst = appendUint(dst, ev.seqFirst)
	dst = append(dst, `,"u":`...)
	dst = appendUint(dst, ev.seq)
	dst = append(dst, `,"b":`...)
	dst = appendChanges(dst, b, ev, false, styleFixed8, styleFixed8, "")
	dst = append(dst, `,"a":`...)
	dst = appendChanges(dst, b, ev, true, styleFixed8, styleFixed8, "")
	dst = append(dst, '}')
	return dst
}

func (binanceVenue) partial(dst []byte, b *book, n int) []byte {
	dst = append(dst, `{"lastUpdateId":`...)
	dst = appendUint(dst, b.seq)
	dst = append(dst, `,"bids":`...)
	dst = appendLevels(dst, b, false, n, styleFixed8, styleFixed8)
	dst = append(dst, `,"asks":`...)
	dst = appendLevels(dst, b, true, n, styleFixed8, styleFixed8)
	return append(dst, '}')
}

// snapshot: Binance streams send no snapshot (books come from REST).
func (binanceVenue) snapshot(dst []byte, _ *book, _ streamKey) []byte { return dst }

type binanceSession struct {
	jsonSession
	v        binanceVenue
	combined bool
}

func (v binanceVenue) newSession(c *conn, path string) session {
	return &binanceSession{jsonSession: jsonSession{c: c}, v: v, combined: strings.HasPrefix(path, "/stream")}
}

// open subscribes the streams named in the URL (/stream?streams=a/b, /ws/a).
func (s *binanceSession) open() {
	var names []string
	p, q, _ := strings.Cut(s.c.path, "?")
	if strings.HasPrefix(p, "/ws/") {
		names = strings.Split(strings.TrimPrefix(p, "/ws/"), "/")
	}
	for _, kv := range strings.Split(q, "&") {
		if val, ok := strings.CutPrefix(kv, "streams="); ok {
			names = append(names, strings.Split(val, "/")...)
		}
	}
	for _, n := range names {
		if sym, k, ok := s.v.parseStream(n, s.combined); ok {
			_, _ = s.c.subscribe(sym, k)
		}
	}
}

func (s *binanceSession) handle(msg []byte) {
	v := s.object(msg, func() []byte {
		return []byte(`{"error":{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}}`)
	})
	if v == nil {
		return
	}
	id := v.Get("id")
	idText := "null"
	if id != nil {
		idText = id.String()
	}
	reply := func(body string) { s.c.send([]byte(body[:len(body)-1] + `,"id":` + idText + `}`)) }
	method := string(v.GetStringBytes("method"))
	switch method {
	case "SUBSCRIBE", "UNSUBSCRIBE":
		type sub struct {
			sym string
			k   streamKey
		}
		var subs []sub
		for _, p := range v.GetArray("params") {
			sym, k, ok := s.v.parseStream(string(p.GetStringBytes()), s.combined)
			if !ok {
				reply(`{"error":{"code":2,"msg":"Invalid request: unknown stream ` + strings.ReplaceAll(p.String(), `"`, "") + `"}}`)
				return
			}
			if _, ok := s.v.instrument(sym); !ok {
				reply(`{"error":{"code":2,"msg":"Invalid request: invalid symbol ` + sym + `"}}`)
				return
			}
			subs = append(subs, sub{sym, k})
		}
		reply(`{"result":null}`)
		for _, x := range subs {
			s.c.setSubscribed(method == "SUBSCRIBE", x.sym, x.k)
		}
	case "LIST_SUBSCRIPTIONS":
		reply(`{"result":[]}`)
	default:
		reply(`{"error":{"code":2,"msg":"Invalid request: unknown method"}}`)
	}
}

// describe says what the frames of stream k become (events.go).
func (binanceVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap:
	case k.kind == kBBO && d.top:
		return d.set(bodyBBO, 0, idStr(ev.seq), u("u", ev.seq))
	case k.kind == kTrade && d.trade:
		f := "t"
		if k.v&bnFlavourMk == bnAggTrade {
			f = "a"
		}
		return d.set(bodyTrade, ms, idStr(ev.tradeID), u(f, ev.tradeID))
	case k.kind == kDelta:
		return d.set(bodyDelta, ms, idStr(ev.seq), u("U", ev.seqFirst), u("u", ev.seq))
	case k.kind == kFull:
		d.e.depth = k.depth % 100
		return d.set(bodyBook, 0, idStr(b.seq), u("lastUpdateId", b.seq))
	}
	return entry{}
}
