package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/chain"
	"github.com/tickline/tickline/shared/wire"
)

// serve reads conn until it fails, goes stale, ctx ends, or a rollover hands over to a new
// connection (returned as next, with errRollover).
func (s *Session) serve(ctx context.Context, conn *websocket.Conn) (next *websocket.Conn, err error) {
	s.connectedAt = time.Now()
	s.connectedNs.Store(s.connectedAt.UnixNano())
	if !s.subscribed { // a handed-over connection started counting in handover
		s.newConnection()
	}
	s.rollAfter = time.Time{}
	var lastFrame atomic.Int64
	lastFrame.Store(time.Now().UnixNano())
	s.setHandlers(conn, &lastFrame)
	s.conn.Store(conn)
	defer s.conn.Store(nil)

	stop := make(chan struct{})
	var hb sync.WaitGroup
	s.startHelpers(ctx, conn, stop, &hb, &lastFrame)
	s.subscribed = false
	defer func() {
		close(stop)
		hb.Wait()
		if s.roll != nil && !errors.Is(err, errRollover) {
			s.roll.abandon()
			s.roll = nil
		}
	}()

	for {
		_, frame, rerr := s.readFrame(conn)
		if rerr != nil {
			return s.readFailed(ctx, rerr)
		}
		now := time.Now()
		lastFrame.Store(now.UnixNano())
		conn.SetReadDeadline(now.Add(s.opts.StaleAfter))
		if err := s.handle(conn, frame, now.UnixNano(), !s.dedupUntil.IsZero() && now.Before(s.dedupUntil)); err != nil {
			return nil, err
		}
		if s.snapsIn.Load() {
			s.applySnapshots()
		}
		if s.refresh.Swap(false) || s.opts.RefreshEvery > 0 && now.Sub(s.lastRefresh) >= s.opts.RefreshEvery {
			s.publishRefresh(now)
		}
		if next, done, err := s.maybeRoll(ctx, now); done {
			return next, err
		}
	}
}

// setHandlers answers the server's pings (under writeMu) and takes its pongs as signs of
// life; both push the read deadline back. A pong also applies snapshots a fetch finished
// on a quiet socket (it pinged to wake the reader).
func (s *Session) setHandlers(conn *websocket.Conn, lastFrame *atomic.Int64) {
	deadline := func() time.Time { return time.Now().Add(s.opts.StaleAfter) }
	conn.SetReadDeadline(deadline())
	conn.SetPingHandler(func(data string) error {
		conn.SetReadDeadline(deadline())
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	conn.SetPongHandler(func(string) error {
		conn.SetReadDeadline(deadline())
		lastFrame.Store(time.Now().UnixNano())
		if s.snapsIn.Load() { // a fetch finished on a quiet socket and pinged to wake us
			s.applySnapshots()
		}
		return nil
	})
}

// startHelpers starts serve's helper goroutines, counted in hb and ended by stop: the
// heartbeat (pings, dead-socket probes, unblocking the reader on ctx end) and, on a
// connection not subscribed yet, the subscriber.
func (s *Session) startHelpers(ctx context.Context, conn *websocket.Conn, stop <-chan struct{}, hb *sync.WaitGroup, lastFrame *atomic.Int64) {
	hb.Add(1)
	go func() {
		defer hb.Done()
		s.heartbeat(ctx, conn, stop, lastFrame)
	}()
	if s.subscribed {
		return
	}
	// Subscribe while reading: data flows as soon as the first frame is accepted, and
	// pacing many frames must not leave the socket unread.
	hb.Add(1)
	go func() {
		defer hb.Done()
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-sctx.Done():
			}
		}()
		if err := s.subscribe(sctx, conn); err != nil && sctx.Err() == nil {
			conn.Close() // the reader sees it and the session reconnects
		}
	}()
}

// readFailed ends serve after a read error: a handover when a rollover's new connection
// is live, else the error (ErrStale for a read deadline, counted).
func (s *Session) readFailed(ctx context.Context, rerr error) (*websocket.Conn, error) {
	if s.roll != nil && s.roll.isReady() { // the old line broke, the new one is live
		next, _, err := s.handover(ctx, true)
		return next, err
	}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(rerr, &ne) && ne.Timeout():
		s.Stats.Stale.Add(1)
		s.markBroken(wire.StatusStale, uint64(s.opts.StaleAfter/time.Millisecond))
		return nil, ErrStale
	case errors.Is(rerr, websocket.ErrReadLimit):
		s.Stats.Oversized.Add(1)
	}
	return nil, fmt.Errorf("reading: %w", rerr)
}

// maybeRoll drives a planned rollover between two frames: it starts one RolloverLead
// before MaxConnAge, retries a failed one after a backoff, and hands over once the new
// connection has caught up (done: serve returns next, err).
func (s *Session) maybeRoll(ctx context.Context, now time.Time) (next *websocket.Conn, done bool, err error) {
	if s.opts.MaxConnAge <= 0 {
		return nil, false, nil
	}
	if s.roll == nil && now.After(s.connectedAt.Add(s.opts.MaxConnAge-s.opts.RolloverLead)) && now.After(s.rollAfter) {
		s.startRollover(ctx)
	}
	if s.roll == nil {
		return nil, false, nil
	}
	switch {
	case s.roll.failed():
		s.roll, s.rollAfter = nil, now.Add(s.backoff.Wait(1, time.Second))
	case s.roll.isReady() && s.caughtUp(now):
		return s.handover(ctx, false)
	}
	return nil, false, nil
}

// dedupable reports whether r carries an id that orders it among its symbol's records of
// its kind (books are synced by the chain instead).
func dedupable(r *wire.Record) bool {
	return r.Flags&wire.FlagNoSeq == 0 && r.Kind != wire.KindBookDelta && r.Kind != wire.KindBookSnapshot && r.Seq != 0
}

// heartbeat sends the exchange's client pings, probes a quiet socket with a WebSocket
// ping, and closes the connection when ctx ends so that the reader returns.
func (s *Session) heartbeat(ctx context.Context, conn *websocket.Conn, stop <-chan struct{}, lastFrame *atomic.Int64) {
	kind, _ := s.opts.Adapter.Ping()
	probe := s.opts.StaleAfter / 3
	every := probe
	if kind != adapter.PingNone && s.limits.PingInterval > 0 {
		every = min(every, s.limits.PingInterval)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			conn.Close()
			return
		case <-stop:
			return
		case <-t.C:
		}
		var err error
		due := s.limits.PingInterval > 0 && time.Since(lastPing) >= s.limits.PingInterval
		quiet := time.Since(time.Unix(0, lastFrame.Load())) > probe
		switch {
		case kind == adapter.PingText && (due || quiet):
			// The exchange's own heartbeat; also the probe of a quiet socket, since its
			// answer is a frame. Built anew: some carry the current time (Gate).
			_, payload := s.opts.Adapter.Ping()
			err = s.write(conn, websocket.TextMessage, payload)
			lastPing = time.Now()
		case kind == adapter.PingWSControl && due, quiet: // quiet: is anyone there?
			s.writeMu.Lock()
			err = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second))
			s.writeMu.Unlock()
			lastPing = time.Now()
		}
		if err != nil {
			conn.Close() // the reader sees the failure and reconnects
			return
		}
	}
}

// handle parses one frame, runs book records through their symbol's Sync and emits what
// is to be published. dedup drops records already delivered by the previous connection
// (rollover overlap).
func (s *Session) handle(conn *websocket.Conn, frame []byte, recvNs int64, dedup bool) error {
	s.Stats.Frames.Add(1)
	s.in.Reset()
	s.out.Reset()
	res, err := s.parser.Parse(frame, recvNs, &s.in)
	if s.tree != nil {
		s.Stats.TreeFrames.Store(s.tree.TreeFrames()) // the parser is the session's own: its count is the session's
	}
	switch {
	case err == nil:
	case errors.Is(err, adapter.ErrRateLimited):
		s.Stats.RateLimited.Add(1)
		return fmt.Errorf("exchange rate limit: %w", err)
	case errors.Is(err, adapter.ErrExchange):
		s.Stats.ExchangeErrors.Add(1)
		s.log.Warn("exchange error", "err", err) // rare: subscription problems
	case errors.Is(err, adapter.ErrUnsupported):
		s.Stats.Unsupported.Add(1)
	default:
		s.Stats.ParseErrors.Add(1) // counted; the rest of the frame's records still go out
	}
	switch res {
	case adapter.ResultPing:
		if reply := s.parser.Reply(); reply != nil {
			if err := s.write(conn, websocket.TextMessage, reply); err != nil {
				return fmt.Errorf("heartbeat reply: %w", err)
			}
		}
	case adapter.ResultClosing:
		s.rollAfter = time.Time{}
		s.connectedAt = time.Time{} // roll over now: the exchange announced a disconnect
	}
	for i := 0; i < s.in.Len(); i++ {
		r := s.in.At(i)
		sym := s.syms[r.Symbol]
		if sym == nil {
			continue // a symbol this plan did not subscribe (or an exchange-wide message)
		}
		if sym.instrument != r.Instrument {
			sym.instrument = r.Instrument
		}
		k := r.Kind // a valid Kind (the parser only makes valid ones): < wire.KindCount
		if r.Flags&wire.FlagNoSeq != 0 {
			s.countRepeat(sym, r)
		}
		if dedup && dedupable(r) && r.Seq <= sym.lastSeq[k] && r.Flags&wire.FlagSeqReset == 0 {
			continue // delivered by the old connection already
		}
		sym.lastSeq[k] = r.Seq
		if r.Kind == wire.KindTrade && s.denseTrades && r.Flags&wire.FlagNoSeq == 0 && r.Seq != 0 {
			if sym.lastTrade != 0 && r.Seq > sym.lastTrade+1 {
				s.tradeGap(sym, r)
			}
			sym.lastTrade = max(sym.lastTrade, r.Seq)
		}
		if r.Kind == wire.KindBookSnapshot || r.Kind == wire.KindBookDelta {
			before := sym.sync.Stats
			act := sym.sync.Apply(r, &s.out)
			s.countSync(before, sym.sync.Stats)
			if err := s.act(conn, sym, act); err != nil {
				return err
			}
			continue
		}
		copyRecord(s.out.Next(), r)
	}
	if s.out.Len() > 0 {
		s.Stats.Records.Add(uint64(s.out.Len()))
		s.emit(&s.out)
	}
	return nil
}

// newConnection starts what is counted per connection: content-key repeats.
func (s *Session) newConnection() {
	for _, sym := range s.syms {
		sym.repeats = [wire.KindCount]repeats{}
	}
}

// countRepeat counts a content key that repeats an earlier key of its symbol and kind at
// the same exchange time. Identical content at an identical exchange time is one event to
// the receivers (shared/arbiter keeps one): a venue without ids that sends the same
// message again in the same millisecond (Upbit's top-1 orderbook on every book event, so a
// change deeper in the book repeats it) loses nothing by it, and no per-connection
// numbering could tell the repeats apart alike on every line (a snapshot sent on
// subscribe repeats the last message; a connection opened within the millisecond misses
// the first). The count shows how often it happens.
func (s *Session) countRepeat(sym *symbol, r *wire.Record) {
	if sym.repeats[r.Kind].ordinal(r.TsExchange, r.Seq) > 0 {
		s.Stats.ContentRepeats.Add(1)
	}
}

// repeats remembers the content keys of one symbol and kind seen within the current run:
// records of the same exchange time, or, without an exchange time, consecutive records
// with the same key. Bounded: beyond len(keys) distinct keys in a run the oldest is
// forgotten.
type repeats struct {
	ts   int64
	last uint64
	n    int
	keys [8]uint64
	seen [8]uint32 // earlier occurrences of keys[i] in the run
}

// ordinal records key at exchange time ts and returns how many times it occurred before
// in the run (0: first).
func (rp *repeats) ordinal(ts int64, key uint64) uint32 {
	if rp.n == 0 || ts != rp.ts || ts == 0 && key != rp.last {
		rp.ts, rp.n = ts, 0
	}
	rp.last = key
	for i := 0; i < rp.n; i++ {
		if rp.keys[i] == key {
			rp.seen[i]++
			return rp.seen[i]
		}
	}
	if rp.n == len(rp.keys) {
		copy(rp.keys[:], rp.keys[1:])
		copy(rp.seen[:], rp.seen[1:])
		rp.n--
	}
	rp.keys[rp.n], rp.seen[rp.n] = key, 0
	rp.n++
	return 0
}

// tradeGap marks a hole in a dense trade-id sequence: a StatusGap record (Expected = the
// next id wanted, Got = the id seen, no FlagBookInvalid: no book is concerned) before the
// trade that revealed it.
func (s *Session) tradeGap(sym *symbol, r *wire.Record) {
	s.Stats.TradeGaps.Add(1)
	o := s.out.Next()
	o.Kind, o.Exchange, o.Status = wire.KindStatus, r.Exchange, wire.StatusGap
	o.Expected, o.Got = sym.lastTrade+1, r.Seq
	o.Seq, o.TsExchange, o.TsRecv = r.Seq, r.TsExchange, r.TsRecv
	o.Symbol, o.Instrument = r.Symbol, r.Instrument
}

func (s *Session) countSync(before, after chain.SyncStats) {
	if d := after.Gaps - before.Gaps; d > 0 {
		s.Stats.Gaps.Add(d)
	}
	if d := after.Resyncs - before.Resyncs; d > 0 {
		s.Stats.Resyncs.Add(d)
	}
	if d := after.ChecksumFailures - before.ChecksumFailures; d > 0 {
		s.Stats.ChecksumFailures.Add(d)
	}
	if d := after.Crossed - before.Crossed; d > 0 {
		s.Stats.Crossed.Add(d)
	}
}

// act carries out what a symbol's Sync asked for.
func (s *Session) act(conn *websocket.Conn, sym *symbol, act chain.Action) error {
	switch act {
	case chain.ActFetchSnapshot:
		s.fetchSnapshot(sym.sub)
	case chain.ActResubscribe:
		frames := s.opts.Adapter.Resubscribe(sym.sub)
		if frames == nil {
			return errors.New("book resync needs a new connection")
		}
		for _, f := range frames {
			if err := s.write(conn, websocket.TextMessage, f); err != nil {
				return fmt.Errorf("resubscribing %s: %w", sym.sub.Symbol, err)
			}
		}
	}
	return nil
}

// fetchSnapshot gets a REST book snapshot in the background; Run applies it between frames.
func (s *Session) fetchSnapshot(sub adapter.Sub) {
	url := s.opts.Adapter.SnapshotURL(s.opts.RESTURL, sub.Symbol, sub.Depth)
	s.Stats.SnapshotFetches.Add(1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res := snapResult{symbol: sub.Symbol}
		res.body, res.err = httpGet(s.opts.HTTP, url)
		res.recvNs = time.Now().UnixNano()
		if res.err != nil {
			s.Stats.SnapshotFailures.Add(1)
			time.Sleep(s.backoff.Wait(2, 0)) // do not hammer a failing endpoint
		}
		s.snapMu.Lock()
		s.snaps = append(s.snaps, res)
		s.snapsIn.Store(true)
		s.snapMu.Unlock()
		// Run applies results between frames; a ping makes even a quiet socket deliver one
		// (the pong), so the snapshot does not wait for the next market update.
		if c := s.conn.Load(); c != nil {
			s.writeMu.Lock()
			c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			s.writeMu.Unlock()
		}
	}()
}

func httpGet(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("snapshot %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", url, err)
	}
	return body, nil
}

// applySnapshots feeds fetched REST snapshots to their symbols' Syncs.
func (s *Session) applySnapshots() {
	s.snapMu.Lock()
	snaps := s.snaps
	s.snaps = nil
	s.snapsIn.Store(false)
	s.snapMu.Unlock()
	for _, res := range snaps {
		var name wire.Name
		if err := name.SetString(res.symbol); err != nil {
			continue
		}
		sym := s.syms[name]
		if sym == nil {
			continue
		}
		if res.err != nil {
			s.log.Warn("book snapshot failed", "symbol", res.symbol, "err", res.err)
			sym.sync.SnapshotFailed()
			continue
		}
		s.in.Reset()
		s.out.Reset()
		if err := s.parser.ParseSnapshot(res.body, res.symbol, res.recvNs, &s.in); err != nil || s.in.Len() != 1 {
			s.Stats.ParseErrors.Add(1)
			s.log.Warn("book snapshot unreadable", "symbol", res.symbol, "err", err)
			sym.sync.SnapshotFailed()
			continue
		}
		r := s.in.At(0)
		r.Symbol = sym.name // REST answers may spell the symbol differently (case)
		if sym.instrument == (wire.Name{}) {
			sym.instrument = r.Instrument
		}
		before := sym.sync.Stats
		if act := sym.sync.Apply(r, &s.out); act == chain.ActFetchSnapshot {
			s.fetchSnapshot(sym.sub)
		}
		s.countSync(before, sym.sync.Stats)
		if s.out.Len() > 0 {
			s.Stats.Records.Add(uint64(s.out.Len()))
			s.emit(&s.out)
		}
	}
}

// copyRecord deep-copies src into dst, reusing dst's level memory.
func copyRecord(dst, src *wire.Record) {
	bids, asks := dst.Bids, dst.Asks
	*dst = *src
	dst.Bids = append(bids[:0], src.Bids...)
	dst.Asks = append(asks[:0], src.Asks...)
}
