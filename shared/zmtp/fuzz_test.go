package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// chunkReader returns at most n bytes per Read (0 = no limit): split input.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.n > 0 && len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// fuzzConn feeds the fuzzer's bytes to Handshake and discards what it writes.
type fuzzConn struct{ r io.Reader }

func (c fuzzConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c fuzzConn) Write(p []byte) (int, error) { return len(p), nil }

// roles are the four ends Handshake plays: the bus publisher (NULL, CURVE server) and
// subscriber (NULL, CURVE client), with the fixed test keys of capture_test.go.
func roles(t testing.TB) [4]*Config {
	server := &Curve{Server: true, Public: testKey(t, testServerPublic), Secret: testKey(t, testServerSecret),
		Allow: func(k Key) bool { return k == testKey(t, testClientPublic) }}
	client := &Curve{Public: testKey(t, testClientPublic), Secret: testKey(t, testClientSecret), ServerKey: server.Public}
	return [4]*Config{
		{SocketType: "PUB"},
		{SocketType: "SUB"},
		{SocketType: "PUB", Curve: server},
		{SocketType: "SUB", Curve: client},
	}
}

// captures returns the libzmq captures in testdata (see TestCaptureLibzmq): what a libzmq
// SUB sends (role 0 / 2) and what a libzmq PUB sends (role 1 / 3).
func captures(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range []string{"libzmq-null-sub.bin", "libzmq-null-pub.bin", "libzmq-curve-sub.bin", "libzmq-curve-pub.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// allowedErr reports whether err is one of the outcomes a hostile peer may cause.
func allowedErr(err error) bool {
	for _, e := range []error{ErrProtocol, ErrTooLarge, ErrMechanism, ErrSocketType, ErrDenied, ErrCrypto, ErrPeerError, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzHandshake drives every role of Handshake with arbitrary peer bytes, split into
// arbitrary reads, seeded with real libzmq captures and their truncations and
// mutations. It must never panic, never read a frame over MaxCommandBytes into memory,
// and fail only with the package's errors.
func FuzzHandshake(f *testing.F) {
	caps := captures(f)
	role := map[string]uint8{"libzmq-null-sub.bin": 0, "libzmq-null-pub.bin": 1, "libzmq-curve-sub.bin": 2, "libzmq-curve-pub.bin": 3}
	for name, b := range caps {
		for _, chunk := range []uint8{0, 1, 7} {
			f.Add(b[:min(len(b), 1024)], role[name], chunk)
			f.Add(b[:64], role[name], chunk)
			f.Add(b[:min(len(b), 75)], role[name], chunk)
		}
	}
	huge := append(append([]byte{}, caps["libzmq-null-sub.bin"][:64]...), flagCommand|flagLong)
	f.Add(binary.BigEndian.AppendUint64(huge, 1<<62), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, r uint8, chunk uint8) {
		cfg := roles(t)[r%4]
		s, err := Handshake(fuzzConn{&chunkReader{bytes.NewReader(data), int(chunk)}}, cfg)
		if err != nil {
			if !allowedErr(err) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if cfg.Curve != nil && s.curve == nil {
			t.Fatal("CURVE handshake succeeded without traffic keys")
		}
	})
}

// fixedSessions returns two ends of a CURVE session with a fixed traffic key, so that the
// fuzzer can reach the MESSAGE codec without a handshake.
func fixedSessions() (send, recv *Session) {
	var st1, st2 curveState
	st1.init(true, 1, 0)
	st2.init(false, 1, 0)
	st1.shared[0], st2.shared[0] = 7, 7
	return &Session{curve: &st1}, &Session{curve: &st2}
}

// FuzzCurveReader feeds arbitrary bytes, split arbitrarily, to the CURVE receiving side.
// Seeds are sealed frames (short, long, commands) and the MESSAGE part of the libzmq
// captures. Whatever it yields must be well-formed ZMTP frames no larger than the limit.
func FuzzCurveReader(f *testing.F) {
	send, _ := fixedSessions()
	var plain []byte
	plain = append(plain, flagMore, 3, 'a', 'b', 'c', 0, 0)
	plain = append(plain, flagLong, 0, 0, 0, 0, 0, 0, 1, 44)
	plain = append(plain, make([]byte, 300)...)
	plain = AppendCommand(plain, "PING", []byte{0, 1})
	sealed, _ := send.SealFrames(nil, plain)
	for _, chunk := range []uint8{0, 1, 5} {
		f.Add(sealed, chunk)
		f.Add(sealed[:len(sealed)/2], chunk)
	}
	for _, b := range captures(f) {
		if i := bytes.Index(b, []byte("\x07MESSAGE")); i >= 2 {
			f.Add(b[i-2:min(len(b), i+2048)], uint8(0))
		}
	}
	const limit = 1024
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		_, recv := fixedSessions()
		r := recv.OpenReader(bufio.NewReader(&chunkReader{bytes.NewReader(data), int(chunk)}), limit)
		out, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err != nil && !allowedErr(err) {
			t.Fatalf("unexpected error class: %v", err)
		}
		for len(out) > 0 { // every opened frame is whole and within the limit
			hdr, size := 2, 0
			if out[0]&flagLong != 0 {
				hdr, size = 9, int(binary.BigEndian.Uint64(out[1:9]))
			} else {
				size = int(out[1])
			}
			if size > limit || len(out) < hdr+size {
				t.Fatalf("opened frame of %d bytes (limit %d, have %d)", size, limit, len(out)-hdr)
			}
			out = out[hdr+size:]
		}
	})
}
