package bus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/zmtp"
)

// SubOptions configures a Subscriber. Zero fields take the defaults listed here.
type SubOptions struct {
	// MaxMessageBytes is the largest topic+payload accepted from a publisher; a larger
	// frame is a protocol error and the connection is re-established. Default 64 KiB.
	MaxMessageBytes int
	// BatchMessages is the most messages handed to the handler in one call. Default 512.
	BatchMessages int
	// BatchBytes is the capacity of a batch's byte arena. A message larger than it
	// gets a batch of its own, whose arena grows to fit (and stays grown while the
	// batch is recycled). Default 256 KiB.
	BatchBytes int
	// QueueBatches bounds the batches waiting for the handler while it is busy with
	// another (see Run). When it is full the readers stop reading, TCP pushes back and the
	// publishers drop for this subscriber (seen as sequence gaps). Default 64.
	QueueBatches int
	// ReadBufferBytes is the size of each connection's read buffer. Default 64 KiB.
	ReadBufferBytes int
	// ReconnectMin and ReconnectMax bound the reconnect backoff: exponential from
	// ReconnectMin, capped at ReconnectMax, with full jitter; retries never stop.
	// Defaults 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration
	// HandshakeTimeout bounds dial plus ZMTP handshake, and writes of subscriptions.
	// Default 5s.
	HandshakeTimeout time.Duration
	// Heartbeat is the ZMTP PING interval. A connection that delivers nothing for
	// 3 × Heartbeat is considered dead and re-established. Negative disables heartbeats
	// (a dead peer is then noticed only by TCP). Default 1s.
	Heartbeat time.Duration
	// Curve, when set, connects with CURVE security (RFC 26); nil means NULL.
	Curve *CurveClient
	// ReadSpin (low-latency mode) makes each connection's reader poll its socket with
	// non-blocking reads for this long after its last data before it parks in the
	// poller, on an OS thread of its own. 0 = off.
	ReadSpin time.Duration
	// OnState, when set, is called from the endpoint's goroutine each time a
	// connection comes up, goes down, or an attempt to connect fails. It must return
	// quickly.
	OnState func(StateEvent)
}

func (o *SubOptions) setDefaults() {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 64 << 10
	}
	if o.BatchMessages <= 0 {
		o.BatchMessages = 512
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 256 << 10
	}
	if o.QueueBatches <= 0 {
		o.QueueBatches = 64
	}
	if o.ReadBufferBytes <= 0 {
		o.ReadBufferBytes = 64 << 10
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 100 * time.Millisecond
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 5 * time.Second
	}
	o.ReconnectMax = max(o.ReconnectMax, o.ReconnectMin)
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 5 * time.Second
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = time.Second
	}
}

// StateEvent reports a connection to one publisher coming up or going down.
type StateEvent struct {
	Endpoint  int    // index of the endpoint in Connect order
	Address   string // the endpoint as given to Connect
	Connected bool   // true: handshake done and subscriptions sent; false: connection lost
	Err       error  // why the connection went down or could not be made; nil when up
}

// Message is one message received from a publisher.
//
// Ownership: Topic and Payload point into a buffer the Subscriber reuses; they are valid
// only until the handler call that received them returns. Copy what must outlive it.
type Message struct {
	Endpoint int    // index of the publisher's endpoint in Connect order
	Topic    []byte // first frame
	Payload  []byte // second frame (nil for single-frame messages)
}

// EndpointStats describe the subscriber's connection to one publisher.
type EndpointStats struct {
	Endpoint    string // as given to Connect
	Connected   bool   // a connection is up now
	Connects    uint64 // successful handshakes
	Disconnects uint64 // connections lost after a successful handshake
	DialErrors  uint64 // failed dials and handshakes
	Messages    uint64 // messages delivered to batches
	Bytes       uint64 // topic+payload bytes delivered
	// Malformed counts connections dropped for protocol violations plus skipped
	// messages that had more than two frames.
	Malformed uint64
	// WriteErrors counts failed writes to the publisher (subscriptions, PING, PONG). A
	// heartbeat refused by a peer that has gone leaves the connection to its reader (it
	// takes what is buffered, then sees EOF); a failed subscription write or a write
	// deadline closes it (the reader reconnects and resends the subscriptions).
	WriteErrors uint64
	// Refused counts failed handshakes and connections dropped for breaking the
	// protocol, by reason (index by Refusal).
	Refused [NumRefusals]uint64
}

// Subscriber is the SUB side of the bus: it connects to many publishers (typically one
// per gateway), keeps each connection up by itself (reconnect with backoff, subscriptions
// resent on every connect) and delivers what arrives in batches to one handler.
//
// Goroutines: Run starts one reader goroutine per endpoint and calls the handler from
// the goroutine that called Run, so downstream state touched by the handler has exactly
// one owner. Readers build batches and hand them over through a bounded channel; they
// never allocate per message.
//
// Subscribe and Unsubscribe are safe for concurrent use, before or during Run.
type Subscriber struct {
	opts SubOptions
	log  *slog.Logger

	mu        sync.Mutex // guards everything below; taken before subConn.wmu
	endpoints []*subConn
	prefixes  []string
	running   bool
	closed    bool
	cancel    context.CancelFunc
}

// subConn is the state of one endpoint. Its reader goroutine owns the connection's
// read side; writes (subscriptions, PING, PONG) go through wmu.
type subConn struct {
	index int
	raw   string
	ep    endpoint

	conn net.Conn      // live connection after handshake, nil otherwise; guarded by Subscriber.mu
	sess *zmtp.Session // its handshake outcome; guarded by Subscriber.mu
	wmu  sync.Mutex    // serialises writes to the live connection (and CURVE sealing)
	wbuf []byte        // sealed writes (CURVE), under wmu

	connected   atomic.Bool
	connects    atomic.Uint64
	disconnects atomic.Uint64
	dialErrors  atomic.Uint64
	messages    atomic.Uint64
	bytes       atomic.Uint64
	malformed   atomic.Uint64
	writeErrors atomic.Uint64
	refused     [NumRefusals]atomic.Uint64
}

// NewSubscriber returns a Subscriber with no endpoints and no subscriptions (a ZeroMQ
// subscriber receives nothing until it subscribes). logger may be nil.
func NewSubscriber(opts SubOptions, logger *slog.Logger) *Subscriber {
	opts.setDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Subscriber{opts: opts, log: logger.With("component", "bus.subscriber")}
}

// Connect adds publisher endpoints (tcp://host:port or ipc://path). Message.Endpoint is
// the index of an endpoint across all Connect calls, in order. Connect must be called
// before Run; it only validates and records, connections are made by Run.
func (s *Subscriber) Connect(endpoints ...string) error {
	parsed := make([]endpoint, len(endpoints))
	for i, e := range endpoints {
		ep, err := parseEndpoint(e)
		if err != nil {
			return err
		}
		if ep.network == "tcp" && ep.address[0] == ':' {
			return fmt.Errorf("%w: %q: cannot connect to a wildcard host", ErrBadEndpoint, e)
		}
		parsed[i] = ep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return ErrRunning
	}
	for i, ep := range parsed {
		s.endpoints = append(s.endpoints, &subConn{index: len(s.endpoints), raw: endpoints[i], ep: ep})
	}
	return nil
}

// Subscribe adds topic prefixes ("" receives everything) and sends them to every live
// connection; future connections get them during their handshake. Subscribing to a
// prefix twice has no further effect. It blocks at most HandshakeTimeout per live
// connection; a connection that cannot take the write is re-established.
func (s *Subscriber) Subscribe(prefixes ...string) {
	s.changeSubs(prefixes, 1)
}

// Unsubscribe removes topic prefixes and tells every live connection.
func (s *Subscriber) Unsubscribe(prefixes ...string) {
	s.changeSubs(prefixes, 0)
}

func (s *Subscriber) changeSubs(prefixes []string, op byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var frames []byte
	for _, p := range prefixes {
		i := slices.Index(s.prefixes, p)
		switch {
		case op == 1 && i < 0:
			s.prefixes = append(s.prefixes, p)
		case op == 0 && i >= 0:
			s.prefixes = slices.Delete(s.prefixes, i, i+1)
		default:
			continue
		}
		frames = appendSubscription(frames, op, p)
	}
	if len(frames) == 0 {
		return
	}
	for _, sc := range s.endpoints {
		if sc.conn != nil {
			s.write(sc, sc.conn, sc.sess, frames, true)
		}
	}
}

// appendSubscription encodes a ZMTP 3.0 message-style (un)subscription, which every
// ZMTP 3.x peer understands (3.1 peers must accept it from 3.0 peers, and zmq4 greets as
// 3.0).
func appendSubscription(dst []byte, op byte, prefix string) []byte {
	body := make([]byte, 0, 1+len(prefix))
	body = append(body, op)
	body = append(body, prefix...)
	return appendFrame(dst, 0, body)
}

// write sends the frames b on conn (sealed first when the session is CURVE) with a
// deadline. A failed write is counted. When it may have left the stream cut mid-frame (a
// deadline) or lost a subscription (subscription writes, control set), the connection
// is closed so that the reader reconnects and resends the subscriptions. A heartbeat
// refused by a peer that has gone (EPIPE, ECONNRESET) leaves the connection to its
// reader instead: a publisher that sent its last messages and closed refuses our PING,
// yet what it sent is still in our receive buffer; the reader takes it all, then sees
// EOF. Closing there discarded that tail.
func (s *Subscriber) write(sc *subConn, conn net.Conn, sess *zmtp.Session, b []byte, control bool) {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	if sess.Secure() {
		var err error
		if sc.wbuf, err = sess.SealFrames(sc.wbuf[:0], b); err != nil {
			conn.Close()
			return
		}
		b = sc.wbuf
	}
	_ = conn.SetWriteDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	if _, err := conn.Write(b); err != nil {
		sc.writeErrors.Add(1)
		if control || errors.Is(err, os.ErrDeadlineExceeded) {
			conn.Close()
		}
	}
}

// Stats returns one entry per endpoint, in Connect order.
func (s *Subscriber) Stats() []EndpointStats {
	s.mu.Lock()
	eps := slices.Clone(s.endpoints)
	s.mu.Unlock()
	out := make([]EndpointStats, len(eps))
	for i, sc := range eps {
		out[i] = EndpointStats{
			Endpoint:    sc.raw,
			Connected:   sc.connected.Load(),
			Connects:    sc.connects.Load(),
			Disconnects: sc.disconnects.Load(),
			DialErrors:  sc.dialErrors.Load(),
			Messages:    sc.messages.Load(),
			Bytes:       sc.bytes.Load(),
			Malformed:   sc.malformed.Load(),
			WriteErrors: sc.writeErrors.Load(),
		}
		for j := range out[i].Refused {
			out[i].Refused[j] = sc.refused[j].Load()
		}
	}
	return out
}

// Close stops a running Run (which returns after its goroutines exit) and makes later
// Run calls return ErrClosed. Idempotent; it does not wait.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	return nil
}

// batch is a unit of handoff from a connection reader to the handler: messages whose
// Topic and Payload point into arena.
type batch struct {
	msgs  []Message
	arena []byte
}

// Run connects to every endpoint and calls handler with batches of received messages
// until ctx is done or Close is called; then it closes the connections, waits for its
// goroutines and returns nil. Batches received but not yet handled are discarded.
//
// Each endpoint is read by its own goroutine. When the handler is idle and no batch is
// waiting, the reader that got a batch calls handler itself: no hand-off, no wake-up
// between the socket and the handler. When the handler is busy (another endpoint's batch)
// the batch waits in a FIFO queue (QueueBatches) that Run's goroutine drains, so readers
// keep reading and endpoints reach the handler in arrival order under load (see
// delivery). Calls never overlap: handler runs one batch at a time, with a non-empty
// batch, and what it writes is visible to its next call whichever goroutine makes it. The
// batch slice and every Message in it are valid only until handler returns. Within one
// endpoint, messages arrive in publisher order. A slow handler fills the queue, the
// readers stop reading, TCP pushes back, and the publishers drop for this subscriber
// (seen as sequence gaps).
func (s *Subscriber) Run(ctx context.Context, handler func(batch []Message)) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return ErrClosed
	case s.running:
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	ctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	eps := slices.Clone(s.endpoints)
	s.mu.Unlock()
	defer cancel()

	d := newDelivery(handler, s.opts.QueueBatches, len(eps))
	var wg sync.WaitGroup
	for _, sc := range eps {
		wg.Go(func() { s.connLoop(ctx, sc, d) })
	}
	d.drain(ctx)
	cancel()
	wg.Wait()
	return nil
}

// connLoop keeps one endpoint connected until ctx is done.
func (s *Subscriber) connLoop(ctx context.Context, sc *subConn, d *delivery) {
	log := s.log.With("endpoint", sc.raw)
	attempt := 0
	for ctx.Err() == nil {
		up, err := s.session(ctx, sc, d)
		if ctx.Err() != nil {
			return
		}
		if up {
			attempt = 0
			log.Warn("connection lost", "err", err)
		} else {
			sc.dialErrors.Add(1)
			if attempt == 0 {
				log.Warn("connect failed; retrying with backoff", "err", err)
			}
			if s.opts.OnState != nil {
				s.opts.OnState(StateEvent{Endpoint: sc.index, Address: sc.raw, Err: err})
			}
		}
		if !clock.Sleep(ctx, backoff(s.opts.ReconnectMin, s.opts.ReconnectMax, attempt)) {
			return
		}
		attempt++
	}
}

// backoff returns a random delay in [0, min(hi, lo·2^attempt)] ("full jitter").
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := hi
	if attempt < 32 {
		d = min(hi, lo<<attempt)
	}
	return rand.N(d + 1)
}

// session dials, handshakes, subscribes and reads until the connection fails. up
// reports whether the handshake succeeded.
func (s *Subscriber) session(ctx context.Context, sc *subConn, d *delivery) (up bool, err error) {
	dialer := net.Dialer{Timeout: s.opts.HandshakeTimeout}
	conn, err := dialer.DialContext(ctx, sc.ep.network, sc.ep.address)
	if err != nil {
		return false, fmt.Errorf("dialing %s: %w", sc.raw, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	_ = conn.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	sess, err := zmtp.Handshake(conn, s.opts.Curve.config(sc.index))
	if err != nil {
		sc.refused[classifyHandshake(err)].Add(1)
		return false, fmt.Errorf("handshake with %s: %w", sc.raw, err)
	}
	_ = conn.SetDeadline(time.Time{})

	// Register and send the subscriptions under s.mu, so that a concurrent Subscribe
	// either lands in this snapshot or sees sc.conn and sends it itself.
	s.mu.Lock()
	var frames []byte
	for _, p := range s.prefixes {
		frames = appendSubscription(frames, 1, p)
	}
	if len(frames) > 0 {
		s.write(sc, conn, sess, frames, true)
	}
	sc.conn = conn
	sc.sess = sess
	s.mu.Unlock()

	sc.connects.Add(1)
	sc.connected.Store(true)
	if s.opts.OnState != nil {
		s.opts.OnState(StateEvent{Endpoint: sc.index, Address: sc.raw, Connected: true})
	}
	s.log.Info("connected", "endpoint", sc.raw)
	defer func() {
		s.mu.Lock()
		sc.conn = nil
		sc.sess = nil
		s.mu.Unlock()
		sc.connected.Store(false)
		sc.disconnects.Add(1)
		if reason, bad := classifyTraffic(err); bad {
			sc.malformed.Add(1)
			sc.refused[reason].Add(1)
		}
		if s.opts.OnState != nil {
			s.opts.OnState(StateEvent{Endpoint: sc.index, Address: sc.raw, Err: err})
		}
	}()

	if s.opts.Heartbeat > 0 {
		var hb sync.WaitGroup
		hbDone := make(chan struct{})
		hb.Go(func() { s.pinger(sc, conn, sess, hbDone) })
		defer func() {
			close(hbDone)
			conn.Close() // unblocks a PING write stuck on a dead peer
			hb.Wait()
		}()
	}
	defer pinThread(s.opts.ReadSpin)()
	br := bufio.NewReaderSize(newSpinReader(conn, s.opts.ReadSpin), s.opts.ReadBufferBytes)
	if sess.Secure() {
		br = bufio.NewReaderSize(sess.OpenReader(br, s.opts.MaxMessageBytes), s.opts.ReadBufferBytes)
	}
	r := reader{
		s: s, sc: sc, conn: conn, sess: sess, d: d, ctx: ctx,
		fr: frameReader{r: br, max: s.opts.MaxMessageBytes},
	}
	return true, r.run()
}

// pinger sends a ZMTP PING every Heartbeat so that an idle publisher answers with PONG
// and the reader's deadline measures liveness, not traffic.
func (s *Subscriber) pinger(sc *subConn, conn net.Conn, sess *zmtp.Session, done chan struct{}) {
	t := time.NewTicker(s.opts.Heartbeat)
	defer t.Stop()
	// TTL (deciseconds, 16-bit) tells the peer when it may consider us gone.
	ttl := min(s.opts.Heartbeat*3/(100*time.Millisecond), 0xffff)
	ping := appendCommand(nil, cmdPing, []byte{byte(ttl >> 8), byte(ttl)})
	for {
		select {
		case <-t.C:
			s.write(sc, conn, sess, ping, false)
		case <-done:
			return
		}
	}
}

// reader is the receive path of one connection. It owns its frame reader and the batch
// it is filling.
type reader struct {
	s     *Subscriber
	sc    *subConn
	conn  net.Conn
	sess  *zmtp.Session
	fr    frameReader
	d     *delivery // hands batches to the handler (see delivery)
	ctx   context.Context
	b     *batch
	cmd   []byte // scratch for command bodies
	topic []byte // scratch for the topic frame until the payload size is known
}

func (r *reader) run() error {
	o := &r.s.opts
	r.b = r.newBatch()
	for {
		// Hand the batch over before a read that may block: never sit on messages
		// while waiting for the network.
		if r.fr.r.Buffered() == 0 {
			if len(r.b.msgs) > 0 {
				if !r.flush() {
					return r.ctx.Err()
				}
			} else {
				r.refreshDeadline()
			}
		}
		if err := r.readMessage(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("no data or PONG for %v: %w", 3*o.Heartbeat, err)
			}
			return err
		}
	}
}

// readMessage reads one message (or command) and appends it to the current batch,
// handing the batch over first when the message does not fit.
//
// The topic is read into a scratch buffer first, so that the payload's size is known
// before choosing where the message goes: batches need room for whole messages, not
// for MaxMessageBytes, and a batch grows its arena only for a message larger than
// BatchBytes.
func (r *reader) readMessage() error {
	flags, size, err := r.fr.header()
	if err != nil {
		return err
	}
	if flags&flagCommand != 0 {
		return r.command(flags, size)
	}
	if r.topic, err = r.fr.appendBody(r.topic[:0], size); err != nil {
		return err
	}
	more := flags&flagMore != 0
	psize := 0
	if more {
		if flags, psize, err = r.fr.header(); err != nil {
			return unexpectedEOF(err)
		}
		if flags&flagCommand != 0 {
			return fmt.Errorf("%w: command inside a message", errProtocol)
		}
		if len(r.topic)+psize > r.s.opts.MaxMessageBytes {
			return fmt.Errorf("%w: message of %d bytes exceeds limit %d", errFrameTooLarge, len(r.topic)+psize, r.s.opts.MaxMessageBytes)
		}
	}
	need := len(r.topic) + psize
	b := r.b
	if len(b.msgs) == cap(b.msgs) || cap(b.arena)-len(b.arena) < need {
		if len(b.msgs) > 0 {
			if !r.flush() {
				return r.ctx.Err()
			}
			b = r.b
		}
		b.arena = b.arena[:0]
		if cap(b.arena) < need {
			b.arena = make([]byte, 0, need) // rare: a message larger than BatchBytes
		}
	}
	start := len(b.arena)
	b.arena = append(b.arena, r.topic...)
	topic := b.arena[start:len(b.arena):len(b.arena)]
	var payload []byte
	if more {
		pstart := len(b.arena)
		if b.arena, err = r.fr.appendBody(b.arena, psize); err != nil {
			return err
		}
		payload = b.arena[pstart:len(b.arena):len(b.arena)]
		if flags&flagMore != 0 {
			// Bus messages have two frames; skip the rest of anything longer.
			b.arena = b.arena[:start]
			r.sc.malformed.Add(1)
			return r.skipRest()
		}
	}
	b.msgs = append(b.msgs, Message{Endpoint: r.sc.index, Topic: topic, Payload: payload})
	r.sc.messages.Add(1)
	r.sc.bytes.Add(uint64(len(topic) + len(payload)))
	return nil
}

func (r *reader) skipRest() error {
	for {
		flags, size, err := r.fr.header()
		if err != nil {
			return unexpectedEOF(err)
		}
		if flags&flagCommand != 0 {
			return fmt.Errorf("%w: command inside a message", errProtocol)
		}
		if err := r.fr.skip(size); err != nil {
			return err
		}
		if flags&flagMore == 0 {
			return nil
		}
	}
}

// command handles a command from the publisher: PING is answered, the rest ignored.
func (r *reader) command(flags byte, size int) error {
	if flags&flagMore != 0 {
		return fmt.Errorf("%w: command frame with MORE flag", errProtocol)
	}
	var err error
	if r.cmd, err = r.fr.appendBody(r.cmd[:0], size); err != nil {
		return err
	}
	name, data, err := splitCommand(r.cmd)
	if err != nil {
		return err
	}
	if string(name) == cmdPing && len(data) >= 2 {
		ctx := data[2:]
		if len(ctx) > maxPingContext {
			ctx = ctx[:maxPingContext]
		}
		r.s.write(r.sc, r.conn, r.sess, appendCommand(nil, cmdPong, ctx), false)
	}
	return nil
}

// flush hands the current batch to the handler (see delivery) and takes a fresh one when
// it went to the queue. It returns false when ctx has ended.
func (r *reader) flush() bool {
	queued, ok := r.d.deliver(r.ctx, r.b)
	if !ok {
		return false
	}
	if queued {
		r.b = r.d.get(&r.s.opts)
	}
	r.refreshDeadline() // data is flowing: keep the liveness deadline ahead of it
	return r.ctx.Err() == nil
}

// refreshDeadline moves the read deadline to 3 heartbeats from now. It is called once
// per batch or before an idle read, not per message.
func (r *reader) refreshDeadline() {
	if hb := r.s.opts.Heartbeat; hb > 0 {
		_ = r.conn.SetReadDeadline(time.Now().Add(3 * hb))
	}
}

func (r *reader) newBatch() *batch {
	o := &r.s.opts
	return &batch{msgs: make([]Message, 0, o.BatchMessages), arena: make([]byte, 0, o.BatchBytes)}
}
