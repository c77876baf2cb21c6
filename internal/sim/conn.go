package sim

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frameKind says how faults treat a queued frame.
type frameKind uint8

const (
	fControl  frameKind = iota // acks, errors, pongs, heartbeats: never faulted, stalled only when dead
	fData                      // BBO, trades, tickers
	fSnapshot                  // a book snapshot on subscribe
	fDelta                     // a book delta or full-book push: subject to gaps and reordering
	fPing                      // a server WebSocket ping
)

// outFrame is one queued WebSocket message. b is never modified after queuing: it may be
// shared by every connection on the same stream.
type outFrame struct {
	b    []byte
	op   byte
	kind frameKind
}

// conn is one client WebSocket connection. Goroutines: the HTTP handler goroutine reads
// (gorilla's ReadMessage) and runs the session; a writer goroutine, started and waited
// for by the handler, writes queued frames in batches straight to the socket.
//
// Lock order: Server.mu before conn.mu.
type conn struct {
	srv  *Server
	hub  *hub
	ws   *websocket.Conn
	nc   net.Conn
	path string
	sess session

	mu     sync.Mutex
	q      []outFrame // guarded by mu
	qBytes int        // guarded by mu
	closed bool       // guarded by mu
	subs   []subRef   // guarded by Server.mu

	wake      chan struct{} // cap 1: the queue became non-empty
	done      chan struct{} // closed by close
	closeOnce sync.Once
	replaying atomic.Bool
	// dead is set by the writer while it plays a dead-but-open socket, so that the
	// reader does not answer application pings either.
	dead atomic.Bool
	wg   sync.WaitGroup // writer and replay goroutines
	num  uint64         // connection number in the event log (0: none yet), guarded by Server.mu
}

// subRef is one subscription of a connection, for cleanup.
type subRef struct {
	b  *book
	st *stream
}

func newConn(s *Server, h *hub, ws *websocket.Conn, path string) *conn {
	c := &conn{srv: s, hub: h, ws: ws, nc: ws.NetConn(), path: path,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.sess = h.v.newSession(c, path)
	return c
}

// push queues a frame. It never blocks; a connection over MaxQueueBytes is closed.
func (c *conn) push(f outFrame) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.q = append(c.q, f)
	c.qBytes += len(f.b)
	over := c.qBytes > c.srv.opts.MaxQueueBytes
	n := len(c.q)
	c.mu.Unlock()
	if over {
		c.hub.cnt.slowCloses.Add(1)
		c.close()
		return
	}
	if n == 1 {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// send queues a control frame (text).
func (c *conn) send(b []byte) { c.push(outFrame{b: b, op: opText, kind: fControl}) }

// sendOp queues a control frame with opcode op.
func (c *conn) sendOp(op byte, b []byte) { c.push(outFrame{b: b, op: op, kind: fControl}) }

// close shuts the socket; the reader and writer then exit. Idempotent, callable from any
// goroutine (it takes only conn.mu).
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.q = nil
		c.mu.Unlock()
		close(c.done)
		c.nc.Close()
	})
}

// serve runs the connection until it ends: it owns the writer goroutine and waits for it.
func (c *conn) serve() {
	c.ws.SetReadLimit(1 << 20)
	c.ws.SetPingHandler(func(data string) error {
		if c.stalledDead() {
			return nil
		}
		c.sendOp(opPong, []byte(data))
		return nil
	})
	c.ws.SetCloseHandler(func(code int, text string) error {
		c.sendOp(opClose, websocket.FormatCloseMessage(code, ""))
		return nil
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.writeLoop()
	}()
	c.sess.open()
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			break
		}
		if c.stalledDead() {
			continue
		}
		c.sess.handle(msg)
	}
	c.close()
	c.wg.Wait()
	c.srv.unsubscribeAll(c)
}

// stalledDead reports whether the connection plays a dead-but-open socket.
func (c *conn) stalledDead() bool { return c.dead.Load() }

// writer state, owned by the writer goroutine.
type writer struct {
	c        *conn
	bw       *bufio.Writer
	hdr      []byte
	fault    *Fault
	data     int // data frames seen since the fault was set
	deltas   int
	held     *outFrame
	stalled  bool
	stallEnd time.Time
	stallRan bool
}

// writeLoop writes queued frames until the connection closes.
func (c *conn) writeLoop() {
	w := &writer{c: c, bw: bufio.NewWriterSize(c.nc, 64<<10)}
	var pingC, hbC, discC <-chan time.Time
	if iv := c.hub.pingInterval; iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		pingC = t.C
	}
	hbEvery, hbOp, hbFrame := venueHeartbeat(c.hub.v)
	if hbEvery > 0 && c.srv.opts.PingInterval > 0 {
		hbEvery = c.srv.opts.PingInterval
	}
	if hbEvery > 0 {
		t := time.NewTicker(hbEvery)
		defer t.Stop()
		hbC = t.C
	}
	var batch []outFrame
	for {
		f := c.hub.fault.Load()
		if f != w.fault {
			w.reset(f)
		}
		if w.fault.DisconnectAfterTime > 0 && discC == nil {
			t := time.NewTimer(w.fault.DisconnectAfterTime)
			defer t.Stop()
			discC = t.C
		}
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-pingC:
			c.sendOp(opPing, nil)
			continue
		case <-hbC:
			c.sendOp(hbOp, hbFrame)
			continue
		case <-discC:
			c.hub.cnt.disconnects.Add(1)
			c.close()
			return
		}
		c.mu.Lock()
		batch, c.q = c.q, batch[:0]
		c.qBytes = 0
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for i := range batch {
			if !w.write(&batch[i]) {
				c.close()
				return
			}
			batch[i] = outFrame{}
			if c.srv.opts.FramePerEvent && w.bw.Buffered() > 0 { // one write per frame
				if err := w.bw.Flush(); err != nil {
					c.close()
					return
				}
			}
		}
		if err := w.bw.Flush(); err != nil {
			c.close()
			return
		}
		// More may have arrived while writing.
		c.mu.Lock()
		more := len(c.q) > 0
		c.mu.Unlock()
		if more {
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (w *writer) reset(f *Fault) {
	w.fault, w.data, w.deltas, w.stalled, w.stallRan = f, 0, 0, false, false
	w.c.dead.Store(false)
}

// write applies the faults to one frame and writes what remains; false ends the
// connection.
func (w *writer) write(f *outFrame) bool {
	ft, cnt := w.fault, &w.c.hub.cnt
	if w.stalled && ft.StallFor > 0 && time.Now().After(w.stallEnd) {
		w.stalled = false
		w.c.dead.Store(false)
	}
	if f.kind == fControl || f.kind == fPing {
		if w.stalled && ft.StallHeartbeats {
			return true
		}
		return w.raw(f.op, f.b)
	}
	w.data++
	if w.stalled {
		return true
	}
	if ft.DisconnectAfter > 0 && w.data > ft.DisconnectAfter {
		cnt.disconnects.Add(1)
		return false
	}
	if ft.StallAfter > 0 && w.data > ft.StallAfter && !w.stallRan {
		w.stalled, w.stallRan = true, true
		w.stallEnd = time.Now().Add(ft.StallFor)
		if ft.StallHeartbeats {
			w.c.dead.Store(true)
		}
		cnt.stalls.Add(1)
		return true
	}
	if f.kind == fDelta {
		w.deltas++
		if ft.GapEvery > 0 && w.deltas%ft.GapEvery == 0 {
			cnt.gaps.Add(1)
			return true
		}
		if ft.ReorderEvery > 0 && w.deltas%ft.ReorderEvery == 0 && w.held == nil {
			h := *f
			w.held = &h
			cnt.reorders.Add(1)
			return true
		}
	}
	if ft.MalformedEvery > 0 && w.data%ft.MalformedEvery == 0 {
		cnt.malformed.Add(1)
		if !w.raw(f.op, f.b[:len(f.b)/2]) {
			return false
		}
	}
	if ft.OversizedEvery > 0 && w.data%ft.OversizedEvery == 0 {
		cnt.oversized.Add(1)
		if !w.raw(f.op, w.c.srv.oversizedFrame()) {
			return false
		}
	}
	if !w.data1(f) {
		return false
	}
	if w.held != nil && f.kind == fDelta {
		h := w.held
		w.held = nil
		if !w.data1(h) {
			return false
		}
	}
	if ft.DuplicateEvery > 0 && w.data%ft.DuplicateEvery == 0 {
		cnt.duplicates.Add(1)
		return w.raw(f.op, f.b)
	}
	return true
}

// data1 writes one data frame and counts it.
func (w *writer) data1(f *outFrame) bool {
	cnt := &w.c.hub.cnt
	cnt.frames.Add(1)
	cnt.bytes.Add(uint64(len(f.b)))
	return w.raw(f.op, f.b)
}

// raw writes one WebSocket frame into the batch buffer.
func (w *writer) raw(op byte, b []byte) bool {
	w.hdr = appendFrameHeader(w.hdr[:0], op, len(b))
	if _, err := w.bw.Write(w.hdr); err != nil {
		return false
	}
	_, err := w.bw.Write(b)
	return err == nil
}
