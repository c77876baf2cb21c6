package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
)

// oracle is the reference model: every record appended, by sequence, and the window the
// journal holds (checked against Bounds, which TestJournalKeepsNewest checks itself).
type oracle map[uint64][]byte

func fill(j *Journal, from, to uint64, size int) oracle {
	o := oracle{}
	for seq := from; seq <= to; seq++ {
		r := rec(seq, size)
		j.Append(seq, r)
		o[seq] = r
	}
	return o
}

// TestAppendRangeMatchesModel: chunked copies, continued from next, return exactly the held
// records of the range, in order, within the limits, for random ranges and limits (gaps in
// the sequence included).
func TestAppendRangeMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	j := New(300, 300*64)
	o := oracle{}
	var seqs []uint64
	seq := uint64(0)
	for range 1000 {
		seq += 1 + uint64(rng.IntN(3)) // gaps, as a failed publish leaves
		r := rec(seq, 10+rng.IntN(100))
		j.Append(seq, r)
		o[seq] = r
		seqs = append(seqs, seq)
	}
	first, last := j.Bounds()
	for range 2000 {
		from := uint64(rng.IntN(int(seq) + 10))
		to := from + uint64(rng.IntN(400))
		maxRec, maxBytes := 1+rng.IntN(50), 1+rng.IntN(2000)
		var want [][]byte
		for _, s := range seqs {
			if s >= from && s <= to && s >= first && s <= last {
				want = append(want, o[s])
			}
		}
		var got [][]byte
		next := from
		for rounds := 0; ; rounds++ {
			if rounds > 1000 {
				t.Fatal("no progress")
			}
			buf, n, nx, more := j.AppendRange(nil, next, to, maxRec, maxBytes)
			if n > maxRec || (n > 1 && len(buf) > maxBytes) {
				t.Fatalf("chunk of %d records, %d bytes over limits %d, %d", n, len(buf), maxRec, maxBytes)
			}
			for k := 0; k < n; k++ {
				l := binary.LittleEndian.Uint32(buf)
				got = append(got, bytes.Clone(buf[4:4+l]))
				buf = buf[4+l:]
			}
			if len(buf) != 0 {
				t.Fatalf("%d stray bytes", len(buf))
			}
			if !more {
				break
			}
			next = nx
		}
		if len(got) != len(want) {
			t.Fatalf("range %d..%d limits %d/%d: got %d records, want %d", from, to, maxRec, maxBytes, len(got), len(want))
		}
		for k := range got {
			if !bytes.Equal(got[k], want[k]) {
				t.Fatalf("range %d..%d: record %d differs", from, to, k)
			}
		}
	}
}

// fetchExact runs fetch (a Fetch of from..to) and fails unless it delivered exactly the
// records o holds for from..to, in order, and reported the journal's bounds as 1..last.
func fetchExact(t *testing.T, o oracle, from, to, last uint64, fetch func(f func([]byte) error) (uint64, uint64, error)) {
	t.Helper()
	next := from
	first, got, err := fetch(func(r []byte) error {
		if !bytes.Equal(r, o[next]) {
			return fmt.Errorf("record %d differs from the one appended", next)
		}
		next++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next != to+1 || first != 1 || got != last {
		t.Fatalf("got up to %d, bounds %d..%d", next-1, first, got)
	}
}

// TestRetransmitCutAndContinue: a response cut at the server's limits is continued by Fetch
// until the whole range arrived, byte-exact; the cuts are counted.
func TestRetransmitCutAndContinue(t *testing.T) {
	j := New(5000, 5000*200)
	o := fill(j, 1, 5000, 150)
	s, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{MaxRecords: 700, MaxBytes: 50 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fetchExact(t, o, 10, 4990, 5000, func(f func([]byte) error) (uint64, uint64, error) {
		return Fetch(context.Background(), s.Endpoint(), 10, 4990, f)
	})
	if s.Stats.Cut.Load() < 5 {
		t.Fatalf("%d cuts for 4981 records at ≤ 700 / 50 KiB per response", s.Stats.Cut.Load())
	}
}

// TestServerNeverLocksAcrossIO: a client asks for everything and never reads. While the
// server is stuck writing to it, Append still runs: the appends complete before the
// server's request has ended in any way. (On the code that held the journal's lock while
// writing, the appends waited for the write to time out.) Close then returns at once.
func TestServerNeverLocksAcrossIO(t *testing.T) {
	j := New(300000, 300000*128)
	fill(j, 1, 300000, 100) // 31 MB: far more than the socket buffers
	s, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{MaxRecords: 1 << 30, MaxBytes: 1 << 30,
		WriteTimeout: time.Hour, RequestTimeout: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", s.Endpoint()[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req [16]byte
	le.PutUint64(req[8:], ^uint64(0))
	c.Write(req[:])
	testkit.Poll(t, 30*time.Second, "the server to start writing", func() bool { return s.Stats.Records.Load() > 0 })

	appended := make(chan struct{})
	go func() {
		defer close(appended)
		for seq := uint64(300001); seq <= 400000; seq++ {
			j.Append(seq, rec(seq, 100))
		}
	}()
	select {
	case <-appended:
	case <-time.After(time.Minute):
		t.Fatal("Append blocked behind a client that does not read")
	}
	if n := s.Stats.Requests.Load() + s.Stats.WriteTimeouts.Load() + s.Stats.WriteErrors.Load(); n != 0 {
		t.Fatalf("the request ended (%d) before the appends: this test did not stall the server", n)
	}
	if _, last := j.Bounds(); last != 400000 {
		t.Fatalf("last %d", last)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close waits for a client that does not read")
	}
}

// TestServerLimits: connections beyond MaxConns are refused on accept, a request that does
// not arrive within ReadTimeout is dropped, a client that does not read is dropped after
// WriteTimeout; each is counted, and a good client is served afterwards.
func TestServerLimits(t *testing.T) {
	j := New(200000, 200000*128)
	fill(j, 1, 200000, 100)
	s, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{MaxConns: 2, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, MaxRecords: 1 << 30, MaxBytes: 1 << 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Endpoint()[len("tcp://"):]
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Two silent connections take both slots.
	dial()
	dial()
	var req [16]byte
	le.PutUint64(req[8:], ^uint64(0))
	testkit.Poll(t, 30*time.Second, "both slots taken", func() bool { return len(s.sem) == 2 })
	third := dial()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := third.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("third connection: read %d, %v; want closed", n, err)
	}
	if s.Stats.Refused.Load() != 1 {
		t.Fatalf("refused %d", s.Stats.Refused.Load())
	}
	testkit.Poll(t, 30*time.Second, "silent connections dropped", func() bool { return s.Stats.BadRequests.Load() == 2 })

	// A client that asks and never reads is dropped after WriteTimeout.
	stuck := dial()
	stuck.Write(req[:])
	testkit.Poll(t, 30*time.Second, "a write timeout", func() bool { return s.Stats.WriteTimeouts.Load() == 1 })

	n := 0
	if _, _, err := Fetch(context.Background(), s.Endpoint(), 5, 9, func([]byte) error { n++; return nil }); err != nil || n != 5 {
		t.Fatalf("good client after the attacks: %d records, %v", n, err)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// TestServerPace: responses together never send faster than BytesPerSec (a lower bound on
// the time, which no machine can beat), and still arrive whole.
func TestServerPace(t *testing.T) {
	j := New(10000, 10000*128)
	fill(j, 1, 6000, 100) // 6000 × 104 framed bytes ≈ 609 KiB
	const rate = 200 << 10
	s, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{BytesPerSec: rate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 { // two clients share the one budget
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			if _, _, err := Fetch(context.Background(), s.Endpoint(), 1, 3000, func([]byte) error { n++; return nil }); err != nil || n != 3000 {
				t.Errorf("%d records, %v", n, err)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	// The last chunk may start at (total - one chunk per client) / rate.
	floor := time.Duration(float64(6000*104-2*chunkBytes) / rate * float64(time.Second))
	if took < floor {
		t.Fatalf("sent %d bytes in %v: faster than %d B/s allows (%v)", 6000*104, took, rate, floor)
	}
}
