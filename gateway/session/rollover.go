package session

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// rollover prepares the replacement of a connection before a planned disconnect
// (Binance closes connections after 24 h): the new connection is dialled and subscribed
// while the old one still delivers, its frames are queued, and Run switches over between
// two frames, de-duplicating the overlap, so that no event is lost.
type rollover struct {
	mu     sync.Mutex
	conn   *websocket.Conn
	queue  [][]byte // frames read from conn before the handover (copies)
	stop   bool     // Run asked the reader to hand conn over after its current frame
	err    error
	done   chan struct{} // closed when the reader goroutine has exited
	frames int

	// Catch-up (Run's goroutine only): see Session.caughtUp.
	peek     adapter.Parser // a second parser, for reading ids out of queued frames
	batch    adapter.Batch
	peeked   int                 // queued frames examined so far
	sawData  bool                // a queued frame carried records
	need     map[catchKey]uint64 // the first id the replacement carries, per symbol and kind
	deadline time.Time           // give up waiting for the old connection then
}

// catchKey names one id sequence: a symbol and a record kind.
type catchKey struct {
	sym  wire.Name
	kind wire.Kind
}

func (r *rollover) isReady() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames > 0 && r.err == nil
}

func (r *rollover) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil
}

// abandon closes the replacement (the old connection died first, or Run is ending).
func (r *rollover) abandon() {
	r.mu.Lock()
	r.stop = true
	if r.conn != nil {
		r.conn.Close()
	}
	r.mu.Unlock()
	<-r.done
}

// startRollover dials and subscribes the replacement connection in the background.
func (s *Session) startRollover(ctx context.Context) {
	r := &rollover{done: make(chan struct{})}
	s.roll = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.done)
		conn, _, err := s.dial(ctx)
		if err == nil {
			err = s.subscribe(ctx, conn)
		}
		r.mu.Lock()
		r.conn, r.err = conn, err
		stop := r.stop
		r.mu.Unlock()
		if err != nil || stop {
			if conn != nil && err != nil {
				conn.Close()
			}
			return
		}
		conn.SetReadDeadline(time.Now().Add(s.opts.StaleAfter))
		for {
			_, rd, err := conn.NextReader()
			var frame []byte
			if err == nil {
				buf := make([]byte, 0, 4096)
				for {
					if len(buf) == cap(buf) {
						buf = append(buf, 0)[:len(buf)]
					}
					n, rerr := rd.Read(buf[len(buf):cap(buf)])
					buf = buf[:len(buf)+n]
					if rerr != nil {
						if !errors.Is(rerr, io.EOF) {
							err = rerr
						}
						break
					}
				}
				frame = buf
			}
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.mu.Unlock()
				return
			}
			r.queue = append(r.queue, frame)
			r.frames++
			stop := r.stop || len(r.queue) > 1<<16
			r.mu.Unlock()
			if stop {
				return
			}
		}
	}()
}

// caughtUp reports whether Run may switch to the replacement without losing an event. The
// replacement may be ahead of the old connection: its first event can be newer than frames
// still unread on the old socket. So Run keeps serving the old connection until, for every
// symbol and kind whose id the replacement's first data frame carries, the old connection
// has delivered that id or a later one; from there on the replacement repeats only what was
// delivered (de-duplicated) and then continues. Feeds without ids cannot be compared: then,
// and after half of RolloverLead (at most 5 s), it reports true.
func (s *Session) caughtUp(now time.Time) bool {
	r := s.roll
	if r.deadline.IsZero() {
		r.deadline = now.Add(min(s.opts.RolloverLead/2, 5*time.Second))
		r.peek = s.opts.Adapter.NewParser()
		r.need = map[catchKey]uint64{}
	}
	if now.After(r.deadline) {
		return true
	}
	if !r.sawData {
		r.mu.Lock()
		frames := r.queue[r.peeked:] // appended to, never changed: the header is enough
		r.mu.Unlock()
		for _, f := range frames {
			r.peeked++
			r.batch.Reset()
			_, _ = r.peek.Parse(f, 0, &r.batch) // errors are counted when the frame is handled
			for i := 0; i < r.batch.Len(); i++ {
				rec := r.batch.At(i)
				if s.syms[rec.Symbol] == nil {
					continue
				}
				r.sawData = true
				if dedupable(rec) {
					k := catchKey{rec.Symbol, rec.Kind}
					if id, ok := r.need[k]; !ok || rec.Seq < id {
						r.need[k] = rec.Seq
					}
				}
			}
			if r.sawData {
				break
			}
		}
		if !r.sawData {
			return false // only acks so far: wait for data
		}
	}
	for k, id := range r.need {
		if s.syms[k.sym].lastSeq[k.kind] < id {
			return false
		}
	}
	return true
}

// dedupWindow is how long a rolled-over connection's records are checked against what the
// old connection delivered.
const dedupWindow = 5 * time.Second

// handover asks the replacement's reader to stop after its next frame and, once it has,
// replays the queued frames with de-duplication and returns the new connection to Run
// (ok). Until the reader has stopped it returns ok == false at once and Run keeps serving
// the old connection: waiting here for the replacement's next frame would hold Run — and
// everything the old socket still delivers, and cancellation — for as long as the feed is
// quiet (a test caught Run blocked here for the whole stale bound after the last trade).
//
// With wait (the old connection broke: nothing else to serve), it waits for the reader, up
// to the stale bound or until ctx ends.
func (s *Session) handover(ctx context.Context, wait bool) (conn *websocket.Conn, ok bool, err error) {
	r := s.roll
	r.mu.Lock()
	r.stop = true
	r.mu.Unlock()
	if wait {
		select {
		case <-r.done:
		case <-ctx.Done():
			s.roll = nil
			r.abandon()
			return nil, true, ctx.Err()
		case <-time.After(s.opts.StaleAfter):
			s.roll = nil
			r.abandon()
			return nil, true, ErrStale
		}
	}
	select {
	case <-r.done:
	default:
		return nil, false, nil
	}
	s.roll = nil
	if r.err != nil {
		return nil, true, r.err
	}
	// The new connection may lag the old one: what it delivers first can already have
	// come from the old one, in the queue or after it. De-duplicate its records (by id per
	// symbol and kind) until it has been the only source for a while.
	s.dedupUntil = time.Now().Add(dedupWindow)
	s.newConnection()
	for _, f := range r.queue {
		if err := s.handle(r.conn, f, time.Now().UnixNano(), true); err != nil {
			r.conn.Close()
			return nil, true, err
		}
	}
	return r.conn, true, errRollover
}
