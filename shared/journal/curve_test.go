package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/zmtp"
)

type keypair struct{ pub, sec zmtp.Key }

func newKeys(t *testing.T) keypair {
	t.Helper()
	pub, sec, err := zmtp.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return keypair{pub, sec}
}

// serverCurve is a CURVE server config admitting only the given clients.
func serverCurve(srv keypair, allowed ...keypair) *zmtp.Curve {
	return &zmtp.Curve{Server: true, Public: srv.pub, Secret: srv.sec, Allow: func(k zmtp.Key) bool {
		for _, a := range allowed {
			if a.pub == k {
				return true
			}
		}
		return false
	}}
}

func clientCurve(cli keypair, server zmtp.Key) FetchOptions {
	return FetchOptions{Curve: &zmtp.Curve{Public: cli.pub, Secret: cli.sec, ServerKey: server}}
}

// tapListener records every byte the server writes to its connections.
type tapListener struct {
	net.Listener
	mu  sync.Mutex
	out bytes.Buffer
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, l: l}, nil
}

func (l *tapListener) written() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.out.Bytes())
}

type tapConn struct {
	net.Conn
	l *tapListener
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.mu.Lock()
	c.l.out.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// instrument is in every record of the CURVE tests; it must not appear on the wire.
const instrument = "bbo.binance.BTC-USDT"

// fillNamed appends records to..from carrying the instrument name; every 500th is larger
// than a CURVE frame (FrameBytes), so it crosses frames.
func fillNamed(j *Journal, from, to uint64) oracle {
	o := oracle{}
	for seq := from; seq <= to; seq++ {
		n := 150
		if seq%500 == 0 {
			n = FrameBytes*2 + 77
		}
		r := bytes.Repeat([]byte(instrument+" "), n/21+1)[:n]
		copy(r, fmt.Sprintf("%08d ", seq))
		j.Append(seq, r)
		o[seq] = r
	}
	return o
}

// TestCurveFetch: a CURVE client on the allow list gets the range byte-exact (responses cut
// and continued, records larger than a frame), and none of the record bytes travel in
// the clear: the server's writes, captured under it, never contain the instrument name.
func TestCurveFetch(t *testing.T) {
	j := New(5000, 5000*2000)
	o := fillNamed(j, 1, 3000)
	srv, cli := newKeys(t), newKeys(t)
	tap := &tapListener{}
	s, err := listenWith("tcp://127.0.0.1:0", j, ServerOptions{MaxRecords: 700, MaxBytes: 200 << 10, Curve: serverCurve(srv, cli)}, nil,
		func(ln net.Listener) net.Listener { tap.Listener = ln; return tap })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fetchExact(t, o, 10, 2990, 3000, func(f func([]byte) error) (uint64, uint64, error) {
		return FetchWith(ctx, s.Endpoint(), 10, 2990, clientCurve(cli, srv.pub), f)
	})
	// The server counts a request after writing its response: the client may be done
	// first (a CI run read 5 requests, 5 cuts).
	testkit.Poll(t, 30*time.Second, "every request counted", func() bool { return s.Stats.Requests.Load() == s.Stats.Cut.Load()+1 })
	if s.Stats.Cut.Load() < 3 {
		t.Fatalf("%d requests, %d cuts", s.Stats.Requests.Load(), s.Stats.Cut.Load())
	}
	wire := tap.written()
	if len(wire) < 2981*150 {
		t.Fatalf("captured only %d bytes", len(wire))
	}
	if i := bytes.Index(wire, []byte("BTC-USDT")); i >= 0 {
		t.Fatalf("plaintext on the wire at byte %d", i)
	}
	if s.Stats.Unauthorized.Load()+s.Stats.HandshakeFailed.Load()+s.Stats.BadRequests.Load() != 0 {
		t.Fatal("refusals counted for a good client")
	}

	// The oracle of the test itself: without CURVE the same capture shows the records.
	tap2 := &tapListener{}
	p, err := listenWith("tcp://127.0.0.1:0", j, ServerOptions{}, nil, func(ln net.Listener) net.Listener { tap2.Listener = ln; return tap2 })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := Fetch(ctx, p.Endpoint(), 10, 20, func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tap2.written(), []byte("BTC-USDT")) {
		t.Fatal("the capture does not see plaintext: the check above proves nothing")
	}
}

// TestCurveRefusals: a client key not on the allow list, a plaintext client, a client that
// has another server key and a silent connection are all refused and counted by reason;
// an allowed client is served afterwards.
func TestCurveRefusals(t *testing.T) {
	j := New(1000, 1000*200)
	fillNamed(j, 1, 100)
	srv, cli, other := newKeys(t), newKeys(t), newKeys(t)
	s, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{ReadTimeout: 500 * time.Millisecond, Curve: serverCurve(srv, cli)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	none := func([]byte) error { return errors.New("a record reached a refused client") }

	// Not on the allow list: the server says so (ERROR "Access denied").
	_, _, err = FetchWith(ctx, s.Endpoint(), 1, 100, clientCurve(other, srv.pub), none)
	if !errors.Is(err, zmtp.ErrPeerError) {
		t.Fatalf("unlisted client: %v", err)
	}
	testkit.Poll(t, 30*time.Second, "the unauthorized client counted", func() bool { return s.Stats.Unauthorized.Load() == 1 })

	// Plaintext client: its 16-byte request is not a ZMTP greeting; refused at once.
	start := time.Now()
	_, _, err = Fetch(ctx, s.Endpoint(), 1, 100, none)
	if err == nil {
		t.Fatal("plaintext client served")
	}
	testkit.Poll(t, 30*time.Second, "the plaintext client counted", func() bool { return s.Stats.HandshakeFailed.Load() == 1 })
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("plaintext client refused after %v", took)
	}

	// A client with another server key: HELLO does not open.
	if _, _, err = FetchWith(ctx, s.Endpoint(), 1, 100, clientCurve(cli, other.pub), none); err == nil {
		t.Fatal("client with the wrong server key served")
	}
	testkit.Poll(t, 30*time.Second, "the wrong-server-key client counted", func() bool { return s.Stats.HandshakeFailed.Load() == 2 })

	// A connection that never greets is dropped after ReadTimeout.
	c, err := net.Dial("tcp", s.Endpoint()[len("tcp://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testkit.Poll(t, 30*time.Second, "the silent connection counted", func() bool { return s.Stats.HandshakeFailed.Load() == 3 })

	if s.Stats.Records.Load() != 0 || s.Stats.Requests.Load() != 0 {
		t.Fatalf("refused clients were sent %d records", s.Stats.Records.Load())
	}
	n := 0
	if _, _, err := FetchWith(ctx, s.Endpoint(), 5, 9, clientCurve(cli, srv.pub), func([]byte) error { n++; return nil }); err != nil || n != 5 {
		t.Fatalf("allowed client after the refusals: %d records, %v", n, err)
	}
	if s.Stats.Unauthorized.Load() != 1 || s.Stats.HandshakeFailed.Load() != 3 {
		t.Fatalf("counts changed: unauthorized %d, handshake %d", s.Stats.Unauthorized.Load(), s.Stats.HandshakeFailed.Load())
	}

	// A CURVE client against a plain server does not take the plain response as data.
	p, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := FetchWith(ctx, p.Endpoint(), 1, 100, clientCurve(cli, srv.pub), none); !errors.Is(err, zmtp.ErrProtocol) {
		t.Fatalf("CURVE client against a plain server: %v", err)
	}

	// Options on the wrong side are refused up front.
	if _, err := ListenWith("tcp://127.0.0.1:0", j, ServerOptions{Curve: clientCurve(cli, srv.pub).Curve}, nil); err == nil {
		t.Fatal("server with a client's CURVE options")
	}
	if _, _, err := FetchWith(ctx, s.Endpoint(), 1, 2, FetchOptions{Curve: serverCurve(srv)}, none); err == nil {
		t.Fatal("fetch with a server's CURVE options")
	}
}

// BenchmarkFetch: one fetch of 20,000 records of 150 bytes (about 3 MB), plain and CURVE,
// unpaced. Reports records/s.
func BenchmarkFetch(b *testing.B) {
	j := New(20000, 20000*200)
	for seq := uint64(1); seq <= 20000; seq++ {
		j.Append(seq, bytes.Repeat([]byte{byte(seq)}, 150))
	}
	srv, cli := keypair{}, keypair{}
	var err error
	if srv.pub, srv.sec, err = zmtp.GenerateKeyPair(); err != nil {
		b.Fatal(err)
	}
	if cli.pub, cli.sec, err = zmtp.GenerateKeyPair(); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		so   ServerOptions
		fo   FetchOptions
	}{
		{"plain", ServerOptions{BytesPerSec: -1}, FetchOptions{}},
		{"curve", ServerOptions{BytesPerSec: -1, Curve: serverCurve(srv, cli)}, clientCurve(cli, srv.pub)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := ListenWith("tcp://127.0.0.1:0", j, tc.so, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(20000 * 150)
			for b.Loop() {
				n := 0
				if _, _, err := FetchWith(context.Background(), s.Endpoint(), 1, 20000, tc.fo, func([]byte) error { n++; return nil }); err != nil || n != 20000 {
					b.Fatalf("%d records, %v", n, err)
				}
			}
			b.ReportMetric(float64(b.N*20000)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
