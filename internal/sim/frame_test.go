package sim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
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
	n, err := c.Conn.Write(b)
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, bytes.Clone(b[:n])) // what reached the socket
	c.l.mu.Unlock()
	return n, err
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
		if len(stream)-off < 4 {
			break // cut by Close
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
			break // cut by Close: never delivered whole
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
// stream, lets the events flow, closes the server and reads the client to its end. It
// returns the frames per write and the number of messages the client's own WebSocket
// parser (gorilla) received: every whole frame written, since the socket closed after.
func runLogged(t *testing.T, rate float64, perEvent bool) ([]int, bool, int) {
	t.Helper()
	const maxEvents = 3000
	s, err := New(Options{Seed: 1, Rate: rate, Exchanges: []string{"binance"}, FramePerEvent: perEvent, MaxEvents: maxEvents}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wl := &writeLog{Listener: s.ln}
	s.ln = wl
	s.Start()
	c := binanceDepth(t, s, "btcusdt@depth@100ms")
	got := 1 // the subscription answer, read by binanceDepth
	read := func() {
		for {
			select {
			case m, ok := <-c.msgs:
				if !ok || m.err != nil {
					return
				}
				got++
				continue
			default:
			}
			return
		}
	}
	testkit.Poll(t, 20*time.Second, "the events generated and half delivered", func() bool {
		read()
		return s.Stats().Events == maxEvents && got > maxEvents/2
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for m := range c.msgs { // to the end of the connection
		if m.err != nil {
			break
		}
		got++
	}
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

	fpw, _, _ = runLogged(t, 200000, false)
	most := 0
	for _, n := range fpw {
		most = max(most, n)
	}
	if most < 2 {
		t.Errorf("batched mode: no write carried more than one frame (%d writes): the check cannot tell the modes apart", len(fpw))
	}
}

// TestFramePerEventEventLog: events generated one at a time under FramePerEvent reach the
// event log (Options.Events) as burst-generated ones do: the trailer counts every one.
func TestFramePerEventEventLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const maxEvents = 300
	s, err := New(Options{Rate: 3000, Events: path, MaxEvents: maxEvents, FramePerEvent: true, Exchanges: []string{"okx"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	c := dial(t, s, "okx", "/ws/v5/public")
	c.send(`{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}`)
	testkit.Poll(t, 10*time.Second, "every event generated", func() bool { return s.Stats().Events == maxEvents })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	trailer := string(lines[len(lines)-1])
	if !strings.Contains(trailer, fmt.Sprintf(`"events":%d,`, maxEvents)) || !strings.Contains(trailer, `"dropped":0`) {
		t.Errorf("trailer %s, want %d events and none dropped", trailer, maxEvents)
	}
	if len(lines) < maxEvents {
		t.Errorf("%d log lines for %d events", len(lines), maxEvents)
	}
}
