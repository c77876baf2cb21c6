package sim

import "time"

// okxVenue serves OKX v5 public: /ws/v5/public, {"op":"subscribe","args":[{"channel",
// "instId"}]} with one {"event":"subscribe","arg":...} ack per arg; channels bbo-tbt
// (top-1 each push, seqId), books5 (top-5 each push), books / books-l2-tbt /
// books50-l2-tbt (snapshot with prevSeqId -1, then updates with prevSeqId = the previous
// seqId), trades (side = taker), tickers. Text "ping" → "pong". Numbers are strings
// trimmed of trailing zeros; ts is ms as a string. No checksum (OKX dropped it).
type okxVenue struct{ profile }

var venueOKX = okxVenue{profile{ex: "okx", prem: 0.0002, paths: []string{"/ws/v5/public"}, px: styleTrim, sz: styleTrim, sep: '-'}}

func init() { register(venueOKX) }

// OKX channel variants.
const (
	okxBooks uint8 = iota
	okxBooksL2TBT
	okxBooks50L2TBT
)

func (okxVenue) newSession(c *conn, _ string) session { return &okxSession{jsonSession{c: c}} }

// okxChannel maps a channel name to a stream key.
func okxChannel(ch string) (streamKey, bool) {
	switch ch {
	case "books":
		return streamKey{kind: kDelta, v: okxBooks}, true
	case "books-l2-tbt":
		return streamKey{kind: kDelta, v: okxBooksL2TBT}, true
	case "books50-l2-tbt":
		return streamKey{kind: kDelta, depth: 50, v: okxBooks50L2TBT}, true
	case "books5":
		return streamKey{kind: kFull, depth: 5}, true
	case "bbo-tbt":
		return streamKey{kind: kBBO}, true
	case "trades":
		return streamKey{kind: kTrade}, true
	case "tickers":
		return streamKey{kind: kTicker}, true
	}
	return streamKey{}, false
}

func okxChannelName(k streamKey) string {
	switch k.kind {
	case kDelta:
		switch k.v {
		case okxBooksL2TBT:
			return "books-l2-tbt"
		case okxBooks50L2TBT:
			return "books50-l2-tbt"
		}
		return "books"
	case kFull:
		return "books5"
	case kBBO:
		return "bbo-tbt"
	case kTrade:
		return "trades"
	}
	return "tickers"
}

func (okxVenue) appendArg(dst []byte, b *book, k streamKey) []byte {
	dst = append(dst, `{"arg":{"channel":"`...)
	dst = append(dst, okxChannelName(k)...)
	dst = append(dst, `","instId":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, '-')
	dst = append(dst, b.inst.quote...)
	return append(dst, `"}`...)
}

// appendOKXLevel appends ["px","sz","0","n"]: n is the level's order count, 0 for a
// removed level.
func appendOKXLevel(dst []byte, b *book, px, sz int64) []byte {
	if sz == 0 {
		return appendLevel(dst, b, px, sz, styleTrim, styleTrim, `,"0","0"`)
	}
	return appendLevel(dst, b, px, sz, styleTrim, styleTrim, `,"0","1"`)
}

func appendOKXChanges(dst []byte, b *book, ev *event, ask bool) []byte {
	dst = append(dst, '[')
	first := true
	for _, c := range ev.changes {
		if c.ask == ask {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendOKXLevel(dst, b, c.px, c.sz)
		}
	}
	return append(dst, ']')
}

// books appends a whole-book push (books snapshot, books5, bbo-tbt): n levels a side.
func (v okxVenue) books(dst []byte, b *book, k streamKey, n int, action string, ns int64) []byte {
	dst = v.appendArg(dst, b, k)
	if action != "" {
		dst = append(dst, `,"action":"`...)
		dst = append(dst, action...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"data":[{"asks":`...)
	dst = appendLevelsSuffix(dst, b, true, n, styleTrim, styleTrim, `,"0","1"`)
	dst = append(dst, `,"bids":`...)
	dst = appendLevelsSuffix(dst, b, false, n, styleTrim, styleTrim, `,"0","1"`)
	if k.kind == kFull {
		dst = append(dst, `,"instId":"`...)
		dst = append(dst, b.inst.String()...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"ts":"`...)
	dst = appendMs(dst, ns)
	dst = append(dst, '"')
	if action == "snapshot" {
		dst = append(dst, `,"prevSeqId":-1`...)
	}
	dst = append(dst, `,"seqId":`...)
	dst = appendUint(dst, b.seq)
	return append(dst, `}]}`...)
}

func (v okxVenue) encode(dst []byte, b *book, ev *event, k streamKey) []byte {
	switch k.kind {
	case kDelta:
		dst = v.appendArg(dst, b, k)
		dst = append(dst, `,"action":"update","data":[{"asks":`...)
		dst = appendOKXChanges(dst, b, ev, true)
		dst = append(dst, `,"bids":`...)
		dst = appendOKXChanges(dst, b, ev, false)
		dst = append(dst, `,"ts":"`...)
		dst = appendMs(dst, ev.ns)
		dst = append(dst, `","prevSeqId":`...)
		dst = appendUint(dst, ev.seqFirst-1)
		dst = append(dst, `,"seqId":`...)
		dst = appendUint(dst, ev.seq)
		return append(dst, `}]}`...)
	case kFull:
		return v.books(dst, b, k, k.depth, "", ev.ns)
	case kBBO:
		if !ev.top {
			return dst
		}
		return v.books(dst, b, k, 1, "", ev.ns)
	case kTrade:
		if !ev.trade {
			return dst
		}
		dst = v.appendArg(dst, b, k)
		dst = append(dst, `,"data":[{"instId":"`...)
		dst = append(dst, b.inst.String()...)
		dst = append(dst, `","tradeId":"`...)
		dst = appendUint(dst, ev.tradeID)
		dst = append(dst, `","px":"`...)
		dst = b.appendPx(dst, ev.tradePx, styleTrim)
		dst = append(dst, `","sz":"`...)
		dst = b.appendSz(dst, ev.tradeSz, styleTrim)
		dst = append(dst, `","side":"`...)
		dst = append(dst, side(ev.takerBuy, "buy", "sell")...)
		dst = append(dst, `","ts":"`...)
		dst = appendMs(dst, ev.ns)
		return append(dst, `","count":"1"}]}`...)
	case kTicker:
		if !ev.top && !ev.trade {
			return dst
		}
		return v.ticker(dst, b, k, ev.ns)
	}
	return dst
}

func (v okxVenue) ticker(dst []byte, b *book, k streamKey, ns int64) []byte {
	dst = v.appendArg(dst, b, k)
	dst = append(dst, `,"data":[{"instType":"SPOT","instId":"`...)
	dst = append(dst, b.inst.String()...)
	dst = append(dst, `","last":"`...)
	dst = b.appendPx(dst, b.lastPx, styleTrim)
	dst = append(dst, `","lastSz":"`...)
	dst = b.appendSz(dst, b.lastSz, styleTrim)
	dst = b.appendTop(dst, true, `","askPx":"`, `","askSz":"`, styleTrim, styleTrim)
	dst = b.appendTop(dst, false, `","bidPx":"`, `","bidSz":"`, styleTrim, styleTrim)
	dst = append(dst, `","open24h":"`...)
	dst = b.appendPx(dst, b.lastPx, styleTrim)
	dst = append(dst, `","vol24h":"`...)
	dst = b.appendSz(dst, b.volume, styleTrim)
	dst = append(dst, `","ts":"`...)
	dst = appendMs(dst, ns)
	return append(dst, `"}]}`...)
}

func (v okxVenue) snapshot(dst []byte, b *book, k streamKey) []byte {
	now := time.Now().UnixNano()
	switch k.kind {
	case kDelta:
		return v.books(dst, b, k, k.depth, "snapshot", now)
	case kFull:
		return v.books(dst, b, k, k.depth, "", now)
	case kBBO:
		return v.books(dst, b, k, 1, "", now)
	case kTicker:
		return v.ticker(dst, b, k, now)
	}
	return dst
}

// side returns buy or sell.
func side(buy bool, b, s string) string {
	if buy {
		return b
	}
	return s
}

type okxSession struct{ jsonSession }

func (s *okxSession) handle(msg []byte) {
	if string(msg) == "ping" {
		s.c.send([]byte("pong"))
		return
	}
	v := s.object(msg, func() []byte {
		return []byte(`{"event":"error","code":"60012","msg":"Invalid request: ` + jsonSafe(msg) + `","connId":"sim0001"}`)
	})
	if v == nil {
		return
	}
	op := string(v.GetStringBytes("op"))
	if op != "subscribe" && op != "unsubscribe" {
		s.c.send([]byte(`{"event":"error","code":"60012","msg":"Invalid request: ` + jsonSafe(msg) + `","connId":"sim0001"}`))
		return
	}
	for _, a := range v.GetArray("args") {
		ch, inst := string(a.GetStringBytes("channel")), string(a.GetStringBytes("instId"))
		arg := `{"channel":"` + jsonSafe([]byte(ch)) + `","instId":"` + jsonSafe([]byte(inst)) + `"}`
		k, ok := okxChannel(ch)
		if _, known := venueOKX.instrument(inst); !ok || !known {
			s.c.send([]byte(`{"event":"error","code":"60018","msg":"Wrong URL or channel:` + jsonSafe([]byte(ch)) +
				`,instId:` + jsonSafe([]byte(inst)) + ` doesn't exist. Please use the correct URL, channel and parameters referring to API document.","connId":"sim0001"}`))
			continue
		}
		s.c.send([]byte(`{"event":"` + op + `","arg":` + arg + `,"connId":"sim0001"}`))
		s.c.setSubscribed(op == "subscribe", inst, k)
	}
}

// jsonSafe returns s with characters that would break a JSON string literal replaced,
// for echoing client text in error messages.
func jsonSafe(s []byte) string {
	out := make([]byte, 0, min(len(s), 200))
	for _, c := range s {
		if len(out) >= 200 {
			break
		}
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\'')
		case c < 0x20:
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// describe says what the frames of stream k become (events.go).
func (okxVenue) describe(b *book, ev *event, k streamKey) entry {
	d := describing(ev)
	switch {
	case d.snap && k.kind == kDelta:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, idStr(b.seq), u("seqId", b.seq))
	case d.snap && k.kind == kFull:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, idStr(b.seq), u("seqId", b.seq))
	case d.snap && k.kind == kBBO:
		return d.set(bodyBBO, ms, idStr(b.seq), u("seqId", b.seq))
	case d.snap && k.kind == kTicker:
		return d.set(bodyBBO, ms, "")
	case d.snap:
	case k.kind == kDelta:
		return d.set(bodyDelta, ms, idStr(ev.seq), u("prevSeqId", ev.seqFirst-1), u("seqId", ev.seq))
	case k.kind == kFull:
		d.e.depth = k.depth
		return d.set(bodyBook, ms, idStr(b.seq), u("seqId", b.seq))
	case k.kind == kBBO && d.top:
		return d.set(bodyBBO, ms, idStr(b.seq), u("seqId", b.seq))
	case k.kind == kTrade && d.trade:
		return d.set(bodyTrade, ms, idStr(ev.tradeID), u("tradeId", ev.tradeID))
	case k.kind == kTicker && (d.top || d.trade):
		return d.set(bodyBBO, ms, "")
	}
	return entry{}
}
