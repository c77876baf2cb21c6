package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamPair handshakes a ROUTER (server) and a DEALER (client) over loopback TCP and
// wraps both ends in Conns of maxFrame.
func streamPair(t *testing.T, curve bool, maxFrame int) (server, client *Conn) {
	t.Helper()
	scfg := &Config{SocketType: SocketRouter}
	ccfg := &Config{SocketType: SocketDealer}
	if curve {
		srv, cli := newKeys(t), newKeys(t)
		scfg.Curve = &Curve{Server: true, Public: srv.pub, Secret: srv.sec, Allow: func(k Key) bool { return k == cli.pub }}
		ccfg.Curve = &Curve{Public: cli.pub, Secret: cli.sec, ServerKey: srv.pub}
	}
	ss, cs, sc, cc, serr, cerr := pair(t, scfg, ccfg)
	if serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	if ss.PeerSocketType != SocketDealer || cs.PeerSocketType != SocketRouter || ss.Secure() != curve {
		t.Fatalf("sessions %+v %+v", ss, cs)
	}
	return NewConn(sc, ss, bufio.NewReader(sc), maxFrame), NewConn(cc, cs, bufio.NewReader(cc), maxFrame)
}

// TestConnStream: bytes written in writes of every size around the frame limit arrive
// identical, in order, read in small and large reads, with NULL and CURVE, both ways at
// once.
func TestConnStream(t *testing.T) {
	for _, curve := range []bool{false, true} {
		const maxFrame = 1000
		server, client := streamPair(t, curve, maxFrame)
		rng := rand.New(rand.NewPCG(1, 2))
		sizes := []int{0, 1, 254, 255, 256, 999, 1000, 1001, 3007}
		for range 50 {
			sizes = append(sizes, rng.IntN(5000))
		}
		var want []byte
		for _, n := range sizes {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			want = append(want, b...)
		}
		var wg sync.WaitGroup
		for _, pr := range [][2]*Conn{{client, server}, {server, client}} {
			w, r := pr[0], pr[1]
			wg.Add(1)
			go func() {
				defer wg.Done()
				off := 0
				for _, n := range sizes {
					if k, err := w.Write(want[off : off+n]); err != nil || k != n {
						t.Errorf("Write(%d) = %d, %v", n, k, err)
						return
					}
					off += n
				}
				_ = w.Conn.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(&chunkReader{r, 1 + rng.IntN(700)})
			if err != nil {
				t.Fatalf("curve %v: read: %v", curve, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("curve %v: read %d bytes, want %d (equal prefix %d)", curve, len(got), len(want), commonPrefix(got, want))
			}
		}
		wg.Wait()
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestConnWireIsSealed: with CURVE, the plaintext does not appear on the wire, and a
// flipped bit on the wire is ErrCrypto, not data.
func TestConnWireIsSealed(t *testing.T) {
	server, client := streamPair(t, true, 4096)
	secret := bytes.Repeat([]byte("bbo.binance.BTC-USDT "), 100)
	var wire bytes.Buffer
	w := &Conn{Conn: teeConn{server.Conn, &wire}, s: server.s, max: server.max}
	if _, err := w.Write(secret); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wire.Bytes(), []byte("BTC-USDT")) || wire.Len() < len(secret) {
		t.Fatalf("plaintext on the wire (%d bytes)", wire.Len())
	}
	got := make([]byte, len(secret))
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("read %v", err)
	}
	// Seal one more frame and flip a bit of its box before it leaves.
	wire.Reset()
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	sealed, err := server.s.SealFrames(nil, []byte{0, 1, 'y'})
	if err != nil {
		t.Fatal(err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := server.Conn.Write(sealed); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 1)
	if _, err := io.ReadFull(client, one); err != nil || one[0] != 'x' {
		t.Fatalf("intact frame: %q %v", one, err)
	}
	if _, err := client.Read(one); !errors.Is(err, ErrCrypto) {
		t.Fatalf("tampered frame: %v", err)
	}
	if _, err := client.Read(one); !errors.Is(err, ErrCrypto) {
		t.Fatalf("error not sticky: %v", err)
	}
}

// teeConn copies what is written to w as well.
type teeConn struct {
	net.Conn
	w io.Writer
}

func (c teeConn) Write(p []byte) (int, error) {
	c.w.Write(p)
	return c.Conn.Write(p)
}

// TestConnLimits: a frame over the limit is refused from its header, a command frame is
// a protocol error, and the ends of the stream are told apart.
func TestConnLimits(t *testing.T) {
	long := binary.BigEndian.AppendUint64([]byte{flagLong}, 1<<62)
	cases := []struct {
		name string
		in   []byte
		want []byte
		err  error
	}{
		{"clean end", []byte{0, 2, 'a', 'b', 0, 0}, []byte("ab"), io.EOF},
		{"end in a body", []byte{0, 3, 'a', 'b'}, []byte("ab"), io.ErrUnexpectedEOF},
		{"end in a header", []byte{0, 1, 'a', flagLong, 0, 0}, []byte("a"), io.ErrUnexpectedEOF},
		{"huge", long, nil, ErrTooLarge},
		{"over limit", []byte{0, 101}, nil, ErrTooLarge},
		{"command", []byte{0, 1, 'a', flagCommand, 1, 'b'}, []byte("a"), ErrProtocol},
		{"reserved flags", []byte{0x80, 1, 'a'}, nil, ErrProtocol},
	}
	for _, tc := range cases {
		c := &Conn{r: bytes.NewReader(tc.in), max: 100}
		got, err := io.ReadAll(c)
		if tc.err == io.EOF {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		} else if !errors.Is(err, tc.err) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: read %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestConnSocketTypes: the journal's pair does not talk to the bus's.
func TestConnSocketTypes(t *testing.T) {
	_, _, _, _, serr, _ := pair(t, &Config{SocketType: "PUB"}, &Config{SocketType: SocketDealer})
	if !errors.Is(serr, ErrSocketType) {
		t.Fatalf("DEALER to PUB: %v", serr)
	}
	_, _, _, _, serr, _ = pair(t, &Config{SocketType: SocketRouter}, &Config{SocketType: "SUB"})
	if !errors.Is(serr, ErrSocketType) {
		t.Fatalf("SUB to ROUTER: %v", serr)
	}
}

// TestConnZeroAlloc: after the first frame of the largest size, Write and Read do not
// allocate.
func TestConnZeroAlloc(t *testing.T) {
	server, client := streamPair(t, true, 4096)
	msg := bytes.Repeat([]byte{7}, 4096+300)
	buf := make([]byte, len(msg))
	round := func() {
		if _, err := server.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if allocs := testing.AllocsPerRun(50, round); allocs != 0 {
		t.Fatalf("%v allocs per round", allocs)
	}
}

// TestConnLibzmq: a libzmq DEALER with CURVE (python3-zmq) talks to a ROUTER Conn: what
// it sends is read from the stream, what the Conn writes arrives as libzmq messages — an
// independent oracle for the framing and the sealing.
func TestConnLibzmq(t *testing.T) {
	if _, err := exec.Command("/usr/bin/python3", "-c", "import zmq").CombinedOutput(); err != nil {
		t.Skipf("python3-zmq not available: %v", err)
	}
	srv, cli := newKeys(t), newKeys(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	script := `
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.curve_serverkey = sys.argv[2].encode()
s.curve_publickey = sys.argv[3].encode()
s.curve_secretkey = sys.argv[4].encode()
s.rcvtimeo = 10000
s.linger = 1000
s.connect("tcp://" + sys.argv[1])
s.send(b"request from libzmq " + b"z" * 600)
got = s.recv() + s.recv()
print(got.decode())
`
	cmd := exec.Command("/usr/bin/python3", "-c", script, ln.Addr().String(), srv.pub.String(), cli.pub.String(), cli.sec.String())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := Handshake(c, &Config{SocketType: SocketRouter, Curve: &Curve{Server: true, Public: srv.pub, Secret: srv.sec,
		Allow: func(k Key) bool { return k == cli.pub }}})
	if err != nil {
		t.Fatal(err)
	}
	conn := NewConn(c, s, bufio.NewReader(c), 1024)
	want := "request from libzmq " + strings.Repeat("z", 600)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(conn, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v", got, err)
	}
	reply := "reply " + strings.Repeat("r", 1500) // two frames: 1024 + 482
	if _, err := conn.Write([]byte(reply)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python: %v: %s", err, errOut.String())
	}
	if strings.TrimSpace(out.String()) != reply {
		t.Fatalf("libzmq received %d bytes, want %d", len(strings.TrimSpace(out.String())), len(reply))
	}
}

// connOracle parses a NULL data stream independently: the bodies, and the error class
// the stream ends with (nil: clean end).
func connOracle(in []byte, maxFrame int) ([]byte, error) {
	var out []byte
	for {
		if len(in) == 0 {
			return out, nil
		}
		if len(in) < 2 {
			return out, io.ErrUnexpectedEOF
		}
		flags := in[0]
		if flags&0xf8 != 0 {
			return out, ErrProtocol
		}
		size, hdr := uint64(in[1]), 2
		if flags&0x02 != 0 {
			if len(in) < 9 {
				return out, io.ErrUnexpectedEOF
			}
			size, hdr = binary.BigEndian.Uint64(in[1:9]), 9
		}
		if size > uint64(maxFrame) {
			return out, ErrTooLarge
		}
		if flags&0x04 != 0 {
			return out, ErrProtocol
		}
		body := in[hdr:]
		if uint64(len(body)) < size {
			return append(out, body...), io.ErrUnexpectedEOF
		}
		out = append(out, body[:size]...)
		in = body[size:]
	}
}

// FuzzConnRead feeds arbitrary bytes, split into arbitrary reads, to the reading side
// of a Conn: as a NULL stream (checked against connOracle) and as a CURVE stream (it
// must fail only with the package's errors and yield no more than it was given).
func FuzzConnRead(f *testing.F) {
	const limit = 300
	send, _ := fixedSessions()
	var plain []byte
	plain = append(plain, 0, 3, 'a', 'b', 'c', 0, 0, flagMore, 1, 'd')
	plain = append(plain, flagLong, 0, 0, 0, 0, 0, 0, 1, 44)
	plain = append(plain, make([]byte, 300)...)
	sealed, _ := send.SealFrames(nil, plain)
	for _, chunk := range []uint8{0, 1, 5} {
		for _, mode := range []uint8{0, 1} {
			f.Add(plain, chunk, mode)
			f.Add(sealed, chunk, mode)
			f.Add(sealed[:len(sealed)/2], chunk, mode)
		}
	}
	f.Add(binary.BigEndian.AppendUint64([]byte{flagLong}, 1<<62), uint8(0), uint8(0))
	f.Add(AppendCommand([]byte{0, 1, 'x'}, "PING", nil), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, mode uint8) {
		in := &chunkReader{bytes.NewReader(data), int(chunk)}
		var c *Conn
		if mode%2 == 0 {
			c = &Conn{r: in, max: limit}
		} else {
			_, recv := fixedSessions()
			c = &Conn{r: recv.OpenReader(bufio.NewReader(in), limit), max: limit}
		}
		got, err := io.ReadAll(c)
		if err != nil && !allowedErr(err) {
			t.Fatalf("unexpected error class: %v", err)
		}
		if len(got) > len(data) {
			t.Fatalf("read %d bytes from %d", len(got), len(data))
		}
		if mode%2 != 0 {
			return
		}
		want, werr := connOracle(data, limit)
		if !bytes.Equal(got, want) {
			t.Fatalf("read %q, oracle %q", got, want)
		}
		if (err == nil) != (werr == nil) || (werr != nil && !errors.Is(err, werr)) {
			t.Fatalf("error %v, oracle %v", err, werr)
		}
	})
}
