package sim

import (
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// upbitVenue serves Upbit's quotation WebSocket at /websocket/v1 (and, as part of
// bithumbVenue, Bithumb's Upbit-compatible v2 API): one JSON array per request, a ticket,
// type objects {"type":"trade"|"orderbook"|"ticker","codes":["KRW-BTC",...]} and a format
// (DEFAULT or SIMPLE); a new request replaces the connection's subscriptions. Data frames
// are BINARY WebSocket messages of UTF-8 JSON with JSON numbers: orderbook (the whole top
// N on every change, N = the ".N" code suffix or 30; no sequence), trade (ask_bid ASK =
// the taker sold; sequential_id), ticker (last trade, no BBO). Codes are QUOTE-BASE. The
// text "PING" is answered by {"status":"UP"}. Times in ms.
type upbitVenue struct{ profile }

var venueUpbit = upbitVenue{profile{ex: "upbit", prem: 0.025, paths: []string{"/websocket/v1"}, levels: upbitMaxUnits, px: stylePoint0, sz: stylePoint0, sep: '-', quoteFirst: true}}

func init() { register(venueUpbit) }

// Upbit stream variants (bit flags).
const (
	upSimple   uint8 = 1 // SIMPLE format keys
	upRealtime uint8 = 2 // is_only_realtime: no snapshot on subscribe
)

// upbitMaxUnits is the default and largest number of orderbook units.
const upbitMaxUnits = 30

func (upbitVenue) binaryFrames(string) bool { return true }
func (upbitVenue) heartbeat() (time.Duration, byte, []byte) {
	return 0, 0, nil
}
func (v upbitVenue) newSession(c *conn, _ string) session {
	return &upbitSession{jsonSession: jsonSession{c: c}, v: v}
}

// upKeys names the fields of one format.
type upKeys struct {
	typ, code, ts, totalAsk, totalBid, units, ap, bp, as, bs, stream, level,
	tradeDate, tradeTime, tradeTs, price, volume, askBid, prevClose, change, changePrice, seqID,
	bestAP, bestAS, bestBP, bestBS, open, high, low, accVol string
}

var (
	upDefault = upKeys{"type", "code", "timestamp", "total_ask_size", "total_bid_size", "orderbook_units",
		"ask_price", "bid_price", "ask_size", "bid_size", "stream_type", "level",
		"trade_date", "trade_time", "trade_timestamp", "trade_price", "trade_volume", "ask_bid",
		"prev_closing_price", "change", "change_price", "sequential_id",
		"best_ask_price", "best_ask_size", "best_bid_price", "best_bid_size",
		"opening_price", "high_price", "low_price", "acc_trade_volume"}
	upSimpleKeys = upKeys{"ty", "cd", "tms", "tas", "tbs", "obu", "ap", "bp", "as", "bs", "st", "lv",
		"td", "ttm", "ttms", "tp", "tv", "ab", "pcp", "c", "cp", "sid",
		"bap", "bas", "bbp", "bbs", "op", "hp", "lp", "atv"}
)

// upField appends ,"key": (or "key": when first).
func upField(dst []byte, key string, first bool) []byte {
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func (upbitVenue) head(dst []byte, b *book, k *upKeys, typ string, ns int64) []byte {
	dst = append(dst, '{')
	dst = upField(dst, k.typ, true)
	dst = appendQuoted(dst, typ)
	dst = upField(dst, k.code, false)
	dst = append(dst, '"')
	dst = append(dst, b.inst.quote...)
	dst = append(dst, '-')
	dst = append(dst, b.inst.base...)
	dst = append(dst, '"')
	dst = upField(dst, k.ts, false)
	return appendMs(dst, ns)
}

func streamType(snapshot bool) string {
	if snapshot {
		return "SNAPSHOT"
	}
	return "REALTIME"
}

func (v upbitVenue) orderbook(dst []byte, b *book, sk streamKey, ns int64, snapshot bool) []byte {
	k := &upDefault
	if sk.v&upSimple != 0 {
		k = &upSimpleKeys
	}
	n := min(sk.depth, len(b.bids))
	if n <= 0 {
		n = len(b.bids)
	}
	dst = v.head(dst, b, k, "orderbook", ns)
	var ta, tb int64
	for i := 0; i < n; i++ {
		ta += b.asks[i].sz
		tb += b.bids[i].sz
	}
	dst = upField(dst, k.totalAsk, false)
	dst = b.appendSz(dst, ta, stylePoint0)
	dst = upField(dst, k.totalBid, false)
	dst = b.appendSz(dst, tb, stylePoint0)
	dst = upField(dst, k.units, false)
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		dst = upField(dst, k.ap, true)
		dst = b.appendPx(dst, b.asks[i].px, stylePoint0)
		dst = upField(dst, k.bp, false)
		dst = b.appendPx(dst, b.bids[i].px, stylePoint0)
		dst = upField(dst, k.as, false)
		dst = b.appendSz(dst, b.asks[i].sz, stylePoint0)
		dst = upField(dst, k.bs, false)
		dst = b.appendSz(dst, b.bids[i].sz, stylePoint0)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	dst = upField(dst, k.stream, false)
	dst = appendQuoted(dst, streamType(snapshot))
	dst = upField(dst, k.level, false)
	return append(dst, "0}"...)
}

func (v upbitVenue) trade(dst []byte, b *book, sk streamKey, id uint64, px, sz int64, takerBuy bool, ns int64, snapshot bool) []byte {
	k := &upDefault
	if sk.v&upSimple != 0 {
		k = &upSimpleKeys
	}
	dst = v.head(dst, b, k, "trade", ns)
	t := time.Unix(0, ns).UTC()
	dst = upField(dst, k.tradeDate, false)
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02")
	dst = append(dst, '"')
	dst = upField(dst, k.tradeTime, false)
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "15:04:05")
	dst = append(dst, '"')
	dst = upField(dst, k.tradeTs, false)
	dst = appendMs(dst, ns)
	dst = upField(dst, k.price, false)
	dst = b.appendPx(dst, px, stylePoint0)
	dst = upField(dst, k.volume, false)
	dst = b.appendSz(dst, sz, stylePoint0)
	dst = upField(dst, k.askBid, false)
	dst = appendQuoted(dst, side(takerBuy, "BID", "ASK"))
	dst = upField(dst, k.prevClose, false)
	dst = b.appendPx(dst, px, stylePoint0)
	dst = upField(dst, k.change, false)
	dst = append(dst, `"EVEN"`...)
	dst = upField(dst, k.changePrice, false)
	dst = append(dst, "0.0"...)
	dst = upField(dst, k.seqID, false)
	dst = appendUint(dst, id)
	dst = upField(dst, k.bestAP, false)
	dst = b.appendPx(dst, b.asks[0].px, stylePoint0)
	dst = upField(dst, k.bestAS, false)
	dst = b.appendSz(dst, b.asks[0].sz, stylePoint0)
	dst = upField(dst, k.bestBP, false)
	dst = b.appendPx(dst, b.bids[0].px, stylePoint0)
	dst = upField(dst, k.bestBS, false)
	dst = b.appendSz(dst, b.bids[0].sz, stylePoint0)
	dst = upField(dst, k.stream, false)
	dst = appendQuoted(dst, streamType(snapshot))
	return append(dst, '}')
}

func (v upbitVenue) ticker(dst []byte, b *book, sk streamKey, ns int64, snapshot bool) []byte {
	k := &upDefault
	if sk.v&upSimple != 0 {
		k = &upSimpleKeys
	}
	dst = v.head(dst, b, k, "ticker", ns)
	for _, f := range [...]string{k.open, k.high, k.low, k.price, k.prevClose} {
		dst = upField(dst, f, false)
		dst = b.appendPx(dst, b.lastPx, stylePoint0)
	}
	dst = upField(dst, k.change, false)
	dst = append(dst, `"EVEN"`...)
	dst = upField(dst, k.changePrice, false)
	dst = append(dst, "0.0"...)
	dst = upField(dst, k.volume, false)
	dst = b.appendSz(dst, b.lastSz, stylePoint0)
	dst = upField(dst, k.accVol, false)
	dst = b.appendSz(dst, b.volume, stylePoint0)
	dst = upField(dst, k.tradeTs, false)
	dst = appendMs(dst, ns)
	dst = upField(dst, k.askBid, false)
	dst = append(dst, `"BID"`...)
	dst = upField(dst, k.stream, false)
	dst = appendQuoted(dst, streamType(snapshot))
	return append(dst, '}')
}

func (v upbitVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, k, ev.ns, false)
	case kTrade:
		if !ev.trade {
			return dst
		}
		return v.trade(dst, b, k, ev.tradeID, ev.tradePx, ev.tradeSz, ev.takerBuy, ev.ns, false)
	case kTicker:
		if !ev.trade {
			return dst
		}
		return v.ticker(dst, b, k, ev.ns, false)
	}
	return dst
}

func (v upbitVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	if k.v&upRealtime != 0 {
		return dst
	}
	now := time.Now().UnixNano()
	switch k.kind {
	case kFull:
		return v.orderbook(dst, b, k, now, true)
	case kTrade:
		return v.trade(dst, b, k, b.tradeID, b.lastPx, b.lastSz, b.lastBuy, now, true)
	case kTicker:
		return v.ticker(dst, b, k, now, true)
	}
	return dst
}

// upbitSession is an Upbit-protocol connection (Upbit, Bithumb v2). variant is OR-ed
// into every stream key (Bithumb tells its two APIs apart by it).
// upbitTypes maps a request's type object to the kind of its stream.
var upbitTypes = map[string]kind{"trade": kTrade, "orderbook": kFull, "ticker": kTicker}

type upbitSession struct {
	jsonSession
	v       venue
	variant uint8
	subs    []upSub
}

type upSub struct {
	code string
	k    streamKey
}

func (s *upbitSession) fail(name, message string) {
	s.c.sendOp(opBinary, []byte(`{"error":{"name":"`+name+`","message":"`+jsonSafe([]byte(message))+`"}}`))
}

func (s *upbitSession) handle(msg []byte) {
	if string(msg) == "PING" {
		s.c.send([]byte(`{"status":"UP"}`))
		return
	}
	v, err := s.p.ParseBytes(msg)
	if err != nil || v.Type() != fastjson.TypeArray {
		s.fail("WRONG_FORMAT", "request must be a JSON array")
		return
	}
	var ticket bool
	format := uint8(0)
	var subs []upSub
	for _, o := range v.GetArray() {
		switch {
		case o.Exists("ticket"):
			ticket = true
		case o.Exists("format"):
			switch string(o.GetStringBytes("format")) {
			case "SIMPLE":
				format = upSimple
			case "DEFAULT", "":
			default:
				s.fail("WRONG_FORMAT", "unsupported format")
				return
			}
		case o.Exists("type"):
			var ok bool
			if subs, ok = s.typeSubs(o, subs); !ok {
				return
			}
		}
	}
	if !ticket {
		s.fail("NO_TICKET", "ticket field is missing")
		return
	}
	if len(subs) == 0 {
		s.fail("NO_TYPE", "type field is missing")
		return
	}
	for _, old := range s.subs { // a new request replaces the subscriptions
		s.c.unsubscribe(old.code, old.k)
	}
	s.subs = s.subs[:0]
	for _, x := range subs {
		x.k.v |= format | s.variant
		_, _ = s.c.subscribe(x.code, x.k)
		s.subs = append(s.subs, x)
	}
}

// typeSubs appends the subscriptions of one {"type":...,"codes":[...]} object to subs;
// false when it answered an error instead.
func (s *upbitSession) typeSubs(o *fastjson.Value, subs []upSub) ([]upSub, bool) {
	kd, known := upbitTypes[string(o.GetStringBytes("type"))]
	if !known {
		s.fail("INVALID_PARAM", "unknown type "+string(o.GetStringBytes("type")))
		return subs, false
	}
	k := streamKey{kind: kd, bin: true}
	if o.GetBool("is_only_realtime") || o.GetBool("isOnlyRealtime") {
		k.v |= upRealtime
	}
	codes := o.GetArray("codes")
	if len(codes) == 0 {
		s.fail("NO_CODES", "codes field is missing")
		return subs, false
	}
	for _, c := range codes {
		sub, ok := s.codeSub(string(c.GetStringBytes()), k)
		if !ok {
			return subs, false
		}
		subs = append(subs, sub)
	}
	return subs, true
}

// codeSub is the subscription of one code ("KRW-BTC", for order books also "KRW-BTC.5":
// 5 units); false when it answered an error instead.
func (s *upbitSession) codeSub(code string, k streamKey) (upSub, bool) {
	if k.kind == kFull {
		k.depth = upbitMaxUnits
		if base, n, ok := strings.Cut(code, "."); ok {
			d, err := strconv.Atoi(n)
			if err != nil || d <= 0 || d > upbitMaxUnits {
				s.fail("INVALID_PARAM", "invalid orderbook unit count "+code)
				return upSub{}, false
			}
			code, k.depth = base, d
		}
	}
	if _, ok := s.v.instrument(code); !ok || strings.Contains(code, "_") {
		s.fail("INVALID_PARAM", "invalid code "+code)
		return upSub{}, false
	}
	return upSub{code, k}, true
}

// describe says what the frames of stream k become (events.go), for Bithumb's v2 API
// as well.
func (upbitVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	if d.snap && k.v&upRealtime != 0 {
		return entry{}
	}
	switch {
	case k.kind == kFull:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, "")
	case d.snap && k.kind == kTrade:
		return d.set(bodyTrade, ms, idStr(b.tradeID), u("sequential_id", b.tradeID))
	case d.snap && k.kind == kTicker:
		return d.set(bodyTicker, ms, "")
	case d.snap:
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, ms, idStr(ev.tradeID), u("sequential_id", ev.tradeID))
	case k.kind == kTicker && d.trade:
		return d.set(bodyTicker, ms, "")
	}
	return entry{}
}
