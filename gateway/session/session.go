// Package session runs one exchange WebSocket connection plan for a gateway: connect,
// subscribe within the exchange's limits, answer and send heartbeats, watch for a dead
// socket, reconnect with exponential backoff and full jitter (unlimited, honouring
// rate-limit answers), roll over planned disconnects without a gap, fetch REST book
// snapshots, chain books per symbol (gateway/book) and mark every gap, resync, reconnect
// and stale period with a status record.
//
// Beyond books: on venues whose trade ids are consecutive (adapter.Adapter.DenseTradeIDs)
// a hole in a symbol's trade ids is marked with a StatusGap record (Expected = the next id
// wanted, Got = the id seen; no FlagBookInvalid, which marks book gaps) and counted in
// Stats.TradeGaps. Records without exchange ids (FlagNoSeq) whose content key repeats the
// key of an earlier record of their symbol and kind with the same exchange time are
// counted (Stats.ContentRepeats, countRepeat): receivers keep one of them.
//
// Ownership: Run owns the connection, the parser, every symbol's book and the output
// batch; the emit callback runs on Run's goroutine. Helper goroutines (heartbeat sender,
// snapshot fetches, the rollover dialer) only write to the socket under writeMu or hand
// results back through mutex-guarded slots that Run polls between frames.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/chain"
	"github.com/tickline/tickline/shared/wire"
)

// Options configure a Session.
type Options struct {
	Adapter adapter.Adapter
	Plan    adapter.ConnPlan
	Subs    []adapter.Sub // the subscriptions of Plan.Symbols
	RESTURL string        // base REST URL for book snapshots

	StaleAfter  time.Duration // no frame at all for this long = dead socket (default: adapter's, else 30 s)
	MinBackoff  time.Duration // default 100 ms
	MaxBackoff  time.Duration // default 30 s
	DialTimeout time.Duration // default 10 s
	// RolloverLead: how long before Limits.MaxConnAge the replacement connection is opened.
	RolloverLead time.Duration // default 1 min
	// MaxConnAge overrides the adapter's planned connection lifetime (tests).
	MaxConnAge time.Duration
	// RefreshEvery republishes every valid book as a FlagRefresh snapshot this often, so
	// a subscriber that joined late gets whole books (default 10 s; <0 disables).
	RefreshEvery time.Duration
	HTTP         *http.Client // REST snapshots (default: 10 s timeout)
	Seed         uint64       // jitter seed (0: random)
}

// Emit receives the records to publish, in order. It runs on the session goroutine; the
// batch and its records are valid only during the call.
type Emit func(b *adapter.Batch)

// Stats are a session's counters (read with Load from any goroutine).
type Stats struct {
	Frames, Records, ParseErrors, Unsupported, ExchangeErrors atomic.Uint64
	Connects, Reconnects, DialFailures, RateLimited, Stale    atomic.Uint64
	Gaps, Resyncs, ChecksumFailures, Crossed, Rollovers       atomic.Uint64
	SnapshotFetches, SnapshotFailures, Oversized              atomic.Uint64
	// TradeGaps counts holes in the trade ids of venues whose trade ids are dense
	// (adapter.Adapter.DenseTradeIDs), each marked with a StatusGap record.
	TradeGaps atomic.Uint64
	// ContentRepeats counts records whose content key repeated an earlier one of their
	// symbol and kind at the same exchange time (one event to the receivers; countRepeat).
	ContentRepeats atomic.Uint64
	// TreeFrames counts the frames the adapter's fast paths did not take (parsed into a
	// fastjson tree: adapter.TreeCounter); Frames minus TreeFrames took a fast path.
	TreeFrames atomic.Uint64
}

// symbol is one subscribed symbol's state, owned by Run.
type symbol struct {
	sub        adapter.Sub
	sync       chain.Sync
	lastSeq    [wire.KindCount]uint64  // last Seq seen per wire.Kind, for rollover de-duplication
	lastTrade  uint64                  // highest trade id seen (dense trade ids only; 0: none yet)
	repeats    [wire.KindCount]repeats // content keys per wire.Kind in the current run (countRepeat)
	name       wire.Name               // the exchange symbol as records carry it
	instrument wire.Name               // learned from the first record (canonical BASE-QUOTE)
}

// Session is one connection plan's lifetime. Create with New, run with Run.
type Session struct {
	opts   Options
	ex     wire.Exchange
	limits adapter.Limits
	emit   Emit
	log    *slog.Logger
	Stats  Stats

	parser      adapter.Parser
	tree        adapter.TreeCounter // parser's, when it counts (nil otherwise)
	in, out     adapter.Batch
	connectedAt time.Time
	roll        *rollover // the replacement connection being prepared, if any
	subscribed  bool      // the next connection served was already subscribed (rollover)
	dedupUntil  time.Time // after a rollover: drop records the old connection already delivered
	rollAfter   time.Time // earliest time to (re)try a rollover
	syms        map[wire.Name]*symbol
	backoff     Backoff
	buf         []byte
	denseTrades bool // the venue's trade ids are consecutive: holes are marked

	writeMu     sync.Mutex                     // guards writes on the current connection (gorilla allows one writer)
	conn        atomic.Pointer[websocket.Conn] // the connection being served, for helper goroutines' pings
	connectedNs atomic.Int64                   // when it was established (for observers)

	refresh     atomic.Bool // RequestRefresh was called
	lastRefresh time.Time

	snapMu  sync.Mutex
	snaps   []snapResult // REST snapshot results waiting for Run
	snapsIn atomic.Bool
	wg      sync.WaitGroup // helper goroutines (fetches); Run waits for them
}

type snapResult struct {
	symbol string
	body   []byte
	err    error
	recvNs int64
}

// New checks opts and returns a Session.
func New(opts Options, emit Emit, log *slog.Logger) (*Session, error) {
	if opts.Adapter == nil || emit == nil {
		return nil, errors.New("session: adapter and emit are required")
	}
	if opts.Plan.URL == "" {
		return nil, errors.New("session: plan has no URL")
	}
	s := &Session{opts: opts, ex: opts.Adapter.Exchange(), limits: opts.Adapter.Limits(), emit: emit,
		log: log.With("exchange", opts.Adapter.Exchange().String()), syms: map[wire.Name]*symbol{}}
	if s.opts.StaleAfter <= 0 {
		s.opts.StaleAfter = s.limits.StaleAfter
	}
	if s.opts.StaleAfter <= 0 {
		s.opts.StaleAfter = 30 * time.Second
	}
	if s.opts.MaxConnAge <= 0 {
		s.opts.MaxConnAge = s.limits.MaxConnAge
	}
	s.opts.MinBackoff = cmpOr(s.opts.MinBackoff, 100*time.Millisecond)
	s.opts.MaxBackoff = cmpOr(s.opts.MaxBackoff, 30*time.Second)
	s.opts.DialTimeout = cmpOr(s.opts.DialTimeout, 10*time.Second)
	s.opts.RolloverLead = cmpOr(s.opts.RolloverLead, time.Minute)
	if s.opts.RefreshEvery == 0 {
		s.opts.RefreshEvery = 10 * time.Second
	}
	if s.opts.HTTP == nil {
		s.opts.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.backoff = Backoff{Min: s.opts.MinBackoff, Max: s.opts.MaxBackoff, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	rule := opts.Adapter.BookRule()
	ck, _ := opts.Adapter.(adapter.Checksummer)
	for _, sub := range opts.Subs {
		sym := &symbol{sub: sub}
		if err := sym.name.SetString(sub.Symbol); err != nil {
			return nil, fmt.Errorf("session: symbol %q: %w", sub.Symbol, err)
		}
		sym.sync = chain.Sync{Rule: rule, Checksum: ck, DeriveBBO: adapter.DerivesBBO(opts.Adapter, sub)}
		sym.sync.Book.MaxDepth = adapter.LocalBookDepth(opts.Adapter, sub)
		s.syms[sym.name] = sym
	}
	s.parser = opts.Adapter.NewParser()
	s.tree, _ = s.parser.(adapter.TreeCounter)
	s.denseTrades = opts.Adapter.DenseTradeIDs()
	return s, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// errRollover ends serve when the replacement connection has taken over.
var errRollover = errors.New("session: rolled over")

// Run connects and serves until ctx is done, reconnecting forever. It returns ctx's error
// after every goroutine it started has exited.
func (s *Session) Run(ctx context.Context) error {
	defer s.wg.Wait()
	attempt := 0
	var next *websocket.Conn // a connection handed over by a rollover
	for ctx.Err() == nil {
		conn := next
		next = nil
		if conn == nil {
			var resp *http.Response
			var err error
			conn, resp, err = s.dial(ctx)
			if err != nil {
				s.Stats.DialFailures.Add(1)
				floor := time.Duration(0)
				if rateLimited(resp) {
					s.Stats.RateLimited.Add(1)
					floor = max(retryAfter(resp, time.Now()), s.opts.MinBackoff)
				}
				wait := s.backoff.Wait(attempt, floor)
				attempt++
				s.log.Warn("connect failed", "url", s.opts.Plan.URL, "attempt", attempt, "wait", wait, "err", err)
				if !sleep(ctx, wait) {
					break
				}
				continue
			}
		}
		if s.Stats.Connects.Add(1) > 1 {
			s.Stats.Reconnects.Add(1)
		}
		var err error
		next, err = s.serve(ctx, conn)
		conn.Close()
		s.subscribed = next != nil
		if errors.Is(err, errRollover) {
			s.Stats.Rollovers.Add(1)
			continue // seamless: books and chains continue on the new connection
		}
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("connection lost", "url", s.opts.Plan.URL, "err", err)
		s.markBroken(wire.StatusReconnect, uint64(attempt+1))
		if time.Since(s.connectedAt) > s.opts.StaleAfter {
			attempt = 0 // it lived: start the backoff over
		}
		if !sleep(ctx, s.backoff.Wait(attempt, 0)) {
			break
		}
		attempt++
	}
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *Session) dial(ctx context.Context) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: s.opts.DialTimeout, ReadBufferSize: 64 << 10, WriteBufferSize: 16 << 10,
		EnableCompression: false}
	dctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
	defer cancel()
	conn, resp, err := d.DialContext(dctx, s.opts.Plan.URL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, resp, fmt.Errorf("dialing %s: %w", s.opts.Plan.URL, err)
	}
	conn.SetReadLimit(adapter.MaxFrameBytes)
	return conn, resp, nil
}

// subscribe sends the plan's subscribe frames, paced by the exchange's limit. The frames
// are planned anew for every connection (some exchanges put the current time in them).
func (s *Session) subscribe(ctx context.Context, conn *websocket.Conn) error {
	frames := s.opts.Plan.Subscribe
	if plans, err := s.opts.Adapter.Plan(s.opts.Plan.URL, s.opts.Subs); err == nil && len(plans) == 1 {
		frames = plans[0].Subscribe
	}
	for i, f := range frames {
		if i > 0 && s.limits.SubscribeInterval > 0 && !sleep(ctx, s.limits.SubscribeInterval) {
			return ctx.Err()
		}
		if err := s.write(conn, websocket.TextMessage, f); err != nil {
			return fmt.Errorf("subscribing: %w", err)
		}
	}
	return nil
}

func (s *Session) write(conn *websocket.Conn, mt int, b []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return conn.WriteMessage(mt, b)
}

// markBroken emits a status for every symbol of the plan and resets their books (after a
// lost connection or a dead socket the books may have missed updates).
func (s *Session) markBroken(code wire.StatusCode, got uint64) {
	s.out.Reset()
	now := time.Now().UnixNano()
	for _, sym := range s.syms {
		r := s.out.Next()
		r.Kind, r.Exchange, r.Status, r.Got, r.TsRecv = wire.KindStatus, s.ex, code, got, now
		r.Symbol = sym.name
		r.Flags = wire.FlagBookInvalid
		r.Instrument = sym.instrument
		sym.sync.Reset()
	}
	if s.out.Len() > 0 {
		s.emit(&s.out)
	}
}

// ErrStale is the error of a connection that delivered no frame for StaleAfter.
var ErrStale = errors.New("session: no frame within the stale bound (dead socket)")

// readFrame reads one frame into s.buf (reused).
func (s *Session) readFrame(conn *websocket.Conn) (int, []byte, error) {
	mt, r, err := conn.NextReader()
	if err != nil {
		return 0, nil, err
	}
	s.buf = s.buf[:0]
	for {
		if len(s.buf) == cap(s.buf) {
			s.buf = append(s.buf, 0)[:len(s.buf)]
		}
		n, err := r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err == io.EOF {
			return mt, s.buf, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// connectedAtSafe is for tests: when the current connection was established.
func (s *Session) connectedAtSafe() time.Time { return time.Unix(0, s.connectedNs.Load()) }

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// RequestRefresh asks the session to republish its valid books (FlagRefresh snapshots)
// between two frames; safe from any goroutine (the gateway calls it when a subscriber
// joins).
func (s *Session) RequestRefresh() { s.refresh.Store(true) }

// publishRefresh emits a refresh snapshot of every valid book (Run's goroutine).
func (s *Session) publishRefresh(now time.Time) {
	s.lastRefresh = now
	s.out.Reset()
	for _, sym := range s.syms {
		sym.sync.AppendRefresh(&s.out, s.ex, &sym.name, &sym.instrument, now.UnixNano())
	}
	if s.out.Len() > 0 {
		s.Stats.Records.Add(uint64(s.out.Len()))
		s.emit(&s.out)
	}
}
