package session

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
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

// dedupWindow is how long a rolled-over connection's records are checked against what the
// old connection delivered.
const dedupWindow = 5 * time.Second

// handover waits for the replacement's reader to stop after its next frame, replays the
// queued frames with de-duplication and returns the new connection to Run.
func (s *Session) handover() (*websocket.Conn, error) {
	r := s.roll
	s.roll = nil
	r.mu.Lock()
	r.stop = true
	r.mu.Unlock()
	select {
	case <-r.done:
	case <-time.After(s.opts.StaleAfter):
		r.abandon()
		return nil, ErrStale
	}
	if r.err != nil {
		return nil, r.err
	}
	// The new connection may lag the old one: what it delivers first can already have
	// come from the old one, in the queue or after it. De-duplicate its records (by id per
	// symbol and kind) until it has been the only source for a while.
	s.dedupUntil = time.Now().Add(dedupWindow)
	for _, f := range r.queue {
		if err := s.handle(r.conn, f, time.Now().UnixNano(), true); err != nil {
			r.conn.Close()
			return nil, err
		}
	}
	return r.conn, errRollover
}
