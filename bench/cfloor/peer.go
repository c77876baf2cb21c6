package cfloor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
)

// PeerEnv is the environment variable that turns a binary linking this package into a Go
// peer: a main (benchrun, a test's TestMain) checks IsPeer first and, if set, runs
// PeerMain with its arguments instead of its own work.
const PeerEnv = "TICKLINE_CFLOOR_PEER"

// IsPeer reports whether this process was started as a Go peer by the runner.
func IsPeer() bool { return os.Getenv(PeerEnv) == "1" }

// PeerMain runs one Go peer and returns its exit code. args are
// "SYSTEM send tcp|ipc BIND RATE COUNT" or "SYSTEM recv tcp|ipc ENDPOINT COUNT OUT", with
// SYSTEM one of go-floor, zmq4, bus, bus-lowlat; the contract is the C peers' (csrc/peer.h).
func PeerMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := peerMain(args, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "cfloor peer %s: %v\n", strings.Join(args, " "), err)
		return 2
	}
	return 0
}

func peerMain(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 6 && len(args) != 7 {
		return errors.New("usage: SYSTEM send tcp|ipc BIND RATE COUNT | SYSTEM recv tcp|ipc ENDPOINT COUNT OUT")
	}
	sys, role, tr := args[0], args[1], args[2]
	if tr != "tcp" && tr != "ipc" {
		return fmt.Errorf("transport %q: want tcp or ipc", tr)
	}
	switch {
	case role == "send" && len(args) == 6:
		rate, err := strconv.ParseInt(args[4], 10, 64)
		if err != nil || rate < 0 || rate > 1e8 {
			return fmt.Errorf("rate %q out of [0, 1e8]", args[4])
		}
		count, err := parseCount(args[5])
		if err != nil {
			return err
		}
		return runSender(sys, tr, args[3], rate, count, stdin, stdout)
	case role == "recv" && len(args) == 6:
		count, err := parseCount(args[4])
		if err != nil {
			return err
		}
		return runReceiver(sys, tr, args[3], count, args[5], stdout)
	}
	return fmt.Errorf("bad arguments %q", args)
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxCount {
		return 0, fmt.Errorf("count %q out of [1, %d]", s, MaxCount)
	}
	return n, nil
}

// Payload layout (csrc/peer.h): [0:8] send time (CLOCK_REALTIME ns, little endian), [8:16]
// seq (0 = warm-up probe), [16:100] bodyByte(seq, i).
func bodyByte(seq uint64, i int) byte { return byte(seq*131 + uint64(i)*7) }

func fill(p []byte, seq uint64) {
	binary.LittleEndian.PutUint64(p[8:], seq)
	for i := 16; i < PayloadBytes; i++ {
		p[i] = bodyByte(seq, i)
	}
}

// nowNs is CLOCK_REALTIME in ns, the clock the C peers stamp with.
func nowNs() int64 { return time.Now().UnixNano() }

func stamp(p []byte) { binary.LittleEndian.PutUint64(p, uint64(nowNs())) }

// fnv64 is FNV-1a over p[8:PayloadBytes], as peer.h computes it.
func fnv64(p []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range p[8:PayloadBytes] {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return h
}

// topic is the first frame of every zmq4 and bus message, as zmqpair.c sends it.
var topic = []byte("bbo.binance.BTC-USDT")

// goSender is one Go system's sending side.
type goSender interface {
	endpoint() string
	send(p []byte) error
	close()
}

func runSender(sys, tr, bind string, rate int64, count int, stdin io.Reader, stdout io.Writer) error {
	var s goSender
	var err error
	switch sys {
	case "go-floor":
		s, err = newFloorSender(tr, bind)
	case "zmq4":
		s, err = newZmq4Sender(tr, bind)
	case "bus":
		s, err = newBusSender(tr, bind, nil)
	case "bus-lowlat":
		s, err = newBusSender(tr, bind, lowLatency())
	default:
		return fmt.Errorf("unknown Go system %q", sys)
	}
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Fprintf(stdout, "EP %s\n", s.endpoint())
	lines := make(chan struct{}, 2)
	go func() {
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- struct{}{}
		}
		close(lines)
	}()
	p := make([]byte, PayloadBytes)
probe: // probes until the runner says go (PUB drops until SUB joins)
	for {
		fill(p, 0)
		stamp(p)
		if err := s.send(p); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		t := time.NewTimer(time.Millisecond)
		select {
		case <-lines:
			t.Stop()
			break probe
		case <-t.C:
		}
	}
	var gap int64
	if rate > 0 {
		gap = int64(time.Second) / rate
	}
	t0 := nowNs()
	for i := range count {
		if gap > 0 { // absolute deadlines, spun: the same pacing as peer.h
			for due := t0 + int64(i)*gap; nowNs() < due; {
			}
		}
		fill(p, uint64(i)+1)
		stamp(p)
		if err := s.send(p); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	fmt.Fprintf(stdout, "SENT %d\n", count)
	<-lines // quit (or EOF)
	return nil
}

// Listen listens on tcp at bind (a host; the port is chosen) or, for transport "ipc", on
// the unix socket path bind, and returns the listener and its endpoint ("tcp://host:port",
// "ipc://path"). The Go peers and busbench's raw floor use it.
func Listen(tr, bind string) (net.Listener, string, error) {
	if tr == "ipc" {
		ln, err := net.Listen("unix", bind)
		return ln, "ipc://" + bind, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, "0"))
	if err != nil {
		return nil, "", err
	}
	return ln, "tcp://" + ln.Addr().String(), nil
}

// Dial connects to an endpoint Listen returned.
func Dial(ep string) (net.Conn, error) {
	if p, ok := strings.CutPrefix(ep, "ipc://"); ok {
		return net.Dial("unix", p)
	}
	return net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
}

// floorSender is Go's raw floor: one length-prefixed Write per message (TCP_NODELAY is
// Go's default), as floor.c.
type floorSender struct {
	ln    net.Listener
	ep    string
	c     net.Conn
	frame []byte
}

func newFloorSender(tr, bind string) (*floorSender, error) {
	ln, ep, err := Listen(tr, bind)
	if err != nil {
		return nil, err
	}
	return &floorSender{ln: ln, ep: ep, frame: make([]byte, 4+PayloadBytes)}, nil
}

func (f *floorSender) endpoint() string { return f.ep }

func (f *floorSender) send(p []byte) error {
	if f.c == nil { // the receiver connects after EP is printed
		c, err := f.ln.Accept()
		if err != nil {
			return err
		}
		f.c = c
	}
	binary.LittleEndian.PutUint32(f.frame, uint32(len(p)))
	copy(f.frame[4:], p)
	_, err := f.c.Write(f.frame)
	return err
}

func (f *floorSender) close() {
	if f.c != nil {
		f.c.Close()
	}
	f.ln.Close()
}

// zmq4Sender is a bare zmq4 PUB socket.
type zmq4Sender struct {
	pub    zmq4.Socket
	ep     string
	cancel context.CancelFunc
}

func newZmq4Sender(tr, bind string) (*zmq4Sender, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pub := zmq4.NewPub(ctx)
	ep := "tcp://" + net.JoinHostPort(bind, "0")
	if tr == "ipc" {
		ep = "ipc://" + bind
	}
	if err := pub.Listen(ep); err != nil {
		cancel()
		return nil, fmt.Errorf("zmq4 listen %s: %w", ep, err)
	}
	if tr == "tcp" {
		ep = "tcp://" + pub.Addr().String()
	}
	return &zmq4Sender{pub: pub, ep: ep, cancel: cancel}, nil
}

func (z *zmq4Sender) endpoint() string { return z.ep }

// send hands zmq4 a copy: it writes the message later from its own goroutine.
func (z *zmq4Sender) send(p []byte) error {
	return z.pub.Send(zmq4.NewMsgFrom(topic, append([]byte(nil), p...)))
}

func (z *zmq4Sender) close() { z.pub.Close(); z.cancel() }

// busSender is tickline's bus publisher. A flood paces itself on the subscriber's queue
// (MaxQueued, allocation-free) as a lossless producer does, instead of letting the bus
// drop the oldest messages.
type busSender struct {
	pub  *bus.Publisher
	sent int
}

const busQueueDepth = 65536

var quiet = slog.New(slog.DiscardHandler)

// lowLatency returns the topology's bus section in low-latency mode with its documented
// defaults (the bus-lowlat system), applied to this process as `tickline` applies it.
func lowLatency() *config.Bus {
	b := config.Defaults().Bus
	b.LowLatency = &config.LowLatency{Spin: config.DefaultLowLatencySpin, GCPercent: config.DefaultLowLatencyGC,
		MemoryLimit: config.DefaultLowLatencyMemory}
	b.QueueDepth = busQueueDepth
	bus.ApplyRuntime(&b)
	return &b
}

// newBusSender binds a bus publisher; b, when set, is the bus section it is configured
// from (nil: the bench's plain options).
func newBusSender(tr, bind string, b *config.Bus) (*busSender, error) {
	ep := "tcp://" + net.JoinHostPort(bind, "0")
	if tr == "ipc" {
		ep = "ipc://" + bind
	}
	opts := bus.Options{QueueDepth: busQueueDepth}
	if b != nil {
		opts = bus.PublisherOptions(b)
	}
	pub, err := bus.NewPublisher(ep, opts, quiet)
	if err != nil {
		return nil, fmt.Errorf("bus publisher %s: %w", ep, err)
	}
	return &busSender{pub: pub}, nil
}

func (b *busSender) endpoint() string { return b.pub.Endpoint() }

func (b *busSender) send(p []byte) error {
	if b.sent++; b.sent%256 == 0 {
		for b.pub.MaxQueued() > busQueueDepth/2 {
			runtime.Gosched()
		}
	}
	return b.pub.Publish(topic, p)
}

func (b *busSender) close() { b.pub.Close() }

// goRx is a Go receiver's bookkeeping, as csrc/peer.h's rx. It is owned by the goroutine that
// receives; lastAny and ready are read by the idle watchdog.
type goRx struct {
	count, got, bad, dups int
	sum                   uint64
	lat                   []int64
	seen                  []byte
	firstSent, lastRecv   int64
	lastAny               atomic.Int64
	ready                 atomic.Bool
	stdout                io.Writer
}

func newGoRx(count int, stdout io.Writer) *goRx {
	r := &goRx{count: count, lat: make([]int64, 0, count), seen: make([]byte, count/8+1), stdout: stdout}
	r.lastAny.Store(nowNs())
	return r
}

// on handles one payload; true when COUNT messages have arrived.
func (r *goRx) on(p []byte) bool {
	now := nowNs()
	r.lastAny.Store(now)
	if len(p) != PayloadBytes {
		r.bad++
		return false
	}
	seq := binary.LittleEndian.Uint64(p[8:])
	if seq == 0 {
		if !r.ready.Load() {
			r.ready.Store(true)
			fmt.Fprintln(r.stdout, "READY")
		}
		return false
	}
	ok := seq <= uint64(r.count)
	for i := 16; ok && i < PayloadBytes; i++ {
		ok = p[i] == bodyByte(seq, i)
	}
	if !ok {
		r.bad++
		return false
	}
	if r.seen[seq/8]&(1<<(seq%8)) != 0 {
		r.dups++
		return false
	}
	r.seen[seq/8] |= 1 << (seq % 8)
	sent := int64(binary.LittleEndian.Uint64(p))
	if r.got == 0 {
		r.firstSent = sent
	}
	r.lat = append(r.lat, now-sent)
	r.got++
	r.sum += fnv64(p)
	r.lastRecv = now
	return r.got >= r.count
}

// watch calls stop once the receiver has been idle too long (csrc/peer.h's rx_idle).
func (r *goRx) watch(done <-chan struct{}, stop func()) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			lim := int64(idleStart)
			if r.ready.Load() {
				lim = int64(idleReady)
			}
			if nowNs()-r.lastAny.Load() > lim {
				stop()
				return
			}
		}
	}
}

const (
	idleReady = 2 * time.Second  // a receiver gives up 2 s after its last message
	idleStart = 15 * time.Second // or 15 s after start when nothing came
)

func (r *goRx) finish(out string) error {
	b := make([]byte, 8*len(r.lat))
	for i, v := range r.lat {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(r.stdout, "DONE recv=%d bad=%d dup=%d sum=%016x first_sent=%d last_recv=%d\n",
		r.got, r.bad, r.dups, r.sum, r.firstSent, r.lastRecv)
	return nil
}

func runReceiver(sys, tr, ep string, count int, out string, stdout io.Writer) error {
	r := newGoRx(count, stdout)
	done := make(chan struct{})
	var err error
	switch sys {
	case "go-floor":
		err = recvFloor(ep, r, done)
	case "zmq4":
		err = recvZmq4(ep, r, done)
	case "bus":
		err = recvBus(ep, r, done, nil)
	case "bus-lowlat":
		err = recvBus(ep, r, done, lowLatency())
	default:
		return fmt.Errorf("unknown Go system %q", sys)
	}
	if err != nil {
		return err
	}
	return r.finish(out)
}

func recvFloor(ep string, r *goRx, done chan struct{}) error {
	c, err := Dial(ep)
	if err != nil {
		return err
	}
	defer c.Close()
	go r.watch(done, func() { c.Close() })
	defer close(done)
	br := bufio.NewReaderSize(c, 64<<10)
	buf := make([]byte, maxFrame)
	var h [4]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return nil // closed: by the sender, or by the watchdog
		}
		n := binary.LittleEndian.Uint32(h[:])
		if n > maxFrame {
			r.bad++
			return nil
		}
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return nil
		}
		if r.on(buf[:n]) {
			return nil
		}
	}
}

const maxFrame = 65536 // a length prefix above this is a protocol error, as in floor.c

func recvZmq4(ep string, r *goRx, done chan struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := zmq4.NewSub(ctx, zmq4.WithAutomaticReconnect(true), zmq4.WithDialerMaxRetries(-1))
	defer sub.Close()
	if err := sub.Dial(ep); err != nil {
		return fmt.Errorf("zmq4 dial %s: %w", ep, err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, "bbo."); err != nil {
		return err
	}
	go r.watch(done, cancel)
	defer close(done)
	for {
		m, err := sub.Recv()
		if err != nil {
			return nil // the watchdog cancelled
		}
		if len(m.Frames) != 2 {
			r.bad++
			continue
		}
		if r.on(m.Frames[1]) {
			return nil
		}
	}
}

func recvBus(ep string, r *goRx, done chan struct{}, b *config.Bus) error {
	var so bus.SubOptions
	if b != nil {
		so.ReadSpin = b.LowLatency.Spin
	}
	sub := bus.NewSubscriber(so, quiet)
	defer sub.Close()
	if err := sub.Connect(ep); err != nil {
		return fmt.Errorf("bus connect %s: %w", ep, err)
	}
	sub.Subscribe("bbo.")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.watch(done, cancel)
	defer close(done)
	err := sub.Run(ctx, func(batch []bus.Message) {
		for _, m := range batch {
			if r.got >= r.count { // batches still queued after cancel
				return
			}
			if r.on(m.Payload) {
				cancel()
				return
			}
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("bus subscriber: %w", err)
	}
	return nil
}
