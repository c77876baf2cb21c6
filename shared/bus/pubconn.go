package bus

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tickline/tickline/shared/zmtp"
)

// pubConn is one subscriber of a Publisher: its subscriptions, its bounded queue and the
// state of its writer.
//
// Ownership: Publish (any goroutine) pushes under mu; the writer goroutine pops under
// mu and alone writes to conn; the reader goroutine alone reads conn and updates subs
// under mu. Lock order (ARCHITECTURE.md, "Lock order"): Publisher.mu may be held while
// taking pubConn.mu, never the reverse.
//
// Why the bus frames messages itself instead of calling zmq4's Conn.SendMsg over a
// buffering net.Conn: both end in one write per batch, but the queue must copy the
// caller's buffers anyway (Publish lets the caller reuse them), and SendMsg would then
// re-frame that copy through the Security interface, two writes per frame, with a Msg
// built per message. Measured in BenchmarkEncode (2-core VM, 20-byte topic, 200-byte
// payload): appendMessage ≈ 17–26 ns, 0 allocs; SendMsg into a buffering conn
// ≈ 134–207 ns, 2 allocs (32 B). Encoding straight into the queue slot is the one copy
// the design needs.
//
// Direct writes: waking the writer goroutine costs a scheduler hand-off per message when
// messages come one at a time, which is most of the bus's latency above the raw socket.
// So when a message arrives after a pause (Options.DirectWriteGap since the previous one),
// the queue is empty and nobody is writing, push frames it and tries one non-blocking
// write(2) itself. Whatever the socket does not take (a partial write, EAGAIN) is handed to
// the writer goroutine as c.partial, which it writes before anything else; in a burst the
// queue and the batching writer take over. Publish still never blocks on I/O.
type pubConn struct {
	p      *Publisher
	conn   net.Conn
	raw    syscall.RawConn // nil: no direct writes (a conn without a file descriptor)
	remote string
	// sess is the handshake's outcome. With CURVE, whoever writes (the writer token
	// below) seals frames with it, so nonces grow in the order bytes reach the wire;
	// the reader goroutine alone opens what arrives.
	sess *zmtp.Session

	mu         sync.Mutex
	subs       subscriptions
	slots      [][]byte // ring of framed messages; grows by doubling up to QueueDepth as it fills (see grow)
	head       int      // index of the oldest queued message
	count      int      // queued messages
	dropped    uint64   // messages overwritten while queued
	pong       [maxPingContext]byte
	pongLen    int
	hasPong    bool
	writer     uint8              // who writes to conn now: writerNone, writerDirect (push) or writerLoop
	partial    []byte             // the unwritten rest of a direct write; written first by the writer
	lastPush   int64              // time of the previous matching push, ns (monotonic clock of Publish)
	direct     []byte             // push's framing buffer, owned by whoever set writerDirect
	directEnc  []byte             // CURVE: the sealed direct write, owned like direct
	tryWriteFn func(uintptr) bool // c.tryWrite, bound once
	directN    int                // tryWrite's results, owned like direct
	directErr  error

	wake     chan struct{} // cap 1: "the queue went non-empty" or "PONG pending"
	done     chan struct{} // closed by shutdown
	downOnce sync.Once
	stalled  atomic.Bool

	batch     []byte // writer-owned; cap ≥ WriteBatchBytes + one message
	enc       []byte // writer-owned: the sealed batch (CURVE only)
	sent      atomic.Uint64
	bytes     atomic.Uint64
	directs   atomic.Uint64 // messages written by push itself
	handovers atomic.Uint64 // direct writes the socket did not take whole (rest to the writer)
}

// Who is writing to the connection.
const (
	writerNone   uint8 = iota
	writerDirect       // push, in a non-blocking write
	writerLoop         // the writer goroutine, between a take that found data and the next empty one
)

// ringChunk is the initial ring size, in slots; the ring doubles from there up to
// QueueDepth only when it is full, so a subscriber that keeps up costs
// ringChunk × SlotBytes (32 KiB with the defaults), not QueueDepth × SlotBytes.
const ringChunk = 64

func newPubConn(p *Publisher, conn net.Conn, remote string, sess *zmtp.Session) *pubConn {
	o := &p.opts
	c := &pubConn{
		p:      p,
		conn:   conn,
		remote: remote,
		sess:   sess,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		// Room for a full batch plus one slot-sized message; a message larger than
		// SlotBytes grows the buffer once (at most WriteBatchBytes + MaxMessageBytes).
		batch:  make([]byte, 0, o.WriteBatchBytes+o.SlotBytes+64),
		direct: make([]byte, 0, o.SlotBytes),
	}
	if sc, ok := conn.(syscall.Conn); ok && o.DirectWriteGap >= 0 {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.tryWriteFn = c.tryWrite
		}
	}
	c.slots = c.newSlots(nil, min(o.QueueDepth, ringChunk))
	return c
}

// newSlots appends n empty slots of SlotBytes capacity, carved from one block, to dst.
func (c *pubConn) newSlots(dst [][]byte, n int) [][]byte {
	sb := c.p.opts.SlotBytes
	block := make([]byte, n*sb)
	for i := range n {
		dst = append(dst, block[i*sb:i*sb:(i+1)*sb])
	}
	return dst
}

// grow doubles a full ring (up to QueueDepth), keeping the queued messages in order
// from index 0. It allocates only the new slots; called under mu, only when the ring
// is full and smaller than QueueDepth, so at most log2(QueueDepth/ringChunk) times.
func (c *pubConn) grow() {
	n := len(c.slots)
	next := min(c.p.opts.QueueDepth, 2*n)
	slots := make([][]byte, 0, next)
	slots = append(slots, c.slots[c.head:]...)
	slots = append(slots, c.slots[:c.head]...)
	c.slots = c.newSlots(slots, next-n)
	c.head = 0
}

// push copies the framed message into the queue if topic matches a subscription and
// reports whether it did. When the queue is full the oldest message is overwritten and
// counted as dropped. After a pause, with the queue empty and nobody writing, it writes
// the message itself without blocking (see pubConn). now is Publish's clock reading.
func (c *pubConn) push(topic, payload []byte, now int64) bool {
	c.mu.Lock()
	if !c.subs.match(topic) {
		c.mu.Unlock()
		return false
	}
	gap := now - c.lastPush
	c.lastPush = now
	if c.raw != nil && c.writer == writerNone && c.count == 0 && !c.hasPong && len(c.partial) == 0 &&
		gap >= int64(c.p.opts.DirectWriteGap) {
		c.writer = writerDirect
		c.mu.Unlock()
		c.writeDirect(topic, payload)
		return true
	}
	if c.count == len(c.slots) && len(c.slots) < c.p.opts.QueueDepth {
		c.grow()
	}
	n := len(c.slots)
	var i int
	if c.count == n {
		i = c.head // the oldest slot becomes the newest
		c.head++
		if c.head == n {
			c.head = 0
		}
		c.dropped++
	} else {
		i = c.head + c.count
		if i >= n {
			i -= n
		}
		c.count++
	}
	c.slots[i] = appendMessage(c.slots[i][:0], topic, payload)
	// Only the empty→non-empty transition needs a wake-up: the writer re-checks the
	// queue after every batch and sleeps only when it found it empty. A direct write
	// in progress wakes the writer itself when it ends.
	wake := c.count == 1 && c.writer != writerDirect
	c.mu.Unlock()
	if wake {
		c.signal()
	}
	return true
}

// writeDirect frames one message and offers it to the socket once, without waiting;
// the writer goroutine gets what the socket did not take. The caller set writerDirect.
func (c *pubConn) writeDirect(topic, payload []byte) {
	buf := appendMessage(c.direct[:0], topic, payload)
	c.direct = buf
	var err error
	if c.sess.Secure() {
		c.directEnc, err = c.sess.SealFrames(c.directEnc[:0], buf)
		buf = c.directEnc
		c.direct, c.directEnc = c.directEnc, c.direct // tryWrite writes c.direct
	}
	if err == nil {
		err = c.raw.Write(c.tryWriteFn)
	}
	n, werr := c.directN, c.directErr
	if n < 0 {
		n = 0
	}
	if err == nil && werr != nil && werr != syscall.EAGAIN {
		err = werr
	}
	if err != nil {
		c.mu.Lock()
		c.writer = writerNone
		c.mu.Unlock()
		c.shutdown() // the reader sees the closed connection and reports it
		return
	}
	c.mu.Lock()
	if n < len(buf) {
		c.partial = append(c.partial[:0], buf[n:]...)
		c.handovers.Add(1)
	} else {
		c.sent.Add(1)
		c.directs.Add(1)
	}
	c.bytes.Add(uint64(n))
	c.writer = writerNone
	wake := c.count > 0 || len(c.partial) > 0 || c.hasPong
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// tryWrite is the RawConn.Write callback of writeDirect (a method value made once, so
// that the call does not allocate): one write(2) of c.direct, retried on EINTR only.
func (c *pubConn) tryWrite(fd uintptr) bool {
	for {
		c.directN, c.directErr = syscall.Write(int(fd), c.direct)
		if c.directErr != syscall.EINTR {
			return true // done either way: never wait for the socket here
		}
	}
}

// signal wakes the writer goroutine (a no-op when a wake-up is already pending).
func (c *pubConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take moves the rest of a direct write, a pending PONG and as many queued messages as
// fit in WriteBatchBytes (at least one) into the writer's batch buffer. It returns the
// batch, the number of messages it completes, and how many leading bytes are already
// in wire form (the rest of a direct write, sealed when CURVE is on; the frames after
// it are plain); an empty batch means there is nothing to write now (or push is
// writing: it wakes the writer when it is done). Copying under
// the lock is a memmove of at most WriteBatchBytes; it frees the slots at once so Publish
// can refill them while the batch is on the wire.
func (c *pubConn) take() ([]byte, int, int) {
	limit := c.p.opts.WriteBatchBytes
	buf := c.batch[:0]
	n := 0
	c.mu.Lock()
	if c.writer == writerDirect {
		c.mu.Unlock()
		return nil, 0, 0
	}
	if len(c.partial) > 0 {
		buf = append(buf, c.partial...) // the rest of a message: must go first
		c.partial = c.partial[:0]
		n++
	}
	wire := len(buf)
	if c.hasPong {
		buf = appendCommand(buf, cmdPong, c.pong[:c.pongLen])
		c.hasPong = false
	}
	for c.count > 0 {
		s := c.slots[c.head]
		if n > 0 && len(buf)+len(s) > limit {
			break
		}
		buf = append(buf, s...)
		c.head++
		if c.head == len(c.slots) {
			c.head = 0
		}
		c.count--
		n++
	}
	if c.count == 0 {
		// An empty ring restarts at slot 0, so a writer that keeps up reuses the same
		// few slots (hot in cache) instead of walking the whole ring: Publish's copy
		// into a cold slot costs more than the rest of a small record's path.
		c.head = 0
	}
	if len(buf) > 0 {
		c.writer = writerLoop
	} else {
		c.writer = writerNone
	}
	c.mu.Unlock()
	c.batch = buf
	return buf, n, wire
}

// writeLoop is the subscriber's writer goroutine: it sleeps until woken, then writes
// batches with one write call each until the queue is empty. A batch that cannot be
// written within StallTimeout marks the subscriber stalled and ends the connection.
func (c *pubConn) writeLoop() {
	stall := c.p.opts.StallTimeout
	spin := c.p.opts.WriterSpin
	defer pinThread(spin)()
	for {
		if !c.await(spin) {
			return
		}
		for {
			buf, n, wire := c.take()
			if len(buf) == 0 {
				break
			}
			if c.sess.Secure() {
				var err error
				c.enc = append(c.enc[:0], buf[:wire]...)
				if c.enc, err = c.sess.SealFrames(c.enc, buf[wire:]); err != nil {
					c.shutdown()
					return
				}
				buf = c.enc
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(stall))
			if _, err := c.conn.Write(buf); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					c.stalled.Store(true)
				}
				c.shutdown()
				return
			}
			c.sent.Add(uint64(n))
			c.bytes.Add(uint64(len(buf)))
		}
	}
}

// await waits for a wake-up and reports false when the connection is done. With spin
// (low-latency mode) it first polls the wake-up channel without sleeping for up to spin:
// Publish's signal then lands in a buffered channel the writer is already looking at.
func (c *pubConn) await(spin time.Duration) bool {
	if spin > 0 {
		start := time.Now()
		for time.Since(start) < spin {
			select {
			case <-c.wake:
				return true
			case <-c.done:
				return false
			default:
			}
		}
	}
	select {
	case <-c.wake:
		return true
	case <-c.done:
		return false
	}
}

// readLoop reads what the subscriber sends until the connection fails or the peer
// breaks the protocol, and returns why.
func (c *pubConn) readLoop() error {
	br := bufio.NewReaderSize(c.conn, 4096)
	if c.sess.Secure() {
		br = bufio.NewReaderSize(c.sess.OpenReader(br, maxInboundFrame), 4096)
	}
	cr := ctlReader{fr: frameReader{r: br, max: maxInboundFrame}}
	for {
		op, arg, err := cr.next()
		if err != nil {
			return err
		}
		switch op {
		case opSubscribe:
			c.mu.Lock()
			res := c.subs.add(arg, c.p.opts.MaxSubscriptions, c.p.opts.MaxPrefixBytes)
			c.mu.Unlock()
			switch res {
			case subTooMany:
				return errTooManySubscriptions
			case subTooLong:
				return fmt.Errorf("%w: %d bytes, limit %d", errPrefixTooLong, len(arg), c.p.opts.MaxPrefixBytes)
			}
		case opCancel:
			c.mu.Lock()
			c.subs.remove(arg)
			c.mu.Unlock()
		case opPing:
			c.mu.Lock()
			c.pongLen = copy(c.pong[:], arg)
			c.hasPong = true
			c.mu.Unlock()
			c.signal()
		}
	}
}

// shutdown closes the connection and stops the writer. Safe to call more than once and
// from both goroutines.
func (c *pubConn) shutdown() {
	c.downOnce.Do(func() {
		close(c.done)
		c.conn.Close()
	})
}

// unsent counts the messages still to be written: the queue, plus one for a batch or a
// direct write in progress or the rest of a direct write.
func (c *pubConn) unsent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.count
	if c.writer != writerNone || len(c.partial) > 0 {
		n++
	}
	return n
}

func (c *pubConn) stats() SubscriberStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := ""
	if c.sess.Secure() {
		key = c.sess.PeerKey.String()
	}
	return SubscriberStats{
		Remote:        c.remote,
		Key:           key,
		Sent:          c.sent.Load(),
		Direct:        c.directs.Load(),
		Dropped:       c.dropped,
		Bytes:         c.bytes.Load(),
		Queued:        c.count,
		Subscriptions: c.subs.strings(),
	}
}
