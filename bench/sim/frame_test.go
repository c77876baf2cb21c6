package sim

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"
)

// writeLog records every Write on the connections a listener accepts, so a test can see
// how the server's frames were grouped into socket writes.
type writeLog struct {
	net.Listener
	mu     sync.Mutex
	writes [][]byte // guarded by mu: every Write's bytes, in order (one client here)
}

type loggedConn struct {
	net.Conn
	l *writeLog
}

func (l *writeLog) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &loggedConn{Conn: c, l: l}, nil
}

func (c *loggedConn) Write(b []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, bytes.Clone(b))
	c.l.mu.Unlock()
	return c.Conn.Write(b)
}

// framesPerWrite parses the WebSocket frames (server frames are unmasked) in the bytes
// written after the HTTP upgrade response and returns, per write, how many frames ended
// in it, and whether every frame began and ended in one write.
func (l *writeLog) framesPerWrite(t *testing.T) (perWrite []int, whole bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var stream []byte
	var ends []int // ends[i]: offset in stream where write i ends
	for _, w := range l.writes {
		if len(stream) == 0 && bytes.HasPrefix(w, []byte("HTTP/")) {
			continue
		}
		stream = append(stream, w...)
		ends = append(ends, len(stream))
	}
	perWrite = make([]int, len(ends))
	whole = true
	wi := 0
	for off := 0; off < len(stream); {
		if len(stream)-off < 2 {
			t.Fatalf("stream ends inside a frame header")
		}
		size, hdr := uint64(stream[off+1]&0x7f), 2
		switch size {
		case 126:
			size, hdr = uint64(binary.BigEndian.Uint16(stream[off+2:])), 4
		case 127:
			size, hdr = binary.BigEndian.Uint64(stream[off+2:]), 10
		}
		end := off + hdr + int(size)
		if end > len(stream) {
			t.Fatalf("stream ends inside a frame")
		}
		for ends[wi] <= off {
			wi++
		}
		startW := wi
		for ends[wi] < end {
			wi++
		}
		if startW != wi {
			whole = false
		}
		perWrite[wi]++
		off = end
	}
	return perWrite, whole
}

// runLogged serves binance at rate with the given FramePerEvent, subscribes to one depth
// stream, reads frames for a while and returns the frames per write and the number of
// messages the client's own WebSocket parser (gorilla) received.
func runLogged(t *testing.T, rate float64, perEvent bool) ([]int, bool, int) {
	t.Helper()
	s, err := New(Options{Seed: 1, Rate: rate, Exchanges: []string{"binance"}, FramePerEvent: perEvent, MaxEvents: 3000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wl := &writeLog{Listener: s.ln}
	s.ln = wl
	s.Start()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c := binanceDepth(t, s, "btcusdt@depth@100ms")
	got := 1 // the subscription answer, read by binanceDepth
	poll(t, 20*time.Second, "every event delivered", func() bool {
		for {
			select {
			case m := <-c.msgs:
				if m.err != nil {
					t.Fatal(m.err)
				}
				got++
				continue
			default:
			}
			return s.Stats().Events == 3000 && uint64(got) >= s.Stats().Total.Frames+1
		}
	})
	fpw, whole := wl.framesPerWrite(t)
	return fpw, whole, got
}

// TestFramePerEvent: with Options.FramePerEvent every socket write carries exactly one
// WebSocket frame (one event), and the frames parsed from the writes are the messages the
// client received; without it, a fast book's frames share writes (so the check can fail).
func TestFramePerEvent(t *testing.T) {
	fpw, whole, got := runLogged(t, 5000, true)
	if !whole {
		t.Error("FramePerEvent: a frame was split across writes")
	}
	total := 0
	for i, n := range fpw {
		total += n
		if n != 1 {
			t.Fatalf("FramePerEvent: write %d carries %d frames", i, n)
		}
	}
	if total != got {
		t.Errorf("FramePerEvent: %d frames in the writes, client received %d messages", total, got)
	}
	if got < 3000 {
		t.Errorf("FramePerEvent: client received %d messages for 3000 events", got)
	}

	fpw, _, _ = runLogged(t, 200000, false)
	most := 0
	for _, n := range fpw {
		most = max(most, n)
	}
	if most < 2 {
		t.Errorf("batched mode: no write carried more than one frame (%d writes): the check cannot tell the modes apart", len(fpw))
	}
}
