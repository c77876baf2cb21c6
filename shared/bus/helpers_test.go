package bus

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/tickline/tickline/internal/testkit"
)

// waitFor is testkit.Poll with the failure message formatted.
func waitFor(t testing.TB, d time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	testkit.Poll(t, d, fmt.Sprintf(format, args...), cond)
}

const waitLong = 20 * time.Second // generous: -race on 2 cores is slow

func newTestPublisher(t testing.TB, ep string, opts Options) *Publisher {
	t.Helper()
	p, err := NewPublisher(ep, opts, nil)
	if err != nil {
		t.Fatalf("NewPublisher(%s): %v", ep, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func ipcEndpoint(t testing.TB, name string) string {
	return "ipc://" + filepath.Join(t.TempDir(), name)
}

// waitSubscribed waits until the publisher has n subscribers that each hold exactly
// the given prefixes.
func waitSubscribed(t testing.TB, p *Publisher, n int, prefixes ...string) {
	t.Helper()
	want := slices.Sorted(slices.Values(prefixes))
	waitFor(t, waitLong, func() bool {
		st := p.Stats()
		if len(st) != n {
			return false
		}
		for _, s := range st {
			if !slices.Equal(slices.Sorted(slices.Values(s.Subscriptions)), want) {
				return false
			}
		}
		return true
	}, "%d subscribers with subscriptions %q (have %+v)", n, want, p.Stats())
}

type rec struct {
	ep             int
	topic, payload string
}

// collector is a Subscriber handler that copies what it receives.
type collector struct {
	mu   sync.Mutex
	msgs []rec
}

func (c *collector) handle(batch []Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range batch {
		c.msgs = append(c.msgs, rec{m.Endpoint, string(m.Topic), string(m.Payload)})
	}
}

func (c *collector) snapshot() []rec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

func (c *collector) has(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.msgs, func(r rec) bool { return r.topic == topic })
}

// runSubscriber runs s with handler h in a goroutine until the test ends.
func runSubscriber(t testing.TB, s *Subscriber, h func([]Message)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Errorf("Run did not return after cancel")
		}
	})
}

func newTestSubscriber(t testing.TB, opts SubOptions, endpoints []string, prefixes ...string) (*Subscriber, *collector) {
	t.Helper()
	if opts.ReconnectMin == 0 {
		opts.ReconnectMin, opts.ReconnectMax = 5*time.Millisecond, 100*time.Millisecond
	}
	s := NewSubscriber(opts, nil)
	if err := s.Connect(endpoints...); err != nil {
		t.Fatal(err)
	}
	s.Subscribe(prefixes...)
	c := &collector{}
	runSubscriber(t, s, c.handle)
	return s, c
}

// rawClient is a hand-driven ZMTP subscriber: zmq4 does the handshake, the test writes
// and reads frames itself.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	fr   frameReader
}

func dialRaw(t testing.TB, ep string) *rawClient {
	t.Helper()
	e, err := parseEndpoint(ep)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial(e.network, e.address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := zmq4.Open(conn, null.Security(), zmq4.Sub, nil, false, nil); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return &rawClient{t: t, conn: conn, fr: frameReader{r: bufio.NewReader(conn), max: 1 << 20}}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

func (c *rawClient) subscribeMsg(prefix string) { c.write(appendSubscription(nil, 1, prefix)) }
func (c *rawClient) cancelMsg(prefix string)    { c.write(appendSubscription(nil, 0, prefix)) }
func (c *rawClient) subscribeCmd(prefix string) {
	c.write(appendCommand(nil, cmdSubscribe, []byte(prefix)))
}
func (c *rawClient) cancelCmd(prefix string) { c.write(appendCommand(nil, cmdCancel, []byte(prefix))) }

// read returns the next message's frames, or an error. It gives up after waitLong.
func (c *rawClient) read() (flags byte, frames []string, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(waitLong))
	for {
		f, size, err := c.fr.header()
		if err != nil {
			return 0, frames, err
		}
		body, err := c.fr.appendBody(nil, size)
		if err != nil {
			return 0, frames, err
		}
		frames = append(frames, string(body))
		flags |= f
		if f&flagMore == 0 {
			return flags, frames, nil
		}
	}
}

func (c *rawClient) readMessage() (topic, payload string) {
	c.t.Helper()
	flags, frames, err := c.read()
	if err != nil {
		c.t.Fatalf("raw read: %v", err)
	}
	if flags&flagCommand != 0 || len(frames) != 2 {
		c.t.Fatalf("raw read: want a 2-frame message, got flags %#x frames %q", flags, frames)
	}
	return frames[0], frames[1]
}

func nullSec() zmq4.Security { return null.Security() }

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// listenLocal listens on a loopback TCP port the kernel picks; the listener is closed
// when the test ends.
func listenLocal(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
