package sim

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// The event log (Options.Events, `tickline sim --events FILE`) is the simulator's ground
// truth: one JSON line per exchange event it emitted, written once per event and record
// kind (not once per connection), so that an end-to-end test can hold the merged stream
// and the archive to what the exchanges really sent (bench/truth). A line:
//
//	{"ev":42,"exchange":"okx","instrument":"BTC-USDT","symbol":"BTC-USDT","kind":"book_delta",
//	 "ts_exchange_ns":1700000000123000000,"id":"1000000123","ids":{"prevSeqId":"1000000120",
//	 "seqId":"1000000123"},"bids":[["65000.1","0.5"]],"asks":[]}
//
//   - ev: the model event number (all books); lines of one event share it.
//   - kind: the record kind the venue's frame becomes in `tickline normalize` (bbo, trade,
//     book_snapshot, book_delta, ticker).
//   - ts_exchange_ns: the exchange time the frame carries, at the frame's precision (ms,
//     µs, s), 0 when the frame has none (Binance bookTicker).
//   - id: the id the venue gives this event (what a normalized record carries as seq, or
//     trade_id for trades); absent when the venue gives none (content only). ids: the
//     venue's id fields by their protocol names, as decimal strings.
//   - bid_px, bid_sz, ask_px, ask_sz (bbo), price, size, side (trade; side is the
//     taker's), price (ticker), bids/asks [[price,size],...] (books, deltas: the changed
//     levels, size 0 removes). Decimals are trimmed of trailing zeros.
//   - per_connection: true for what one connection received alone (the snapshot a venue
//     sends on subscribe, a REST snapshot), with conn, the connection number; such
//     lines are not shared exchange events.
//
// The last line is a trailer {"end":true,"events":N,"lines":L,"dropped":D}: a reader
// that does not find it, or finds dropped > 0, must not trust the file as complete.
//
// Ownership: every write happens under Server.mu (the generator's burst, a subscribe, a
// REST snapshot), so lines of one book are in emission order. The writer is buffered
// (1 MiB); the file is bounded by Options.EventsMaxBytes, beyond which lines are counted
// as dropped, not written.

// DefaultEventsMaxBytes bounds the event log (Options.EventsMaxBytes).
const DefaultEventsMaxBytes = 4 << 30

// eventLog writes the event log. Guarded by Server.mu.
type eventLog struct {
	f       *os.File
	w       *bufio.Writer
	max     int64
	written int64
	lines   uint64
	dropped uint64
	conns   uint64 // connection numbers handed out
	err     error  // first write error (then everything is dropped)
	line    []byte
	kinds   [8]string // kinds already logged for the current event (dedupe across streams)
	nkinds  int
}

func openEventLog(path string, max int64) (*eventLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("sim: event log: %w", err)
	}
	if max <= 0 {
		max = DefaultEventsMaxBytes
	}
	return &eventLog{f: f, w: bufio.NewWriterSize(f, 1<<20), max: max, line: make([]byte, 0, 4096)}, nil
}

// write appends the line being built (l.line) with a newline, or counts it as dropped.
func (l *eventLog) write() {
	l.line = append(l.line, '\n')
	if l.err != nil || l.written+int64(len(l.line)) > l.max {
		l.dropped++
		return
	}
	n, err := l.w.Write(l.line)
	l.written += int64(n)
	if err != nil {
		l.err = fmt.Errorf("sim: event log: writing: %w", err)
		l.dropped++
		return
	}
	l.lines++
}

// close writes the trailer, flushes and closes the file.
func (l *eventLog) close(events uint64) error {
	l.line = append(l.line[:0], `{"end":true,"events":`...)
	l.line = appendUint(l.line, events)
	l.line = append(l.line, `,"lines":`...)
	l.line = appendUint(l.line, l.lines)
	l.line = append(l.line, `,"dropped":`...)
	l.line = appendUint(l.line, l.dropped)
	l.line = append(l.line, "}\n"...)
	_, werr := l.w.Write(l.line)
	ferr := l.w.Flush()
	cerr := l.f.Close()
	if err := errors.Join(l.err, werr, ferr, cerr); err != nil {
		return fmt.Errorf("sim: event log: %w", err)
	}
	return nil
}

// newEvent starts the per-event dedupe of kinds.
func (l *eventLog) newEvent() { l.nkinds = 0 }

// seen reports whether kind k (with a depth for full books) was logged for this event
// already, and records it.
func (l *eventLog) seen(k string) bool {
	for i := 0; i < l.nkinds; i++ {
		if l.kinds[i] == k {
			return true
		}
	}
	if l.nkinds < len(l.kinds) {
		l.kinds[l.nkinds] = k
		l.nkinds++
	}
	return false
}

// entry is what one frame says, in normalized terms.
type entry struct {
	kind   string // "" = the frame makes no record
	tsUnit int64  // precision of the frame's exchange time in ns (0: the frame has none)
	ns     int64
	ids    []idField
	id     string // the event's id, "" = none
	body   bodyKind
	depth  int // full books: levels per side (0: all)
}

type idField struct {
	name string
	v    uint64
}

// bodyKind says which content fields a line carries.
type bodyKind uint8

const (
	bodyBBO bodyKind = iota + 1
	bodyTrade
	bodyTicker
	bodyDelta
	bodyBook
)

// kindNames by body.
var bodyKinds = [...]string{bodyBBO: "bbo", bodyTrade: "trade", bodyTicker: "ticker", bodyDelta: "book_delta", bodyBook: "book_snapshot"}

const (
	ms = int64(1e6)
	us = int64(1e3)
)

func u(n string, v uint64) idField { return idField{n, v} }

// frameDesc is what a venue's describe starts from: whether the frame is the snapshot a
// subscriber receives first (ev == nil) or which parts of the event it reports, and the
// entry being built.
type frameDesc struct {
	snap, top, trade bool
	e                entry
}

// describing starts the description of the frame a stream sends for ev (nil: its
// subscribe snapshot).
func describing(ev *event) frameDesc {
	if ev == nil {
		return frameDesc{snap: true}
	}
	return frameDesc{top: ev.top, trade: ev.trade, e: entry{ns: ev.ns}}
}

// set completes the entry: its body (and so its kind), the precision of its exchange
// time, its id and id fields.
func (d *frameDesc) set(body bodyKind, unit int64, id string, ids ...idField) entry {
	d.e.body, d.e.kind, d.e.tsUnit, d.e.id, d.e.ids = body, bodyKinds[body], unit, id, ids
	return d.e
}

func idStr(v uint64) string { return strconv.FormatUint(v, 10) }

// logEvent logs what stream k emitted for ev, unless a stream of the same record kind
// (and depth) already logged it for this event. Called by deliver under Server.mu.
func (s *Server) logEvent(b *book, ev *event, k streamKey) {
	l := s.evlog
	e := b.v.describe(b, ev, k)
	if e.kind == "" {
		return
	}
	key := e.kind
	if e.body == bodyBook {
		key += "/" + strconv.Itoa(e.depth)
	}
	if l.seen(key) {
		return
	}
	l.line = s.appendEntry(l.line[:0], b, ev, &e)
	l.line = append(l.line, '}')
	l.write()
}

// logSnapshot logs the snapshot stream k sent to connection c alone (per_connection).
// Called under Server.mu.
func (s *Server) logSnapshot(c *conn, b *book, k streamKey) {
	e := b.v.describe(b, nil, k)
	if e.kind == "" {
		return
	}
	s.logPerConn(c, b, &e)
}

// logREST logs a REST book snapshot of depth levels a side (0: all) with its id.
// Called under Server.mu (restBook).
func (s *Server) logREST(b *book, depth int, idName string) {
	if s.evlog == nil {
		return
	}
	e := entry{kind: "book_snapshot", body: bodyBook, depth: depth}
	if idName != "" {
		e.id, e.ids = strconv.FormatUint(b.seq, 10), []idField{{idName, b.seq}}
	}
	s.logPerConn(nil, b, &e)
}

func (s *Server) logPerConn(c *conn, b *book, e *entry) {
	l := s.evlog
	l.line = s.appendEntry(l.line[:0], b, nil, e)
	l.line = append(l.line, `,"per_connection":true`...)
	if c != nil {
		if c.num == 0 {
			l.conns++
			c.num = l.conns
		}
		l.line = append(l.line, `,"conn":`...)
		l.line = appendUint(l.line, c.num)
	}
	l.line = append(l.line, '}')
	l.write()
}

// appendEntry appends a line without its closing brace: what identifies the event, then
// its content.
func (s *Server) appendEntry(dst []byte, b *book, ev *event, e *entry) []byte {
	dst = s.appendEntryHead(dst, b, e)
	return appendEntryBody(dst, b, ev, e)
}

// appendEntryHead appends the event number, exchange, instrument, symbol, kind, exchange
// time and ids.
func (s *Server) appendEntryHead(dst []byte, b *book, e *entry) []byte {
	dst = append(dst, `{"ev":`...)
	dst = appendUint(dst, s.model.events)
	dst = append(dst, `,"exchange":"`...)
	dst = append(dst, b.ex...)
	dst = append(dst, `","instrument":"`...)
	dst = append(dst, b.inst.base...)
	dst = append(dst, '-')
	dst = append(dst, b.inst.quote...)
	dst = append(dst, `","symbol":`...)
	dst = strconv.AppendQuote(dst, b.v.symbol(b.inst))
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, e.kind...)
	dst = append(dst, `","ts_exchange_ns":`...)
	ts := int64(0)
	if e.tsUnit > 0 && e.ns > 0 {
		ts = e.ns - e.ns%e.tsUnit
	}
	dst = appendInt(dst, ts)
	if e.id != "" {
		dst = append(dst, `,"id":"`...)
		dst = append(dst, e.id...)
		dst = append(dst, '"')
	}
	if len(e.ids) > 0 {
		dst = append(dst, `,"ids":{`...)
		for i, f := range e.ids {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = append(dst, f.name...)
			dst = append(dst, `":"`...)
			dst = appendUint(dst, f.v)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	return dst
}

// appendEntryBody appends the content fields of e's body: prices and sizes, or levels.
func appendEntryBody(dst []byte, b *book, ev *event, e *entry) []byte {
	key := func(name string) {
		dst = append(dst, `,"`...)
		dst = append(dst, name...)
		dst = append(dst, `":"`...)
	}
	px := func(name string, v int64) { key(name); dst = append(b.appendPx(dst, v, styleTrim), '"') }
	sz := func(name string, v int64) { key(name); dst = append(b.appendSz(dst, v, styleTrim), '"') }
	switch e.body {
	case bodyBBO:
		px("bid_px", b.bids[0].px)
		sz("bid_sz", b.bids[0].sz)
		px("ask_px", b.asks[0].px)
		sz("ask_sz", b.asks[0].sz)
	case bodyTrade:
		tpx, tsz, buy := b.lastPx, b.lastSz, b.lastBuy
		if ev != nil {
			tpx, tsz, buy = ev.tradePx, ev.tradeSz, ev.takerBuy
		}
		px("price", tpx)
		sz("size", tsz)
		dst = append(dst, `,"side":"`...)
		dst = append(dst, side(buy, "buy", "sell")...)
		dst = append(dst, '"')
	case bodyTicker:
		px("price", b.lastPx)
		sz("size", b.lastSz)
	case bodyDelta:
		for _, ask := range [2]bool{false, true} {
			dst = append(dst, side(ask, `,"asks":`, `,"bids":`)...)
			dst = appendChanges(dst, b, ev, ask, styleTrim, styleTrim, "")
		}
	case bodyBook:
		for _, ask := range [2]bool{false, true} {
			dst = append(dst, side(ask, `,"asks":`, `,"bids":`)...)
			dst = appendLevels(dst, b, ask, e.depth, styleTrim, styleTrim)
		}
	}
	return dst
}
