package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/shared/metrics"
)

// hub is one exchange's shared state: its venue, its faults and its counters.
type hub struct {
	v            venue
	fault        atomic.Pointer[Fault] // never nil
	refuse       atomic.Int64          // upgrades still to refuse
	cnt          counters
	pingInterval time.Duration
	replay       [][]byte // recorded frames (Options.Replay), nil: the model
}

// counters are a hub's atomic Counters.
type counters struct {
	conns, refused, frames, bytes, disconnects, stalls, duplicates, gaps, reorders,
	malformed, oversized, slowCloses atomic.Uint64
}

func (c *counters) load() Counters {
	return Counters{Conns: c.conns.Load(), Refused: c.refused.Load(), Frames: c.frames.Load(),
		Bytes: c.bytes.Load(), Disconnects: c.disconnects.Load(), Stalls: c.stalls.Load(),
		Duplicates: c.duplicates.Load(), Gaps: c.gaps.Load(), Reorders: c.reorders.Load(),
		Malformed: c.malformed.Load(), Oversized: c.oversized.Load(), SlowCloses: c.slowCloses.Load()}
}

// Server is the exchange simulator: one HTTP server on one loopback port serving every
// exchange under /<exchange>/<its real path>, driven by one generator goroutine that
// steps the market model and fans encoded frames out to the connections.
//
// Goroutines: Run starts the HTTP server and the generator and waits for both and for
// every connection handler before it returns. Each connection handler owns its writer
// (and replay) goroutines and waits for them.
//
// State: mu (the model lock) guards the model, its books and their streams and each
// connection's subscription list; the generator holds it for one burst at a time.
type Server struct {
	opts      Options
	log       *slog.Logger
	ln        net.Listener
	metricsLn net.Listener // nil without Options.Metrics
	hubs      map[string]*hub
	up        websocket.Upgrader

	mu    sync.Mutex
	model *model // guarded by mu
	arena []byte // guarded by mu: spare capacity frames are encoded into

	connMu  sync.Mutex
	conns   map[*conn]struct{} // guarded by connMu
	closing bool               // guarded by connMu: Run is stopping, refuse new connections
	wg      sync.WaitGroup     // connection handlers; Add only under connMu while !closing

	paused    atomic.Bool
	serving   atomic.Bool // Run is serving (Health)
	events    atomic.Uint64
	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	runDone   chan struct{}
	runErr    error

	oversizeOnce sync.Once
	oversize     []byte

	evlog   *eventLog // guarded by mu; nil without Options.Events
	logOnce sync.Once
	logErr  error
}

// New validates opts, loads replay files and listens on opts.Listen (and opts.Metrics).
// Serving starts with Run or Start.
func New(opts Options, logger *slog.Logger) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: logger, hubs: make(map[string]*hub),
		model: newModel(opts.Seed, opts.Depth, opts.FX), conns: make(map[*conn]struct{}),
		runDone: make(chan struct{})}
	s.up = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096,
		CheckOrigin: func(*http.Request) bool { return true }}
	for _, v := range allVenues() {
		if len(opts.Exchanges) > 0 && !slices.Contains(opts.Exchanges, v.name()) {
			continue
		}
		h := &hub{v: v}
		f, ok := opts.Faults[v.name()]
		if !ok {
			f = opts.Faults["*"]
		}
		h.fault.Store(&f)
		h.refuse.Store(int64(f.RefuseConnects))
		if p, ok := v.(serverPinger); ok {
			h.pingInterval = p.serverPing()
		}
		if opts.PingInterval > 0 && h.pingInterval > 0 {
			h.pingInterval = opts.PingInterval
		}
		if files := opts.Replay[v.name()]; len(files) > 0 {
			if h.replay, err = loadReplay(files); err != nil {
				return nil, err
			}
		}
		s.hubs[v.name()] = h
	}
	if s.ln, err = net.Listen("tcp", opts.Listen); err != nil {
		return nil, fmt.Errorf("sim: listening on %s: %w", opts.Listen, err)
	}
	if opts.Events != "" {
		if s.evlog, err = openEventLog(opts.Events, opts.EventsMaxBytes); err != nil {
			s.ln.Close()
			return nil, err
		}
	}
	if opts.Metrics != "" {
		if s.metricsLn, err = net.Listen("tcp", opts.Metrics); err != nil {
			s.ln.Close()
			s.closeEventLog()
			return nil, fmt.Errorf("sim: metrics: listening on %s: %w", opts.Metrics, err)
		}
	}
	return s, nil
}

// Addr returns the address served on ("127.0.0.1:18080"): WebSocket URLs are
// ws://<Addr>/<exchange>/<path>, REST URLs http://<Addr>/<exchange>/<path>.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends (or Options.Duration passes), then closes every connection
// and returns after all goroutines have exited. It returns nil on a normal stop.
func (s *Server) Run(ctx context.Context) error {
	if s.opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.Duration)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	var wg sync.WaitGroup
	var serveErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := hs.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("sim: serving: %w", err)
			cancel()
		}
	}()
	go func() {
		defer wg.Done()
		s.generate(ctx)
	}()
	if s.metricsLn != nil {
		reg := metrics.NewRegistry()
		s.Register(reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := reg.ServeListener(ctx, s.metricsLn, s.Health, s.log); err != nil {
				s.log.Error("sim: metrics server", "err", err)
			}
		}()
	}
	s.serving.Store(true)
	s.log.Info("sim: serving", "addr", s.Addr(), "exchanges", len(s.hubs), "rate", s.opts.Rate, "seed", s.opts.Seed)
	<-ctx.Done()
	s.serving.Store(false)
	hs.Close() // the listener and connections not yet upgraded
	s.connMu.Lock()
	s.closing = true
	for c := range s.conns {
		c.close()
	}
	s.connMu.Unlock()
	wg.Wait()
	s.wg.Wait()
	return errors.Join(serveErr, s.closeEventLog())
}

// closeEventLog writes the event log's trailer and closes it (once; nil without a log).
func (s *Server) closeEventLog() error {
	s.logOnce.Do(func() {
		if s.evlog == nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.logErr = s.evlog.close(s.model.events)
		if s.evlog.dropped > 0 {
			s.log.Error("sim: event log incomplete", "path", s.opts.Events, "dropped_lines", s.evlog.dropped, "max_bytes", s.evlog.max)
		}
	})
	return s.logErr
}

// Start runs the server in the background; Close stops it.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		go func() {
			defer close(s.runDone)
			s.runErr = s.Run(ctx)
		}()
	})
}

// Close stops a server started with Start (or one never started) and waits for every
// goroutine. It is idempotent and returns Run's error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		started := false
		s.startOnce.Do(func() {}) // a later Start does nothing
		if s.cancel != nil {
			started = true
			s.cancel()
			<-s.runDone
		}
		if !started {
			s.ln.Close()
			if s.metricsLn != nil {
				s.metricsLn.Close()
			}
			s.runErr = s.closeEventLog()
		}
	})
	return s.runErr
}

// Pause stops event generation (books stay still, connections stay open); Resume restarts it.
func (s *Server) Pause() { s.paused.Store(true) }

// Resume restarts event generation after Pause.
func (s *Server) Resume() { s.paused.Store(false) }

// Inject sets the faults of exchange ex: they apply to its current connections (counts
// restart) and to the next ones; f.RefuseConnects refuses that many next upgrades. An
// empty Fault clears them.
func (s *Server) Inject(ex string, f Fault) error {
	h := s.hubs[ex]
	if h == nil {
		return fmt.Errorf("sim: Inject: exchange %q not served", ex)
	}
	if err := f.validate(); err != nil {
		return fmt.Errorf("sim: Inject %s: %w", ex, err)
	}
	h.fault.Store(&f)
	h.refuse.Store(int64(f.RefuseConnects))
	for c := range s.connsOf(h) {
		select { // let idle writers pick the new faults up
		case c.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Server) connsOf(h *hub) map[*conn]struct{} {
	out := make(map[*conn]struct{})
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		if c.hub == h {
			out[c] = struct{}{}
		}
	}
	return out
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	st := Stats{Events: s.events.Load(), ByExchange: make(map[string]Counters, len(s.hubs))}
	for name, h := range s.hubs {
		c := h.cnt.load()
		st.ByExchange[name] = c
		st.Total = st.Total.add(c)
	}
	return st
}

// Book returns the current book of exchange ex for its symbol sym (as the exchange writes
// it: "BTCUSDT", "KRW-BTC"), best first, prices and sizes as the exchange writes them.
// ok is false when no client has used that book yet.
func (s *Server) Book(ex, sym string) (bids, asks []Level, ok bool) {
	h := s.hubs[ex]
	if h == nil {
		return nil, nil, false
	}
	inst, ok := h.v.instrument(sym)
	if !ok {
		return nil, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.model.books[bookKey{ex, inst}]
	if b == nil {
		return nil, nil, false
	}
	pst, sst := h.v.styles()
	return b.levels(false, 0, pst, sst), b.levels(true, 0, pst, sst), true
}

// handler routes /<exchange>/<path> to WebSocket upgrades and REST handlers.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	for name, h := range s.hubs {
		if r, ok := h.v.(restServer); ok {
			for path, fn := range r.rest(s) {
				mux.HandleFunc("/"+name+path, fn)
			}
		}
		for _, p := range h.v.wsPaths() {
			mux.Handle("/"+name+p, s.wsHandler(h))
		}
	}
	return mux
}

// wsHandler upgrades (or refuses) and serves one connection until it ends.
func (s *Server) wsHandler(h *hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			http.Error(w, "websocket upgrade expected", http.StatusBadRequest)
			return
		}
		if h.refuse.Load() > 0 && h.refuse.Add(-1) >= 0 {
			f := h.fault.Load()
			status := f.RefuseStatus
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			ra := f.RetryAfter
			if ra == 0 && status == http.StatusTooManyRequests {
				ra = time.Second
			}
			if ra > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
			}
			h.cnt.refused.Add(1)
			http.Error(w, http.StatusText(status), status)
			return
		}
		ws, err := s.up.Upgrade(w, r, nil)
		if err != nil {
			return // the upgrader answered
		}
		path := strings.TrimPrefix(r.URL.Path, "/"+h.v.name())
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		c := newConn(s, h, ws, path)
		s.connMu.Lock()
		if s.closing {
			s.connMu.Unlock()
			ws.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.connMu.Unlock()
		defer func() {
			s.connMu.Lock()
			delete(s.conns, c)
			s.connMu.Unlock()
			s.wg.Done()
		}()
		h.cnt.conns.Add(1)
		c.serve()
	})
}

// errUnknownSymbol is returned by subscribe for a symbol the exchange cannot map.
var errUnknownSymbol = errors.New("unknown symbol")

// subscribe adds c to stream k of its exchange's book for sym and queues the stream's
// snapshot, all under the model lock so the snapshot and the next delta chain. In replay
// mode it starts the connection's replay instead. Subscribing twice is a no-op.
func (c *conn) subscribe(sym string, k streamKey) (*book, error) {
	inst, ok := c.hub.v.instrument(sym)
	if !ok {
		return nil, fmt.Errorf("%w %q", errUnknownSymbol, sym)
	}
	if c.hub.replay != nil {
		c.startReplay()
		return nil, nil
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.model.book(c.hub.v.name(), inst, c.hub.v.depth(), c.hub.v)
	b.live = true
	var st *stream
	for _, x := range b.streams {
		if x.key == k {
			st = x
			break
		}
	}
	if st == nil {
		st = &stream{key: k}
		b.streams = append(b.streams, st)
	}
	if slices.Contains(st.conns, c) {
		return b, nil
	}
	if snap := c.hub.v.snapshot(nil, b, k); len(snap) > 0 {
		c.push(outFrame{b: snap, op: opcodeOf(k), kind: fSnapshot})
		if s.evlog != nil {
			s.logSnapshot(c, b, k)
		}
	}
	st.conns = append(st.conns, c)
	c.subs = append(c.subs, subRef{b, st})
	return b, nil
}

// setSubscribed subscribes c to (sym, k) when on, else unsubscribes it: a client's
// subscribe or unsubscribe request. Errors were answered by the venue before.
func (c *conn) setSubscribed(on bool, sym string, k streamKey) {
	if on {
		_, _ = c.subscribe(sym, k)
		return
	}
	c.unsubscribe(sym, k)
}

// unsubscribe removes c from stream k of sym's book.
func (c *conn) unsubscribe(sym string, k streamKey) {
	inst, ok := c.hub.v.instrument(sym)
	if !ok {
		return
	}
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.model.books[bookKey{c.hub.v.name(), inst}]
	if b == nil {
		return
	}
	for i, r := range c.subs {
		if r.b == b && r.st.key == k {
			r.st.conns = slices.DeleteFunc(r.st.conns, func(x *conn) bool { return x == c })
			c.subs = slices.Delete(c.subs, i, i+1)
			return
		}
	}
}

// unsubscribeAll removes a finished connection from every stream.
func (s *Server) unsubscribeAll(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range c.subs {
		r.st.conns = slices.DeleteFunc(r.st.conns, func(x *conn) bool { return x == c })
	}
	c.subs = nil
}

func opcodeOf(k streamKey) byte {
	if k.bin {
		return opBinary
	}
	return opText
}

// generate steps every live book Rate times per second in bursts, until ctx ends.
func (s *Server) generate(ctx context.Context) {
	if s.opts.FramePerEvent {
		s.generateEach(ctx)
		return
	}
	iv := 10 * time.Millisecond
	if s.opts.Rate >= 500 {
		iv = time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	last := time.Now()
	var stopAt time.Time // Options.GenerateFor
	if s.opts.GenerateFor > 0 {
		stopAt = last.Add(s.opts.GenerateFor)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			dt := now.Sub(last).Seconds()
			last = now
			if !s.paused.Load() && (stopAt.IsZero() || now.Before(stopAt)) {
				s.burst(min(dt, 0.25), now.UnixNano())
			}
			s.heartbeats(now.UnixNano())
		}
	}
}

// burst generates dt seconds of events. Event times start at ns or, when later, at the
// time the model lock was taken: a snapshot sent under the lock meanwhile (stamped with
// the time it was sent) never carries a later time, nor a larger time-based id (Coinone),
// than the events that follow it.
func (s *Server) burst(dt float64, ns int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now().UnixNano(); now > ns {
		ns = now
	}
	m := s.model
	m.advance(dt)
	for _, b := range m.order {
		if !b.live {
			continue
		}
		b.due += s.opts.Rate * dt
		n := int(b.due)
		b.due -= float64(n)
		for i := 0; i < n; i++ {
			if s.opts.MaxEvents > 0 && m.events >= s.opts.MaxEvents {
				return
			}
			ev := b.step(ns + int64(i)*1000)
			m.events++
			s.events.Store(m.events)
			if s.evlog != nil {
				s.evlog.newEvent()
			}
			s.deliver(b, ev)
		}
	}
}

// generateEach is generate under Options.FramePerEvent: one event at a time, each when
// due (Rate × live books per second, round robin over the live books), stamped with the
// time it is generated. A late timer makes events late, never stamped early; a backlog
// of more than 250 ms is skipped as burst skips it.
func (s *Server) generateEach(ctx context.Context) {
	tm := time.NewTimer(0)
	defer tm.Stop()
	last := time.Now()
	next, lastHB := last, last
	var stopAt time.Time // Options.GenerateFor
	if s.opts.GenerateFor > 0 {
		stopAt = last.Add(s.opts.GenerateFor)
	}
	rr := 0
	var live []*book
	for {
		now := time.Now()
		if now.Sub(lastHB) >= 10*time.Millisecond {
			lastHB = now
			s.heartbeats(now.UnixNano())
		}
		if d := next.Sub(now); d > 0 {
			tm.Reset(min(d, 10*time.Millisecond))
			select {
			case <-ctx.Done():
				return
			case <-tm.C:
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if now.Sub(next) > 250*time.Millisecond {
			next = now
		}
		gap := time.Millisecond // nothing live or paused: look again soon
		s.mu.Lock()
		live = live[:0]
		for _, b := range s.model.order {
			if b.live {
				live = append(live, b)
			}
		}
		m := s.model
		if len(live) > 0 && !s.paused.Load() && (s.opts.MaxEvents == 0 || m.events < s.opts.MaxEvents) &&
			(stopAt.IsZero() || now.Before(stopAt)) {
			gap = time.Duration(float64(time.Second) / (s.opts.Rate * float64(len(live))))
			m.advance(now.Sub(last).Seconds())
			last = now
			rr = (rr + 1) % len(live)
			b := live[rr]
			ev := b.step(time.Now().UnixNano()) // under the lock: never before a snapshot sent meanwhile
			m.events++
			s.events.Store(m.events)
			if s.evlog != nil {
				s.evlog.newEvent()
			}
			s.deliver(b, ev)
		}
		s.mu.Unlock()
		next = next.Add(max(gap, time.Nanosecond))
	}
}

// heartbeats sends the per-book heartbeats that are due (Coinbase), paused or not.
func (s *Server) heartbeats(ns int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.model.order {
		for _, st := range b.streams {
			if st.key.kind != kHeartbeat || len(st.conns) == 0 || ns-st.lastHB < 1e9 {
				continue
			}
			st.lastHB = ns
			frame := b.v.encode(nil, b, nil, st.key)
			for _, c := range st.conns {
				c.push(outFrame{b: frame, op: opcodeOf(st.key), kind: fControl})
			}
		}
	}
}

// deliver encodes ev once per stream that has subscribers and queues it on each.
func (s *Server) deliver(b *book, ev *event) {
	for _, st := range b.streams {
		if len(st.conns) == 0 || st.key.kind == kHeartbeat {
			continue
		}
		if cap(s.arena)-len(s.arena) < 16<<10 {
			s.arena = make([]byte, 0, 1<<20)
		}
		spare := s.arena[len(s.arena):]
		out := b.v.encode(spare, b, ev, st.key)
		if len(out) == 0 {
			continue
		}
		if cap(out) == cap(spare) { // encoded in place
			s.arena = s.arena[:len(s.arena)+len(out)]
		}
		frame := out[:len(out):len(out)]
		if s.evlog != nil {
			s.logEvent(b, ev, st.key)
		}
		kind := fData
		if st.key.kind == kDelta || st.key.kind == kFull {
			kind = fDelta
		}
		for _, c := range st.conns {
			c.push(outFrame{b: frame, op: opcodeOf(st.key), kind: kind})
		}
	}
}

// oversizedFrame returns a 4 MiB + 1 KiB JSON frame (shared, read-only).
func (s *Server) oversizedFrame() []byte {
	s.oversizeOnce.Do(func() {
		n := 4<<20 + 1024
		b := make([]byte, 0, n)
		b = append(b, `{"pad":"`...)
		for len(b) < n-2 {
			b = append(b, 'x')
		}
		s.oversize = append(b, '"', '}')
	})
	return s.oversize
}

// restBook returns the book for a REST snapshot request under the model lock, creating
// it (and making it live) when needed. fn runs under the lock.
func (s *Server) restBook(v venue, sym string, fn func(b *book)) bool {
	inst, ok := v.instrument(sym)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.model.book(v.name(), inst, v.depth(), v)
	b.live = true
	fn(b)
	return true
}
