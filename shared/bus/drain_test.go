package bus

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrainBeforeClose: a subscriber that has not read for a while has the publisher's
// last batch stuck in a blocking write (or the rest of a direct write pending) while the
// queue is already empty. MaxQueued then reads 0 although messages are unsent; Unsent
// counts them, and Drain followed by Close hands every one of them to the subscriber.
// (Closing on MaxQueued() == 0, as the replay's ZMQ output did, lost that tail: a
// replayed strategy found fewer opportunities than the live one.)
func TestDrainBeforeClose(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{StallTimeout: time.Minute, MaxMessageBytes: 1 << 20})
	sub := dialRaw(t, p.Endpoint())
	_ = sub.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	sub.subscribeMsg("")
	waitSubscribed(t, p, 1, "")

	// Publish one message at a time, each after the last has left the queue, until the
	// socket stops taking whole messages: the queue is empty (the writer took
	// everything) yet something is unsent.
	payload := strings.Repeat("x", 256<<10)
	sent := 0
	for {
		if sent == 1000 {
			t.Fatalf("the socket took %d messages of 256 KiB without pushing back", sent)
		}
		if err := p.Publish([]byte("bbo.x"), []byte(strconv.Itoa(sent)+":"+payload)); err != nil {
			t.Fatal(err)
		}
		sent++
		waitFor(t, waitLong, func() bool { return p.MaxQueued() == 0 }, "the writer to take message %d", sent)
		if p.Unsent() > 0 {
			break // MaxQueued says 0, yet the socket has not taken everything
		}
	}

	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			_, frames, err := sub.read()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Logf("read after %d messages: %v", n, err)
				}
				got <- n
				return
			}
			if len(frames) == 2 && frames[1] == strconv.Itoa(n)+":"+payload {
				n++
			}
		}
	}()
	if left := p.Drain(context.Background(), waitLong); left != 0 {
		t.Fatalf("Drain: %d still unsent", left)
	}
	p.Close()
	if n := <-got; n != sent {
		t.Fatalf("subscriber got %d of %d messages in order before EOF", n, sent)
	}
}

// TestSubscriberTakesTailAfterPublisherClosed: the publisher sends its last messages and
// closes while the subscriber's handler is still busy; the subscriber's next PING fails
// (the peer is gone), yet everything the publisher sent is still in the subscriber's
// receive buffer and must reach the handler before the connection ends. (Closing the
// connection on that failed write lost the tail: a replayed strategy under load.)
func TestSubscriberTakesTailAfterPublisherClosed(t *testing.T) {
	p := newTestPublisher(t, ipcEndpoint(t, "tail.sock"), Options{})
	release := make(chan struct{})
	var got []string
	var mu sync.Mutex
	s := NewSubscriber(SubOptions{Heartbeat: 20 * time.Millisecond, ReconnectMin: time.Hour, ReconnectMax: time.Hour}, nil)
	if err := s.Connect(p.Endpoint()); err != nil {
		t.Fatal(err)
	}
	s.Subscribe("")
	runSubscriber(t, s, func(batch []Message) {
		<-release // a slow handler: it takes nothing until the publisher is gone
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			got = append(got, string(m.Payload))
		}
	})
	waitSubscribed(t, p, 1, "")
	const n = 2000
	for i := range n {
		if err := p.Publish([]byte("bbo.x"), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if left := p.Drain(context.Background(), waitLong); left != 0 {
		t.Fatalf("Drain: %d unsent", left)
	}
	p.Close()
	waitFor(t, waitLong, func() bool { return s.Stats()[0].WriteErrors > 0 }, "a PING to the closed publisher to fail")
	close(release)
	waitFor(t, waitLong, func() bool { return !s.Stats()[0].Connected }, "the connection to end")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("handler got %d of %d messages", len(got), n)
	}
	for i, v := range got {
		if v != strconv.Itoa(i) {
			t.Fatalf("message %d = %q", i, v)
		}
	}
}
