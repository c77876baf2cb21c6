package bus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		network string
		address string
		err     bool
	}{
		{"tcp://127.0.0.1:5555", "tcp", "127.0.0.1:5555", false},
		{"tcp://*:5555", "tcp", ":5555", false},
		{"tcp://[::1]:0", "tcp", "[::1]:0", false},
		{"tcp://gw-eu.example:7000", "tcp", "gw-eu.example:7000", false},
		{"ipc:///tmp/x.sock", "unix", "/tmp/x.sock", false},
		{"ipc://rel.sock", "unix", "rel.sock", false},
		{"ipc://@abstract", "unix", "@abstract", false},
		{"tcp://127.0.0.1", "", "", true},
		{"tcp://127.0.0.1:", "", "", true},
		{"udp://127.0.0.1:1", "", "", true},
		{"127.0.0.1:5555", "", "", true},
		{"ipc://", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := parseEndpoint(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadEndpoint) {
					t.Fatalf("err = %v, want ErrBadEndpoint", err)
				}
				return
			}
			if err != nil || e.network != tt.network || e.address != tt.address {
				t.Fatalf("got %+v, %v; want %s %s", e, err, tt.network, tt.address)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc"} {
		t.Run(ep[:3], func(t *testing.T) { roundTrip(t, ep, Options{}, SubOptions{}) })
	}
}

// TestLowLatencyRoundTrip: with the writer and the readers spinning (bus.low_latency),
// every message still arrives intact and in order, over tcp and ipc, in a burst (the
// spinning writer) and paced one by one (direct writes met by a spinning reader).
func TestLowLatencyRoundTrip(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc"} {
		t.Run(ep[:3], func(t *testing.T) {
			roundTrip(t, ep, Options{WriterSpin: time.Millisecond}, SubOptions{ReadSpin: time.Millisecond})
		})
	}
}

// roundTrip publishes 1000 messages (every tenth with a long frame), the second half one
// at a time after the previous one arrived, and checks that all arrive in order.
func roundTrip(t *testing.T, ep string, po Options, so SubOptions) {
	if ep == "ipc" {
		ep = ipcEndpoint(t, "pub.sock")
	}
	p := newTestPublisher(t, ep, po)
	_, c := newTestSubscriber(t, so, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	const n = 1000
	big := make([]byte, 1500) // long frames (> 255 bytes) too
	for i := range n {
		payload := []byte("p" + strconv.Itoa(i))
		if i%10 == 0 {
			payload = append(payload, big...)
		}
		if err := p.Publish([]byte("bbo.binance.BTC-USDT"), payload); err != nil {
			t.Fatal(err)
		}
		if i >= n/2 {
			waitFor(t, waitLong, func() bool { return len(c.snapshot()) == i+1 }, "message %d", i)
		}
	}
	waitFor(t, waitLong, func() bool { return len(c.snapshot()) == n }, "%d messages", n)
	for i, r := range c.snapshot() {
		want := "p" + strconv.Itoa(i)
		if i%10 == 0 {
			want += string(big)
		}
		if r.topic != "bbo.binance.BTC-USDT" || r.payload != want || r.ep != 0 {
			t.Fatalf("message %d = %q/%.20q ep %d", i, r.topic, r.payload, r.ep)
		}
	}
	st := p.Stats()[0]
	if st.Sent != n || st.Dropped != 0 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLargeMessages: messages larger than the subscriber's batch arena and than the
// publisher's slots still arrive intact and in order.
func TestLargeMessages(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxMessageBytes: 1 << 20, SlotBytes: 256, WriteBatchBytes: 4096})
	_, c := newTestSubscriber(t, SubOptions{MaxMessageBytes: 1 << 20, BatchBytes: 4096}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	sizes := []int{10, 5000, 10, 300_000, 4000, 4096, 1, 1<<20 - 2}
	for i, n := range sizes {
		payload := bytes.Repeat([]byte{byte('a' + i)}, n)
		if err := p.Publish([]byte("b"+strconv.Itoa(i)), payload); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, waitLong, func() bool { return len(c.snapshot()) == len(sizes) }, "all messages")
	for i, r := range c.snapshot() {
		if r.topic != "b"+strconv.Itoa(i) || r.payload != strings.Repeat(string(rune('a'+i)), sizes[i]) {
			t.Fatalf("message %d: topic %q, %d bytes", i, r.topic, len(r.payload))
		}
	}
}

func TestPrefixFiltering(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	_, c := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "bbo.binance.", "end")
	waitSubscribed(t, p, 1, "bbo.binance.", "end")
	for _, topic := range []string{"bbo.binance.BTC-USDT", "bbo.okx.BTC-USDT", "trade.binance.BTC-USDT", "bbo.binanc", "bbo.binance.ETH-USDT", "end"} {
		if err := p.Publish([]byte(topic), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, waitLong, func() bool { return c.has("end") }, "end marker")
	var got []string
	for _, r := range c.snapshot() {
		got = append(got, r.topic)
	}
	want := []string{"bbo.binance.BTC-USDT", "bbo.binance.ETH-USDT", "end"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if tot := p.Totals(); tot.NoSubscriber != 3 || tot.Published != 6 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestUnsubscribe(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	s, c := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "a.", "b.")
	waitSubscribed(t, p, 1, "a.", "b.")
	s.Unsubscribe("a.")
	waitSubscribed(t, p, 1, "b.")
	p.Publish([]byte("a.1"), nil)
	p.Publish([]byte("b.1"), nil)
	waitFor(t, waitLong, func() bool { return c.has("b.1") }, "b.1")
	if got := c.snapshot(); len(got) != 1 {
		t.Fatalf("got %v, want only b.1", got)
	}
}

// TestRawSubscriptionStyles drives the publisher with both subscription encodings:
// ZMTP 3.0 message-style ("\x01prefix" data frames, what zmq4 and libzmq talking to a
// 3.0 peer send) and ZMTP 3.1 SUBSCRIBE/CANCEL commands.
func TestRawSubscriptionStyles(t *testing.T) {
	for _, style := range []string{"message", "command"} {
		t.Run(style, func(t *testing.T) {
			p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
			c := dialRaw(t, p.Endpoint())
			sub, cancel := c.subscribeMsg, c.cancelMsg
			if style == "command" {
				sub, cancel = c.subscribeCmd, c.cancelCmd
			}
			sub("bbo.binance.")
			waitSubscribed(t, p, 1, "bbo.binance.")
			p.Publish([]byte("bbo.okx.BTC-USDT"), []byte("no"))
			p.Publish([]byte("bbo.binance.BTC-USDT"), []byte("yes"))
			if topic, payload := c.readMessage(); topic != "bbo.binance.BTC-USDT" || payload != "yes" {
				t.Fatalf("got %q %q", topic, payload)
			}

			// Subscriptions are counted: two subscribes need two cancels.
			sub("bbo.binance.")
			cancel("bbo.binance.")
			sub("trade.")
			waitSubscribed(t, p, 1, "bbo.binance.", "trade.")
			cancel("bbo.binance.")
			waitSubscribed(t, p, 1, "trade.")
			p.Publish([]byte("bbo.binance.BTC-USDT"), []byte("no"))
			p.Publish([]byte("trade.binance.BTC-USDT"), []byte("yes"))
			if topic, payload := c.readMessage(); topic != "trade.binance.BTC-USDT" || payload != "yes" {
				t.Fatalf("after cancel got %q %q", topic, payload)
			}
		})
	}
}

func TestPingPong(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	c := dialRaw(t, p.Endpoint())
	c.write(appendCommand(nil, cmdPing, []byte{0, 10, 'c', 't', 'x'}))
	flags, frames, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	if flags&flagCommand == 0 || len(frames) != 1 || frames[0] != "\x04PONGctx" {
		t.Fatalf("got flags %#x frames %q, want PONG with context", flags, frames)
	}
}

func TestZmq4SubClient(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := zmq4.NewSub(ctx)
	defer sub.Close()
	if err := sub.SetOption(zmq4.OptionSubscribe, "bbo."); err != nil {
		t.Fatal(err)
	}
	if err := sub.Dial(p.Endpoint()); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, p, 1, "bbo.")
	p.Publish([]byte("trade.okx.BTC-USDT"), []byte("no"))
	p.Publish([]byte("bbo.okx.BTC-USDT"), []byte("yes"))
	msg, err := sub.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Frames) != 2 || string(msg.Frames[0]) != "bbo.okx.BTC-USDT" || string(msg.Frames[1]) != "yes" {
		t.Fatalf("got %q", msg.Frames)
	}
}

// TestStalledSubscriberIsolation: one subscriber never reads. The healthy one still
// gets every message in order, Publish never blocks, the stalled one drops its oldest
// messages, the publisher's heap stays bounded, and the stalled one is disconnected.
func TestStalledSubscriberIsolation(t *testing.T) {
	const (
		depth   = 1024
		n       = 200_000
		payload = 200
	)
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{
		QueueDepth:      depth,
		StallTimeout:    200 * time.Millisecond,
		SendBufferBytes: 16 << 10,
	})

	// The stalled subscriber: handshakes and subscribes, then never reads. A small
	// receive buffer makes TCP push back after a few KiB instead of a few MiB.
	stalled := dialRaw(t, p.Endpoint())
	_ = stalled.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	stalled.subscribeMsg("")
	stalledAddr := stalled.conn.LocalAddr().String()

	var got, outOfOrder atomic.Int64
	s := NewSubscriber(SubOptions{BatchBytes: 64 << 10}, nil)
	s.Connect(p.Endpoint())
	s.Subscribe("bbo.")
	runSubscriber(t, s, func(batch []Message) {
		for _, m := range batch {
			if binary.LittleEndian.Uint64(m.Payload) != uint64(got.Load()) {
				outOfOrder.Add(1)
			}
			got.Add(1)
		}
	})
	waitFor(t, waitLong, func() bool {
		return len(p.Stats()) == 2 && len(p.Stats()[0].Subscriptions) == 1 && len(p.Stats()[1].Subscriptions) == 1
	}, "two subscribers")

	healthyQueued := func() int {
		for _, st := range p.Stats() {
			if st.Remote != stalledAddr {
				return st.Queued
			}
		}
		return 0
	}

	// Sample the heap (after a GC) every 10k messages; the peak growth must stay
	// bounded while the stalled subscriber is still connected and its queue is full.
	var ms runtime.MemStats
	heap := func() int64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse)
	}
	before := heap()
	var growth int64
	samplesWhileStalled := 0

	topic := []byte("bbo.binance.BTC-USDT")
	buf := make([]byte, payload)
	for i := range n {
		binary.LittleEndian.PutUint64(buf, uint64(i))
		if err := p.Publish(topic, buf); err != nil {
			t.Fatal(err)
		}
		// Pace on the healthy subscriber only, so that it never drops: the stalled
		// one must not slow this loop down.
		if i%256 == 255 {
			for healthyQueued() > depth/2 {
				runtime.Gosched()
			}
		}
		if i%10_000 == 9_999 {
			growth = max(growth, heap()-before)
			if p.Totals().StallDisconnects == 0 {
				samplesWhileStalled++
			}
		}
	}

	waitFor(t, waitLong, func() bool { return got.Load() == n }, "healthy subscriber got %d of %d", got.Load(), n)
	if outOfOrder.Load() != 0 {
		t.Fatalf("%d messages out of order", outOfOrder.Load())
	}
	waitFor(t, waitLong, func() bool { return p.Totals().StallDisconnects == 1 }, "stalled subscriber disconnected")
	tot := p.Totals()
	if tot.Dropped == 0 {
		t.Fatalf("stalled subscriber dropped nothing: %+v", tot)
	}
	for _, st := range p.Stats() {
		if st.Dropped != 0 {
			t.Fatalf("healthy subscriber dropped: %+v", st)
		}
	}
	// An unbounded queue would hold up to n×payload = 40 MB. Ours are preallocated
	// (depth × SlotBytes per subscriber, before the baseline); growth is the
	// subscriber's batches and noise.
	if limit := int64(8 << 20); growth > limit {
		t.Fatalf("heap grew by %d bytes, limit %d", growth, limit)
	}
	t.Logf("peak heap growth %d B over %d samples with the stalled subscriber connected; stalled drops %d",
		growth, samplesWhileStalled, tot.Dropped)
}

// TestReconnect: the publisher goes away and comes back on the same ipc path; the
// subscriber reconnects and resubscribes by itself.
func TestReconnect(t *testing.T) {
	ep := ipcEndpoint(t, "gw.sock")
	p1, err := NewPublisher(ep, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ups, downs atomic.Int64
	s := NewSubscriber(SubOptions{
		ReconnectMin: 5 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		OnState: func(ev StateEvent) {
			if ev.Connected {
				ups.Add(1)
			} else if ev.Err != nil && ev.Endpoint == 0 {
				downs.Add(1)
			}
		},
	}, nil)
	s.Connect(ep)
	s.Subscribe("x.")
	c := &collector{}
	runSubscriber(t, s, c.handle)

	waitSubscribed(t, p1, 1, "x.")
	p1.Publish([]byte("x.1"), nil)
	waitFor(t, waitLong, func() bool { return c.has("x.1") }, "x.1")
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, func() bool { return !s.Stats()[0].Connected }, "disconnect noticed")

	p2 := newTestPublisher(t, ep, Options{})
	waitSubscribed(t, p2, 1, "x.")
	p2.Publish([]byte("x.2"), nil)
	waitFor(t, waitLong, func() bool { return c.has("x.2") }, "x.2 after reconnect")
	st := s.Stats()[0]
	if st.Connects != 2 || st.Disconnects != 1 || ups.Load() != 2 || downs.Load() < 1 {
		t.Fatalf("stats %+v ups %d downs %d", st, ups.Load(), downs.Load())
	}
}

func TestStaleIPCSocketReplaced(t *testing.T) {
	ep := ipcEndpoint(t, "stale.sock")
	e, _ := parseEndpoint(ep)
	ln, err := net.Listen("unix", e.address)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // leaves the socket file behind, like a crashed process

	p := newTestPublisher(t, ep, Options{})
	if _, err := NewPublisher(ep, Options{}, nil); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("second publisher on a live socket: err = %v, want ErrAddressInUse", err)
	}
	_ = p
}

func TestMultiplePublishers(t *testing.T) {
	pubs := []*Publisher{
		newTestPublisher(t, "tcp://127.0.0.1:0", Options{}),
		newTestPublisher(t, ipcEndpoint(t, "b.sock"), Options{}),
		newTestPublisher(t, "tcp://127.0.0.1:0", Options{}),
	}
	var eps []string
	for _, p := range pubs {
		eps = append(eps, p.Endpoint())
	}
	_, c := newTestSubscriber(t, SubOptions{}, eps, "bbo.")
	for _, p := range pubs {
		waitSubscribed(t, p, 1, "bbo.")
	}
	const per = 100
	for i := range per {
		for j, p := range pubs {
			p.Publish([]byte("bbo.gw"+strconv.Itoa(j)), []byte(strconv.Itoa(i)))
		}
	}
	waitFor(t, waitLong, func() bool { return len(c.snapshot()) == per*len(pubs) }, "all messages")
	next := make([]int, len(pubs))
	for _, r := range c.snapshot() {
		if r.topic != "bbo.gw"+strconv.Itoa(r.ep) {
			t.Fatalf("message %q attributed to endpoint %d", r.topic, r.ep)
		}
		if r.payload != strconv.Itoa(next[r.ep]) {
			t.Fatalf("endpoint %d: got %s, want %d", r.ep, r.payload, next[r.ep])
		}
		next[r.ep]++
	}
}

func TestOversize(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxMessageBytes: 1024})
	_, c := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	if err := p.Publish([]byte("t"), make([]byte, 1024)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
	if err := p.Publish([]byte("t"), make([]byte, 1023)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, func() bool { return len(c.snapshot()) == 1 }, "the fitting message")
	if tot := p.Totals(); tot.Oversize != 1 || tot.Published != 1 {
		t.Fatalf("totals %+v", tot)
	}
}

// TestMalformedInbound: garbage after the handshake closes that connection only.
func TestMalformedInbound(t *testing.T) {
	long := func(n uint64) []byte {
		b := []byte{flagLong}
		return binary.BigEndian.AppendUint64(b, n)
	}
	cases := map[string][]byte{
		"reserved flags":      {0xff, 0x01, 0x00},
		"huge frame":          long(1 << 40),
		"bad command":         {flagCommand, 0x02, 0x09, 'S'},
		"command with more":   {flagCommand | flagMore, 0x01, 0x00},
		"ping without ttl":    appendCommand(nil, cmdPing, nil),
		"command in multi":    {flagMore, 0x01, 'x', flagCommand, 0x01, 0x00},
		"too large inbound":   long(maxInboundFrame + 1),
		"negative-ish length": long(1 << 63),
	}
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	_, healthy := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	var want uint64
	for name, garbage := range cases {
		t.Run(name, func(t *testing.T) {
			c := dialRaw(t, p.Endpoint())
			waitFor(t, waitLong, func() bool { return len(p.Stats()) == 2 }, "raw client registered")
			c.write(garbage)
			want++
			if _, _, err := c.read(); err == nil {
				t.Fatalf("connection still open after garbage")
			}
			waitFor(t, waitLong, func() bool { return p.Totals().Malformed == want && len(p.Stats()) == 1 }, "malformed counted: %+v", p.Totals())
			topic := "after." + name
			p.Publish([]byte(topic), nil)
			waitFor(t, waitLong, func() bool { return healthy.has(topic) }, "healthy subscriber unaffected")
		})
	}
}

func TestTooManySubscriptions(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxSubscriptions: 2})
	c := dialRaw(t, p.Endpoint())
	c.subscribeMsg("a")
	c.subscribeMsg("b")
	c.subscribeMsg("c")
	if _, _, err := c.read(); err == nil {
		t.Fatal("connection still open")
	}
	waitFor(t, waitLong, func() bool { return p.Totals().Malformed == 1 }, "counted")
}

func TestMaxSubscribers(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxSubscribers: 1})
	dialRaw(t, p.Endpoint())
	// The limit counts established subscribers (handshakes have their own limit).
	waitFor(t, waitLong, func() bool { return p.Totals().Subscribers == 1 }, "first subscriber established")
	conn, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(waitLong))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("read: %v", err) // the publisher closes without a greeting: EOF
	}
	waitFor(t, waitLong, func() bool {
		tot := p.Totals()
		return tot.Rejected == 1 && tot.Subscribers == 1 && tot.Accepted == 1 && tot.Refused[RefusedSubscriberLimit] == 1
	}, "one accepted, one rejected: %+v", p.Totals())
}

// TestSubscriberHeartbeat: a publisher that handshakes and then goes silent (never
// answers PING) is abandoned after 3 heartbeats and redialled.
func TestSubscriberHeartbeat(t *testing.T) {
	ln := listenLocal(t)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
			go func() {
				if _, err := zmq4.Open(c, nullSec(), zmq4.Pub, nil, true, nil); err == nil {
					io.Copy(io.Discard, c) // swallow subscriptions and PINGs, answer nothing
				}
			}()
		}
	}()
	defer func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	}()
	s, _ := newTestSubscriber(t, SubOptions{Heartbeat: 20 * time.Millisecond}, []string{"tcp://" + ln.Addr().String()}, "")
	waitFor(t, waitLong, func() bool { return s.Stats()[0].Connects >= 2 }, "reconnect after silent peer")
}

func TestSubscriberStopsOnClose(t *testing.T) {
	s := NewSubscriber(SubOptions{}, nil)
	s.Connect("tcp://127.0.0.1:1") // nothing listens: keeps retrying
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), func([]Message) {}) }()
	waitFor(t, waitLong, func() bool { return s.Stats()[0].DialErrors > 0 }, "dial attempts")
	s.Close()
	s.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return after Close")
	}
	if err := s.Run(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestPublisherCloseIdempotent(t *testing.T) {
	p, err := NewPublisher("tcp://127.0.0.1:0", Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dialRaw(t, p.Endpoint()).subscribeMsg("")
	waitSubscribed(t, p, 1, "")
	p.Publish([]byte("a"), []byte("b"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Publish([]byte("a"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
}

func TestPublishZeroAlloc(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{QueueDepth: 4096})
	const subs = 3
	for i := range subs {
		c := dialRaw(t, p.Endpoint())
		c.subscribeMsg("bbo.")
		if i == 0 {
			c.subscribeMsg("trade.")
		}
		go io.Copy(io.Discard, c.conn) // drain so queues stay short
	}
	waitFor(t, waitLong, func() bool {
		st := p.Stats()
		return len(st) == subs && len(st[0].Subscriptions) > 0 && len(st[1].Subscriptions) > 0 && len(st[2].Subscriptions) > 0
	}, "subscribers")
	topic := []byte("bbo.binance.BTC-USDT")
	payload := make([]byte, 300)
	for range 8192 { // grow every slot once
		p.Publish(topic, payload)
	}
	waitFor(t, waitLong, func() bool { return p.MaxQueued() == 0 }, "queues drained")
	allocs := testing.AllocsPerRun(1000, func() {
		if err := p.Publish(topic, payload); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Publish to %d subscribers: %v allocs/op, want 0", subs, allocs)
	}
}

func TestMatchZeroAlloc(t *testing.T) {
	var s subscriptions
	for _, p := range []string{"trade.", "bbo.okx.", "bbo.binance."} {
		s.add([]byte(p), 10, 256)
	}
	topic := []byte("bbo.binance.BTC-USDT")
	allocs := testing.AllocsPerRun(1000, func() {
		if !s.match(topic) {
			t.Fatal("no match")
		}
	})
	if allocs != 0 {
		t.Fatalf("match: %v allocs/op", allocs)
	}
}

func TestSubscriptions(t *testing.T) {
	var s subscriptions
	if s.match([]byte("x")) {
		t.Fatal("empty set matches")
	}
	s.add([]byte("bbo."), 10, 256)
	s.add([]byte("bbo."), 10, 256)
	s.remove([]byte("bbo."))
	if !s.match([]byte("bbo.x")) {
		t.Fatal("refcount: one cancel removed two subscribes")
	}
	s.remove([]byte("bbo."))
	s.remove([]byte("nothing"))
	if s.match([]byte("bbo.x")) {
		t.Fatal("still matches after two cancels")
	}
	s.add(nil, 10, 256)
	if !s.match([]byte("anything")) || !s.match(nil) {
		t.Fatal("empty prefix must match everything")
	}
	if s.add([]byte("a"), 1, 256) != subTooMany {
		t.Fatal("limit not enforced")
	}
}

func TestSeqTracker(t *testing.T) {
	var tr SeqTracker
	steps := []struct {
		src  uint16
		seq  uint64
		want uint64
	}{
		{1, 5, 0}, // first seen
		{1, 6, 0},
		{1, 9, 2},
		{2, 1, 0},
		{1, 10, 0},
		{1, 3, 0}, // restart
		{1, 4, 0},
		{1000, 1, 0}, // map-backed source
		{1000, 11, 9},
		{1, 0, 0}, // unsequenced
	}
	for i, st := range steps {
		if got := tr.Observe(st.src, st.seq); got != st.want {
			t.Fatalf("step %d: Observe(%d,%d) = %d, want %d", i, st.src, st.seq, got, st.want)
		}
	}
	if s := tr.Stats(); s != (SeqStats{Gaps: 2, Missing: 11, Resets: 1}) {
		t.Fatalf("stats %+v", s)
	}
	seq := uint64(100)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		tr.Observe(7, seq)
		tr.Observe(1000, seq)
	})
	if allocs != 0 {
		t.Fatalf("Observe: %v allocs/op", allocs)
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 40 {
		d := backoff(10*time.Millisecond, time.Second, attempt)
		if d < 0 || d > time.Second || d > 10*time.Millisecond<<min(attempt, 20) {
			t.Fatalf("attempt %d: %v out of range", attempt, d)
		}
	}
}

// TestReadMessageZeroAlloc: the subscriber's receive path reuses its buffers.
func TestReadMessageZeroAlloc(t *testing.T) {
	var in []byte
	for range 1200 {
		in = appendMessage(in, []byte("bbo.binance.BTC-USDT"), make([]byte, 300))
	}
	s := NewSubscriber(SubOptions{}, nil)
	rd := reader{
		s: s, sc: &subConn{}, conn: discardConn{}, ctx: context.Background(),
		fr: frameReader{r: bufio.NewReader(bytes.NewReader(in)), max: s.opts.MaxMessageBytes},
	}
	rd.b = rd.newBatch()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := rd.readMessage(); err != nil {
			t.Fatal(err)
		}
		if len(rd.b.msgs) == cap(rd.b.msgs) || cap(rd.b.arena)-len(rd.b.arena) < s.opts.MaxMessageBytes {
			rd.b.msgs, rd.b.arena = rd.b.msgs[:0], rd.b.arena[:0]
		}
	})
	if allocs != 0 {
		t.Fatalf("readMessage: %v allocs/op", allocs)
	}
}

// TestSubscribed: Subscribed counts the subscribers holding a subscription, not the
// connections: a subscriber without one (or that cancelled its last) is not counted.
func TestSubscribed(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
	a, b := dialRaw(t, p.Endpoint()), dialRaw(t, p.Endpoint())
	a.subscribeMsg("bbo.")
	waitFor(t, waitLong, func() bool { return len(p.Stats()) == 2 && p.Subscribed() == 1 }, "one of two subscribed (have %d)", p.Subscribed())
	b.subscribeMsg("")
	waitFor(t, waitLong, func() bool { return p.Subscribed() == 2 }, "both subscribed")
	a.cancelMsg("bbo.")
	waitFor(t, waitLong, func() bool { return p.Subscribed() == 1 }, "one left after a cancel")
	if allocs := testing.AllocsPerRun(100, func() { p.Subscribed() }); allocs != 0 {
		t.Fatalf("Subscribed: %v allocs", allocs)
	}
}
