package sim

import (
	"net/http"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tickline/tickline/shared/wire"
)

// kind is what a stream carries.
type kind uint8

const (
	kBBO       kind = iota + 1 // the top of book, on every top change
	kTrade                     // trades
	kDelta                     // a snapshot on subscribe, then each event's level changes
	kFull                      // the top depth levels, whole, on every event
	kTicker                    // a ticker (BBO and last trade) on top changes and trades
	kHeartbeat                 // a per-book heartbeat once a second, events or not (encode gets ev == nil)
)

// streamKey identifies one encoding of a book's events. Every connection subscribed to the
// same key receives the same frame bytes, encoded once per event.
type streamKey struct {
	kind  kind
	depth int   // levels in snapshots and full pushes (0 = the whole book)
	v     uint8 // venue-specific variant: channel name, envelope or format
	bin   bool  // sent as binary WebSocket frames (Upbit, Bithumb v2)
}

// stream is the delivery state of one key on one book, owned by the model lock.
type stream struct {
	key    streamKey
	conns  []*conn
	lastHB int64 // kHeartbeat: when the last one went out (ns)
}

// venue is one exchange's protocol: names, paths, the frames it parses and the frames it
// writes. Every exchange file (binance.go, okx.go, ...) implements it the same way.
// Implementations are stateless; per-connection state lives in the session.
type venue interface {
	// name is the exchange's name in the venue table (shared/wire/venue.go: "binance"),
	// also the first path segment.
	name() string
	// premium is the exchange's persistent premium (fraction) over the common price;
	// Korean venues carry a "kimchi premium" on top of the FX rate. The differences, plus
	// idiosyncratic noise, open cross-exchange arbitrage windows.
	premium() float64
	// wsPaths are the WebSocket paths under /<name> ("/stream"; a trailing "/" also
	// matches longer paths).
	wsPaths() []string
	// symbol writes inst the exchange's way; instrument parses it back.
	symbol(inst instrument) string
	instrument(sym string) (instrument, bool)
	// styles returns how prices and sizes are written.
	styles() (px, sz numStyle)
	// depth is the levels per side a venue's books keep (0: Options.Depth).
	depth() int
	// newSession returns the protocol state of one connection opened on path.
	newSession(c *conn, path string) session
	// encode appends the frame stream k sends for ev to dst (empty on entry), or returns
	// dst unchanged when k sends nothing for ev. For kHeartbeat streams ev is nil.
	encode(dst []byte, b *book, ev *event, k streamKey) []byte
	// snapshot appends the frame a new subscriber of k receives first, or returns dst.
	snapshot(dst []byte, b *book, k streamKey) []byte
	// describe says what the frame encode (ev == nil: snapshot) writes for k becomes in
	// normalized terms, for the event log (events.go): kind, ids, time precision,
	// content; entry{} when it makes no record. It mirrors encode and snapshot.
	describe(b *book, ev *event, k streamKey) entry
}

// profile is the static part of a venue: its name, premium, paths, number styles, book
// depth and symbol syntax, one literal per exchange file. Each venue type embeds its
// profile, which implements name, premium, wsPaths, styles, depth, symbol and
// instrument; a venue whose symbols follow another syntax (Binance's any case, Korbit's
// lower case) defines its own symbol or instrument.
type profile struct {
	ex         string   // name()
	prem       float64  // premium()
	paths      []string // wsPaths()
	px, sz     numStyle // styles()
	levels     int      // depth()
	sep        byte     // between base and quote in a symbol (0: none, "BTCUSDT")
	quoteFirst bool     // the quote currency comes first ("KRW-BTC")
}

func (p profile) name() string                 { return p.ex }
func (p profile) premium() float64             { return p.prem }
func (p profile) wsPaths() []string            { return p.paths }
func (p profile) styles() (numStyle, numStyle) { return p.px, p.sz }
func (p profile) depth() int                   { return p.levels }

// symbol writes i as BASE<sep>QUOTE (QUOTE<sep>BASE with quoteFirst).
func (p profile) symbol(i instrument) string {
	a, b := i.base, i.quote
	if p.quoteFirst {
		a, b = b, a
	}
	if p.sep == 0 {
		return a + b
	}
	return a + string(rune(p.sep)) + b
}

// instrument parses an upper-case symbol written as symbol writes it.
func (p profile) instrument(s string) (instrument, bool) { return splitUpper(s, p.sep, p.quoteFirst) }

// splitUpper is splitSep (splitConcat for sep 0) for symbols that are upper case only.
func splitUpper(s string, sep byte, quoteFirst bool) (instrument, bool) {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return instrument{}, false
		}
	}
	if sep == 0 {
		return splitConcat(s)
	}
	return splitSep(s, sep, quoteFirst)
}

// session is one connection's protocol state. Its methods run on the connection's reader
// goroutine only.
type session interface {
	// open sends what the exchange sends on connect (may be nothing).
	open()
	// handle answers one client frame: subscribe, unsubscribe, heartbeat.
	handle(msg []byte)
}

// jsonSession is what most venues' sessions hold: the connection and the parser of the
// client's JSON frames. Its open sends nothing; a venue that greets on connect defines
// its own.
type jsonSession struct {
	c *conn
	p fastjson.Parser
}

func (*jsonSession) open() {}

// object parses a client frame that must be a JSON object; anything else is answered with
// bad() (the venue's error frame) and returns nil. The value lives until the next call.
func (s *jsonSession) object(msg []byte, bad func() []byte) *fastjson.Value {
	v, err := s.p.ParseBytes(msg)
	if err != nil || v.Type() != fastjson.TypeObject {
		s.c.send(bad())
		return nil
	}
	return v
}

// restServer is implemented by venues that serve REST (book snapshots): handlers by
// path under /<name>.
type restServer interface {
	rest(s *Server) map[string]http.HandlerFunc
}

// heartbeater is implemented by venues whose servers send a frame every interval on
// their own.
type heartbeater interface {
	heartbeat() (every time.Duration, op byte, frame []byte)
}

// venueHeartbeat is v's own heartbeat frame and interval (0: none).
func venueHeartbeat(v venue) (every time.Duration, op byte, frame []byte) {
	if hb, ok := v.(heartbeater); ok {
		return hb.heartbeat()
	}
	return 0, 0, nil
}

// binaryFramer is implemented by venues that send data as binary WebSocket frames on
// some paths (recorded frames are replayed that way).
type binaryFramer interface {
	binaryFrames(path string) bool
}

// serverPinger is implemented by venues whose servers send WebSocket pings on their own,
// every serverPing() (Options.PingInterval overrides it).
type serverPinger interface {
	serverPing() time.Duration
}

// registered holds the simulator's venues by name. Each exchange file registers its own
// from an init function, so that adding a venue is that file and its venue table row.
var registered = map[string]venue{}

// register adds v; a name outside the venue table or registered twice panics at start.
func register(v venue) {
	if _, err := wire.ParseExchange(v.name()); err != nil {
		panic("sim: register: " + err.Error())
	}
	if _, dup := registered[v.name()]; dup {
		panic("sim: register: " + v.name() + " registered twice")
	}
	registered[v.name()] = v
}

// allVenues lists every exchange the simulator serves, in the venue table's order. A
// table row without a simulator file is not served (TestVenueTableServed fails).
func allVenues() []venue {
	var out []venue
	for _, row := range wire.Venues() {
		if v, ok := registered[row.Name]; ok {
			out = append(out, v)
		}
	}
	return out
}

// premium returns the premium of exchange ex (0 for one the simulator does not serve).
func premium(ex string) float64 {
	if v, ok := registered[ex]; ok {
		return v.premium()
	}
	return 0
}

// Exchanges returns the names of the exchanges the simulator serves.
func Exchanges() []string {
	var out []string
	for _, v := range allVenues() {
		out = append(out, v.name())
	}
	return out
}

// appendLevels appends [["px","sz"],...] for the top n levels of a side.
func appendLevels(dst []byte, b *book, ask bool, n int, pst, sst numStyle) []byte {
	return appendLevelsSuffix(dst, b, ask, n, pst, sst, "")
}

// appendLevelsSuffix is appendLevels with suffix appended inside each level after the
// size (OKX's `,"0","1"`).
func appendLevelsSuffix(dst []byte, b *book, ask bool, n int, pst, sst numStyle, suffix string) []byte {
	s := *b.side(ask)
	if n <= 0 || n > len(s) {
		n = len(s)
	}
	dst = append(dst, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendLevel(dst, b, s[i].px, s[i].sz, pst, sst, suffix)
	}
	return append(dst, ']')
}

// appendChanges appends [["px","sz"],...] for the changes of one side of ev, with
// suffix appended inside each level after the size (OKX's `,"0","1"`).
func appendChanges(dst []byte, b *book, ev *event, ask bool, pst, sst numStyle, suffix string) []byte {
	dst = append(dst, '[')
	first := true
	for _, c := range ev.changes {
		if c.ask != ask {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendLevel(dst, b, c.px, c.sz, pst, sst, suffix)
	}
	return append(dst, ']')
}

// objectLevel is how a venue writes a book level as a JSON object of two trimmed number
// strings: open, the first number, mid, the second, then "}. The price comes first
// ({"price":"…","qty":"…"}) unless sizeFirst ({"quantity":"…","price":"…"}).
type objectLevel struct {
	open, mid string
	sizeFirst bool
}

// appendSide appends [{…},…] for one side of b, best first, or worst first where
// worstFirst.
func (o objectLevel) appendSide(dst []byte, b *book, ask, worstFirst bool) []byte {
	s := *b.side(ask)
	dst = append(dst, '[')
	for i := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		l := s[i]
		if worstFirst {
			l = s[len(s)-1-i]
		}
		dst = append(dst, o.open...)
		if o.sizeFirst {
			dst = b.appendSz(dst, l.sz, styleTrim)
		} else {
			dst = b.appendPx(dst, l.px, styleTrim)
		}
		dst = append(dst, o.mid...)
		if o.sizeFirst {
			dst = b.appendPx(dst, l.px, styleTrim)
		} else {
			dst = b.appendSz(dst, l.sz, styleTrim)
		}
		dst = append(dst, `"}`...)
	}
	return append(dst, ']')
}

// appendLevel appends one level ["px","sz"<suffix>].
func appendLevel(dst []byte, b *book, px, sz int64, pst, sst numStyle, suffix string) []byte {
	dst = append(dst, '[', '"')
	dst = b.appendPx(dst, px, pst)
	dst = append(dst, '"', ',', '"')
	dst = b.appendSz(dst, sz, sst)
	dst = append(dst, '"')
	dst = append(dst, suffix...)
	return append(dst, ']')
}
