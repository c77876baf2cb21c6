package bus

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
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
