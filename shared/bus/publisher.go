package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/zmtp"
)

// Options configures a Publisher. Zero fields take the defaults listed here (the one place
// they are written down).
type Options struct {
	// QueueDepth is the number of messages each subscriber's queue holds before the
	// oldest is dropped. Default 4096.
	QueueDepth int
	// MaxMessageBytes is the largest topic+payload Publish accepts, in bytes. It bounds
	// each queue slot, so a subscriber's queue never exceeds about
	// QueueDepth × MaxMessageBytes. Default 16 KiB.
	MaxMessageBytes int
	// SlotBytes is the capacity preallocated for every queue slot (one contiguous block
	// per subscriber); a slot grows, up to MaxMessageBytes, on the first larger message.
	// Default 512.
	SlotBytes int
	// WriteBatchBytes is the most a subscriber's writer puts into one write call; it
	// also bounds the writer's batch buffer. Default 64 KiB.
	WriteBatchBytes int
	// MaxSubscribers limits established subscribers (handshakes in progress are
	// limited separately, by MaxHandshakes). A connection arriving when it is reached
	// is closed on accept, one completing its handshake then is closed; both are
	// counted in PublisherStats.Rejected and Refused[RefusedSubscriberLimit].
	// Default 64.
	MaxSubscribers int
	// MaxHandshakes limits connections in the ZMTP handshake at once (each costs a
	// goroutine and about 3 KiB). When a new connection arrives with MaxHandshakes in
	// progress, the oldest handshake whose peer has not sent its greeting is closed (the
	// oldest of all when every one has greeted), counted in
	// Refused[RefusedHandshakeLimit]: connections that never greet cannot keep a real
	// subscriber out, whose handshake takes a round trip or two. Default 128.
	MaxHandshakes int
	// MaxSubscriptions limits distinct prefixes per subscriber; a subscriber that asks
	// for more is disconnected as malformed. Default 256.
	MaxSubscriptions int
	// MaxPrefixBytes limits the length of one subscription prefix; a longer one
	// disconnects the subscriber as malformed. Default 256.
	MaxPrefixBytes int
	// Curve, when set, requires CURVE security (RFC 26) from every subscriber; nil
	// means NULL (no security).
	Curve *CurveServer
	// StallTimeout is how long one batch write to a subscriber may take. A subscriber
	// that does not take a batch (≤ WriteBatchBytes) within it is disconnected and
	// counted in PublisherStats.StallDisconnects. Default 5s.
	StallTimeout time.Duration
	// HandshakeTimeout bounds the ZMTP greeting and READY exchange. Default 5s.
	HandshakeTimeout time.Duration
	// DirectWriteGap: a message that reaches an idle subscriber (empty queue, nothing
	// being written) at least this long after the previous one is written by Publish
	// itself with one non-blocking write, saving the wake-up of the subscriber's writer
	// goroutine; in bursts the queue and the batching writer take over. Default 20µs;
	// negative disables direct writes.
	DirectWriteGap time.Duration
	// SendBufferBytes sets SO_SNDBUF on accepted connections when > 0. Smaller kernel
	// buffers make a slow subscriber show up sooner as drops instead of as latency.
	// Default 0: the OS default.
	SendBufferBytes int
	// WriterSpin (low-latency mode) makes each subscriber's writer goroutine poll its
	// queue for this long after its last write before it sleeps, on an OS thread of its
	// own (runtime.LockOSThread): a message queued meanwhile is written without a
	// wake-up. 0 = off: the writer sleeps as soon as the queue is empty.
	WriterSpin time.Duration
}

func (o *Options) setDefaults() {
	if o.QueueDepth <= 0 {
		o.QueueDepth = 4096
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 16 << 10
	}
	if o.SlotBytes <= 0 {
		o.SlotBytes = 512
	}
	if o.SlotBytes > o.MaxMessageBytes+2*maxFrameOverhead {
		o.SlotBytes = o.MaxMessageBytes + 2*maxFrameOverhead
	}
	if o.WriteBatchBytes <= 0 {
		o.WriteBatchBytes = 64 << 10
	}
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = 64
	}
	if o.MaxHandshakes <= 0 {
		o.MaxHandshakes = 128
	}
	if o.MaxSubscriptions <= 0 {
		o.MaxSubscriptions = 256
	}
	if o.MaxPrefixBytes <= 0 {
		o.MaxPrefixBytes = 256
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 5 * time.Second
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.DirectWriteGap == 0 {
		o.DirectWriteGap = 20 * time.Microsecond
	}
}

// maxInboundFrame bounds frames a subscriber may send to a publisher: subscriptions and
// small commands only.
const maxInboundFrame = 4096

// PublisherStats are a publisher's running totals since NewPublisher.
type PublisherStats struct {
	Published        uint64 // messages accepted by Publish
	NoSubscriber     uint64 // accepted messages that matched no subscriber
	Oversize         uint64 // messages rejected with ErrMessageTooLarge
	Dropped          uint64 // messages dropped from full queues, all subscribers ever
	Accepted         uint64 // connections that completed the handshake
	Rejected         uint64 // connections refused because MaxSubscribers was reached
	HandshakeFailed  uint64 // connections that failed, timed out or were evicted in the handshake
	Malformed        uint64 // connections closed for breaking ZMTP framing or limits after the handshake
	StallDisconnects uint64 // subscribers disconnected after StallTimeout
	Subscribers      int    // subscribers connected now
	Handshaking      int    // connections in the handshake now
	// Refused counts every refused or disconnected connection by reason (index by
	// Refusal; Refusal.String is the metrics label). A connection is counted once.
	Refused [NumRefusals]uint64
}

// SubscriberStats describe one connected subscriber as seen by the publisher.
type SubscriberStats struct {
	Remote        string   // peer address
	Key           string   // CURVE: the subscriber's long-term public key (Z85); "" with NULL
	Sent          uint64   // messages written to the connection
	Direct        uint64   // of those, written by Publish itself (see Options.DirectWriteGap)
	Dropped       uint64   // messages dropped, oldest first, because the queue was full
	Bytes         uint64   // bytes written, framing included
	Queued        int      // messages waiting in the queue now
	Subscriptions []string // subscribed prefixes ("" is everything)
}

// Publisher is the PUB side of the bus: it listens on one endpoint, speaks ZMTP 3.0 to
// every subscriber (libzmq, zmq4 or tickline's Subscriber) and fans each published
// message out to the subscribers whose prefixes match.
//
// Each subscriber has its own bounded queue and its own writer goroutine, so a slow or
// stalled subscriber loses its own oldest messages (SubscriberStats.Dropped) and is
// disconnected after Options.StallTimeout; it never blocks Publish or other subscribers.
// Receivers see such drops as gaps in the per-gateway sequence number (see SeqTracker).
//
// Goroutines: NewPublisher starts an accept loop; each connection gets a reader
// goroutine (handshake, then subscriptions and PINGs) and a writer goroutine. Close
// stops and waits for all of them.
type Publisher struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	addr string

	mu          sync.Mutex                 // guards conns, handshaking, closed, and writes to subs
	conns       map[net.Conn]struct{}      // every accepted, not yet finished connection
	handshaking map[net.Conn]*handshakeEnt // connections in the handshake
	hsSeq       uint64                     // handshake arrival order, under mu
	zcfg        *zmtp.Config               // our end of every handshake (read-only)
	closed      bool
	subs        atomic.Pointer[[]*pubConn] // copy-on-write snapshot read by Publish
	wg          sync.WaitGroup
	once        sync.Once

	isClosed         atomic.Bool
	nextID           atomic.Uint64
	published        atomic.Uint64
	noSubscriber     atomic.Uint64
	oversize         atomic.Uint64
	droppedGone      atomic.Uint64 // drops of subscribers that have left
	accepted         atomic.Uint64
	rejected         atomic.Uint64
	handshakeFailed  atomic.Uint64
	malformed        atomic.Uint64
	stallDisconnects atomic.Uint64
	refused          [NumRefusals]atomic.Uint64
}

// handshakeEnt is one connection in the handshake: its arrival order and whether the
// accept loop evicted it to make room (guarded by Publisher.mu).
type handshakeEnt struct {
	seq     uint64
	greeted bool // the peer's greeting arrived
	evicted bool
}

// NewPublisher listens on endpoint ("tcp://host:port", port 0 picks one, or
// "ipc:///path", replacing a stale socket file) and starts accepting subscribers.
// logger may be nil. Call Close to stop.
func NewPublisher(endpoint string, opts Options, logger *slog.Logger) (*Publisher, error) {
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	opts.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := listen(ep)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		opts:        opts,
		log:         logger.With("component", "bus.publisher", "endpoint", endpointString(ep, ln.Addr())),
		ln:          ln,
		addr:        endpointString(ep, ln.Addr()),
		conns:       make(map[net.Conn]struct{}),
		handshaking: make(map[net.Conn]*handshakeEnt),
		zcfg:        opts.Curve.config(),
	}
	empty := []*pubConn{}
	p.subs.Store(&empty)
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the listener's address (with the real port when 0 was asked for).
func (p *Publisher) Addr() net.Addr { return p.ln.Addr() }

// Endpoint returns the endpoint subscribers should connect to, e.g. "tcp://127.0.0.1:40123".
func (p *Publisher) Endpoint() string { return p.addr }

// Publish queues topic and payload for every subscriber whose prefix matches topic.
//
// It never blocks on I/O: it copies the message into each matching subscriber's queue
// (dropping that subscriber's oldest message when the queue is full) and wakes the
// subscriber's writer, or, for a subscriber that was idle (see Options.DirectWriteGap),
// offers the message to its socket with one non-blocking write. The caller may reuse topic and payload as soon as Publish returns.
// It does not allocate once the queues' slots have grown to the message sizes in use.
//
// Publish is safe for concurrent use, but messages published concurrently have no
// defined order; a gateway should publish from one goroutine so that its sequence
// numbers reach every subscriber in order. It returns ErrMessageTooLarge when
// len(topic)+len(payload) > Options.MaxMessageBytes and ErrClosed after Close.
func (p *Publisher) Publish(topic, payload []byte) error {
	if p.isClosed.Load() {
		return ErrClosed
	}
	if len(topic)+len(payload) > p.opts.MaxMessageBytes {
		p.oversize.Add(1)
		return ErrMessageTooLarge
	}
	p.published.Add(1)
	matched := false
	now := monoNow()
	for _, c := range *p.subs.Load() {
		if c.push(topic, payload, now) {
			matched = true
		}
	}
	if !matched {
		p.noSubscriber.Add(1)
	}
	return nil
}

// clockBase anchors monoNow: time.Since reads the monotonic clock only.
var clockBase = time.Now()

// monoNow is a monotonic reading in ns (no wall-clock jumps), cheap enough per Publish.
func monoNow() int64 { return int64(time.Since(clockBase)) }

// MaxQueued returns the longest subscriber queue right now, in messages. A producer that
// must not lose data (replay "as fast as possible") can pace itself by keeping it below
// Options.QueueDepth. It does not allocate.
func (p *Publisher) MaxQueued() int {
	m := 0
	for _, c := range *p.subs.Load() {
		c.mu.Lock()
		if c.count > m {
			m = c.count
		}
		c.mu.Unlock()
	}
	return m
}

// Unsent returns the most messages any subscriber still has to receive from this
// process: queued, or taken by its writer and not yet accepted by the socket (a batch
// in a blocking write, the rest of a direct write count as one). MaxQueued counts the
// queue alone, so it reads 0 while the last batch may still be waiting for the socket.
func (p *Publisher) Unsent() int {
	m := 0
	for _, c := range *p.subs.Load() {
		if n := c.unsent(); n > m {
			m = n
		}
	}
	return m
}

// Drain waits until no subscriber has anything unsent (see Unsent), or until timeout
// has passed or ctx is done, and returns what is still unsent then. Call it before
// Close to hand the last messages to the sockets: Close ends the connections at once.
func (p *Publisher) Drain(ctx context.Context, timeout time.Duration) int {
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		n := p.Unsent()
		if n == 0 {
			return 0
		}
		select {
		case <-tick.C:
		case <-t.C:
			return n
		case <-ctx.Done():
			return n
		}
	}
}

// Subscribed returns how many connected subscribers hold at least one subscription: the
// ones a message can reach (a gateway holding its sessions until N receivers are there,
// a replay or a shaper waiting for its audience). It does not allocate.
func (p *Publisher) Subscribed() int {
	n := 0
	for _, c := range *p.subs.Load() {
		c.mu.Lock()
		if len(c.subs.set) > 0 {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// Stats returns one entry per connected subscriber, in connection order. It allocates;
// call it from monitoring, not per message.
func (p *Publisher) Stats() []SubscriberStats {
	subs := *p.subs.Load()
	out := make([]SubscriberStats, 0, len(subs))
	for _, c := range subs {
		out = append(out, c.stats())
	}
	return out
}

// Totals returns the publisher's running totals.
func (p *Publisher) Totals() PublisherStats {
	subs := *p.subs.Load()
	t := PublisherStats{
		Published:        p.published.Load(),
		NoSubscriber:     p.noSubscriber.Load(),
		Oversize:         p.oversize.Load(),
		Dropped:          p.droppedGone.Load(),
		Accepted:         p.accepted.Load(),
		Rejected:         p.rejected.Load(),
		HandshakeFailed:  p.handshakeFailed.Load(),
		Malformed:        p.malformed.Load(),
		StallDisconnects: p.stallDisconnects.Load(),
		Subscribers:      len(subs),
	}
	for i := range t.Refused {
		t.Refused[i] = p.refused[i].Load()
	}
	p.mu.Lock()
	t.Handshaking = len(p.handshaking)
	p.mu.Unlock()
	for _, c := range subs {
		c.mu.Lock()
		t.Dropped += c.dropped
		c.mu.Unlock()
	}
	return t
}

// Close stops accepting, disconnects every subscriber (messages still queued are
// discarded) and waits for all of the publisher's goroutines. An ipc socket file is
// removed. Close is idempotent and safe for concurrent use.
func (p *Publisher) Close() error {
	var err error
	p.once.Do(func() {
		p.isClosed.Store(true)
		p.mu.Lock()
		p.closed = true
		err = p.ln.Close()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return err
}

func (p *Publisher) acceptLoop() {
	defer p.wg.Done()
	var delay time.Duration
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if p.isClosed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failure such as EMFILE: back off briefly rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			conn.Close()
			return
		case len(*p.subs.Load()) >= p.opts.MaxSubscribers:
			p.mu.Unlock()
			p.rejected.Add(1)
			p.refused[RefusedSubscriberLimit].Add(1)
			p.log.Warn("subscriber refused: too many subscribers", "remote", conn.RemoteAddr().String(), "max", p.opts.MaxSubscribers)
			conn.Close()
			continue
		}
		if len(p.handshaking) >= p.opts.MaxHandshakes {
			p.evictOldestHandshake()
		}
		p.hsSeq++
		p.handshaking[conn] = &handshakeEnt{seq: p.hsSeq}
		p.conns[conn] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(conn)
	}
}

// serve owns one accepted connection: handshake, then it runs the reader in this
// goroutine and the writer in another, and cleans up when either fails.
func (p *Publisher) serve(conn net.Conn) {
	defer p.wg.Done()
	defer func() {
		conn.Close()
		p.mu.Lock()
		delete(p.conns, conn)
		p.mu.Unlock()
	}()
	remote := remoteString(conn, p.nextID.Add(1))
	if p.opts.SendBufferBytes > 0 {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(p.opts.SendBufferBytes)
		}
	}

	_ = conn.SetDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	zcfg := *p.zcfg
	zcfg.OnGreeting = func() {
		p.mu.Lock()
		if e := p.handshaking[conn]; e != nil {
			e.greeted = true
		}
		p.mu.Unlock()
	}
	sess, err := zmtp.Handshake(conn, &zcfg)
	p.mu.Lock()
	evicted := p.handshaking[conn].evicted
	delete(p.handshaking, conn)
	p.mu.Unlock()
	if err != nil {
		reason := classifyHandshake(err)
		if evicted {
			reason = RefusedHandshakeLimit
		}
		p.handshakeFailed.Add(1)
		p.refused[reason].Add(1)
		p.log.Info("subscriber handshake failed", "remote", remote, "reason", reason.String(), "err", err)
		return
	}
	_ = conn.SetDeadline(time.Time{})

	c := newPubConn(p, conn, remote, sess)
	if !p.addSub(c) {
		p.rejected.Add(1)
		p.refused[RefusedSubscriberLimit].Add(1)
		p.log.Warn("subscriber refused: too many subscribers", "remote", remote, "max", p.opts.MaxSubscribers)
		return
	}
	p.accepted.Add(1)
	p.log.Info("subscriber connected", "remote", remote)

	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	err = c.readLoop()
	c.shutdown()
	wg.Wait()

	p.removeSub(c)
	c.mu.Lock()
	dropped := c.dropped
	c.mu.Unlock()
	p.droppedGone.Add(dropped)

	switch {
	case c.stalled.Load():
		p.stallDisconnects.Add(1)
		p.log.Warn("subscriber disconnected: stalled", "remote", remote, "stall_timeout", p.opts.StallTimeout, "dropped", dropped)
	default:
		reason, bad := classifyTraffic(err)
		if !bad {
			p.log.Info("subscriber disconnected", "remote", remote, "err", err, "dropped", dropped)
			break
		}
		p.malformed.Add(1)
		p.refused[reason].Add(1)
		p.log.Warn("subscriber disconnected: malformed input", "remote", remote, "reason", reason.String(), "err", err)
	}
}

// evictOldestHandshake closes the connection that has been in the handshake longest,
// preferring one that has not even sent its greeting: a flood of silent connections
// cannot evict handshakes that are making progress. Its serve goroutine counts it as
// RefusedHandshakeLimit. Called under p.mu, with MaxHandshakes entries (a short scan).
func (p *Publisher) evictOldestHandshake() {
	var oldest net.Conn
	var ent *handshakeEnt
	for c, e := range p.handshaking {
		if e.evicted {
			continue
		}
		if ent == nil || (!e.greeted && ent.greeted) || (e.greeted == ent.greeted && e.seq < ent.seq) {
			oldest, ent = c, e
		}
	}
	if ent != nil {
		ent.evicted = true
		oldest.Close()
	}
}

// addSub registers an established subscriber, unless MaxSubscribers are already
// registered.
func (p *Publisher) addSub(c *pubConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	if len(old) >= p.opts.MaxSubscribers {
		return false
	}
	next := make([]*pubConn, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	p.subs.Store(&next)
	return true
}

func (p *Publisher) removeSub(c *pubConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.subs.Load()
	next := make([]*pubConn, 0, len(old))
	for _, o := range old {
		if o != c {
			next = append(next, o)
		}
	}
	p.subs.Store(&next)
}

// remoteString names a peer: its address for tcp; unix peers have none, so they are
// numbered in accept order.
func remoteString(c net.Conn, id uint64) string {
	if a := c.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return fmt.Sprintf("%s-peer-%d", c.LocalAddr().Network(), id)
}
