package bus

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// hugeHandshake is the 73-byte attack of issue #10: a valid ZMTP 3.0 NULL greeting
// followed by a command frame that claims size bytes. zmq4 v0.17.0's handshake
// (zmq4.Open) allocated the claimed size before reading it: 2^62 panics the process
// ("makeslice: len out of range"), 2^40 is a fatal out-of-memory.
func hugeHandshake(size uint64, asServer bool) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:], "NULL")
	if asServer {
		g[32] = 1
	}
	g = append(g, flagCommand|flagLong)
	return binary.BigEndian.AppendUint64(g, size)
}

// TestHandshakeHugeFrameToPublisher: a raw TCP client sends the 73-byte attack to a
// Publisher. With zmq4's handshake the test binary died (panic in the publisher's
// connection goroutine); now the connection is refused and counted, and a healthy
// subscriber keeps receiving.
func TestHandshakeHugeFrameToPublisher(t *testing.T) {
	for _, size := range []uint64{1 << 62, 1 << 40, 1 << 31, maxHandshakeFrameForTest + 1} {
		p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
		_, healthy := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "")
		waitSubscribed(t, p, 1, "")

		attack := hugeHandshake(size, false)
		if len(attack) != 73 {
			t.Fatalf("attack is %d bytes", len(attack))
		}
		conn, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(attack); err != nil {
			t.Fatal(err)
		}
		// The publisher answers with its greeting and closes: read to EOF.
		_ = conn.SetReadDeadline(time.Now().Add(waitLong))
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatalf("size %d: publisher did not close the connection: %v", size, err)
		}
		conn.Close()
		waitFor(t, waitLong, func() bool { return p.Totals().Refused[RefusedOversized] == 1 },
			"size %d: refusal counted as oversized: %+v", size, p.Totals())
		if tot := p.Totals(); tot.HandshakeFailed != 1 {
			t.Fatalf("size %d: HandshakeFailed = %d, want 1", size, tot.HandshakeFailed)
		}
		topic := "after.attack"
		if err := p.Publish([]byte(topic), nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, waitLong, func() bool { return healthy.has(topic) }, "healthy subscriber still served")
	}
}

// maxHandshakeFrameForTest is the smallest claim that must be refused.
const maxHandshakeFrameForTest = 2048

// TestHandshakeHugeFrameToSubscriber: a raw TCP server answers a Subscriber's dial with
// the 73-byte attack. With zmq4's handshake the subscriber process died; now the
// connection fails, is counted, and the subscriber keeps retrying (it dials again).
func TestHandshakeHugeFrameToSubscriber(t *testing.T) {
	ln := listenLocal(t)
	accepts := make(chan struct{}, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(hugeHandshake(1<<62, true))
			// Hold the connection open: the subscriber must give up by itself.
			go func() {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
			select {
			case accepts <- struct{}{}:
			default:
			}
		}
	}()
	s, _ := newTestSubscriber(t, SubOptions{}, []string{"tcp://" + ln.Addr().String()}, "")
	for range 2 { // at least one redial after the first refusal
		select {
		case <-accepts:
		case <-time.After(waitLong):
			t.Fatal("subscriber did not (re)dial")
		}
	}
	waitFor(t, waitLong, func() bool {
		st := s.Stats()[0]
		return st.DialErrors >= 1 && st.Refused[RefusedOversized] >= 1 && st.Connects == 0
	}, "oversized handshake counted: %+v", s.Stats())
}

// TestSubscriberHandshakeTimeout: a "publisher" that accepts and never greets costs the
// subscriber one HandshakeTimeout per attempt, counted, and it keeps redialling.
func TestSubscriberHandshakeTimeout(t *testing.T) {
	ln := listenLocal(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	s, _ := newTestSubscriber(t, SubOptions{HandshakeTimeout: 30 * time.Millisecond}, []string{"tcp://" + ln.Addr().String()}, "")
	waitFor(t, waitLong, func() bool { return s.Stats()[0].Refused[RefusedHandshakeTimeout] >= 2 }, "timeouts counted: %+v", s.Stats())
}
