package journal

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// chunkConn is a net.Conn whose reads return the input in the pieces a fuzz input splits it
// into (split input), and whose writes are kept.
type chunkConn struct {
	net.Conn // nil: only the methods below are used
	in       []byte
	splits   []byte
	out      bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := len(c.in)
	if len(c.splits) > 0 {
		n = min(n, 1+int(c.splits[0])%17)
		c.splits = c.splits[1:]
	}
	n = copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}
func (c *chunkConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzServeRequest feeds the server arbitrary request bytes, split arbitrarily, and checks
// the answer against the reference model: short input is a counted bad request with no
// answer; otherwise the response parses, carries exactly the held records of the range in
// order (up to a cut, which names where to continue), and the journal's bounds.
func FuzzServeRequest(f *testing.F) {
	req := func(from, to uint64) []byte { return le.AppendUint64(le.AppendUint64(nil, from), to) }
	f.Add(req(1, 10), []byte{0})
	f.Add(req(0, ^uint64(0)), []byte{3, 1, 15})
	f.Add(req(90, 80), []byte{})
	f.Add(req(50, 60)[:9], []byte{1})
	f.Add(append(req(1, 2), 0xff, 0xff), []byte{7, 7})
	j := New(100, 100*64)
	o := fill(j, 1, 150, 40) // holds 51..150 (arena-bound)
	first, last := j.Bounds()
	f.Fuzz(func(t *testing.T, in, splits []byte) {
		s := &Server{j: j, opts: ServerOptions{MaxRecords: 7, MaxBytes: 1000}}
		s.opts.defaults()
		c := &chunkConn{in: in, splits: splits}
		err := s.serve(c)
		if len(in) < 16 {
			if err == nil || s.Stats.BadRequests.Load() != 1 || c.out.Len() != 0 {
				t.Fatalf("short request: err %v, bad %d, %d bytes answered", err, s.Stats.BadRequests.Load(), c.out.Len())
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		from, to := le.Uint64(in), le.Uint64(in[8:])
		var buf []byte
		want := max(from, first)
		n := 0
		gf, gl, next, cut, err := readResponse(&c.out, &buf, func(r []byte) error {
			if want > to || want > last || !bytes.Equal(r, o[want]) {
				t.Fatalf("range %d..%d: record %d is not the model's", from, to, want)
			}
			want++
			n++
			return nil
		})
		if err != nil || c.out.Len() != 0 {
			t.Fatalf("response: %v, %d trailing bytes", err, c.out.Len())
		}
		if gf != first || gl != last {
			t.Fatalf("bounds %d..%d, want %d..%d", gf, gl, first, last)
		}
		if n > 7 {
			t.Fatalf("%d records past MaxRecords 7", n)
		}
		switch {
		case cut && next != want:
			t.Fatalf("cut at %d after sending up to %d", next, want-1)
		case !cut && from <= to && from <= last && want <= min(to, last):
			t.Fatalf("range %d..%d ended at %d without a cut", from, to, want-1)
		}
	})
}

// FuzzReadResponse: whatever a (hostile) server answers, the client errors or returns, and
// allocates no record larger than MaxRecordBytes.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xfe, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf []byte
		readResponse(bytes.NewReader(in), &buf, func(r []byte) error {
			if len(r) > MaxRecordBytes {
				t.Fatalf("%d-byte record", len(r))
			}
			return nil
		})
		if cap(buf) > 2*len(in)+64<<10+4096 {
			t.Fatalf("buffer of %d bytes for %d bytes of input", cap(buf), len(in))
		}
	})
}
