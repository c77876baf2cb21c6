package zmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestZ85 uses the test vector of ZeroMQ RFC 32 and a round trip.
func TestZ85(t *testing.T) {
	in := []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}
	if got := string(Z85Encode(nil, in)); got != "HelloWorld" {
		t.Fatalf("encode = %q", got)
	}
	back, err := Z85Decode(nil, []byte("HelloWorld"))
	if err != nil || !bytes.Equal(back, in) {
		t.Fatalf("decode = %x, %v", back, err)
	}
	for _, bad := range []string{"Hell", "Hello\x00orld", "#####"} {
		if _, err := Z85Decode(nil, []byte(bad)); err == nil {
			t.Errorf("Z85Decode(%q) accepted", bad)
		}
	}
	pub, sec, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{pub, sec} {
		got, err := ParseKey(" " + k.String() + "\n")
		if err != nil || got != k {
			t.Fatalf("ParseKey(%s) = %v, %v", k, got, err)
		}
	}
	if PublicFromSecret(sec) != pub {
		t.Fatal("PublicFromSecret does not match GenerateKeyPair")
	}
	if _, err := ParseKey(strings.Repeat("0", 39)); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
}

// TestKeysMatchLibzmq: keys printed by libzmq's zmq_curve_keypair parse, and the public
// key derived from the secret equals libzmq's (zmq_curve_public): an independent oracle
// for Z85 and Curve25519.
func TestKeysMatchLibzmq(t *testing.T) {
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import zmq\nfor _ in range(5):\n p,s=zmq.curve_keypair(); print(p.decode(), s.decode())").Output()
	if err != nil {
		t.Skipf("python3-zmq not available: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pubText, secText, _ := strings.Cut(line, " ")
		pub, err := ParseKey(pubText)
		if err != nil {
			t.Fatal(err)
		}
		sec, err := ParseKey(secText)
		if err != nil {
			t.Fatal(err)
		}
		if PublicFromSecret(sec) != pub {
			t.Fatalf("public of %s is %s, libzmq says %s", secText, PublicFromSecret(sec), pubText)
		}
		if pub.String() != pubText {
			t.Fatalf("re-encoded %s as %s", pubText, pub)
		}
	}
}

type keypair struct{ pub, sec Key }

func newKeys(t testing.TB) keypair {
	pub, sec, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return keypair{pub, sec}
}

// pair runs Handshake on both ends of a loopback TCP connection.
func pair(t *testing.T, server, client *Config) (ss, cs *Session, sc, cc net.Conn, serr, cerr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		sc = c
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if ss, serr = Handshake(c, server); serr != nil {
			c.Close() // as the bus does: the client sees the refusal at once
		}
	}()
	cc, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
	cs, cerr = Handshake(cc, client)
	if cerr != nil {
		cc.Close() // unblock the server
	}
	<-done
	t.Cleanup(func() {
		cc.Close()
		if sc != nil {
			sc.Close()
		}
	})
	return
}

func TestNullHandshake(t *testing.T) {
	ss, cs, _, _, serr, cerr := pair(t, &Config{SocketType: "PUB"}, &Config{SocketType: "SUB"})
	if serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	if ss.PeerSocketType != "SUB" || cs.PeerSocketType != "PUB" || ss.Secure() || cs.Secure() {
		t.Fatalf("sessions %+v %+v", ss, cs)
	}
	_, _, _, _, serr, _ = pair(t, &Config{SocketType: "PUB"}, &Config{SocketType: "PUB"})
	if !errors.Is(serr, ErrSocketType) {
		t.Fatalf("PUB-PUB: %v", serr)
	}
}

// TestCurveHandshakeAndMessages: a CURVE client and server agree, exchange sealed frames
// both ways (short and long, commands, in bursts), and the receiver rejects a replayed
// frame and a flipped bit.
func TestCurveHandshakeAndMessages(t *testing.T) {
	srv, cli := newKeys(t), newKeys(t)
	scfg := &Config{SocketType: "PUB", Curve: &Curve{Server: true, Public: srv.pub, Secret: srv.sec,
		Allow: func(k Key) bool { return k == cli.pub }}}
	ccfg := &Config{SocketType: "SUB", Curve: &Curve{Public: cli.pub, Secret: cli.sec, ServerKey: srv.pub}}
	ss, cs, sc, cc, serr, cerr := pair(t, scfg, ccfg)
	if serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	if ss.PeerKey != cli.pub || cs.PeerKey != srv.pub || !ss.Secure() {
		t.Fatal("peer keys")
	}
	var plain []byte
	plain = append(plain, flagMore, 3, 'a', 'b', 'c')
	long := bytes.Repeat([]byte{'x'}, 300)
	plain = append(plain, flagLong, 0, 0, 0, 0, 0, 0, 1, 44)
	plain = append(plain, long...)
	plain = AppendCommand(plain, "PING", []byte{0, 10})
	orig := bytes.Clone(plain)
	sealed, err := ss.SealFrames(nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, orig) {
		t.Fatal("SealFrames changed its input")
	}
	if _, err := sc.Write(sealed); err != nil {
		t.Fatal(err)
	}
	r := cs.OpenReader(bufio.NewReader(cc), 1024)
	got := make([]byte, len(orig))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatalf("opened %q, want %q", got, orig)
	}
	// Replay: the same sealed bytes again must fail on the nonce.
	if _, err := sc.Write(sealed[:5+8+8+16+5]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(got); !errors.Is(err, ErrCrypto) {
		t.Fatalf("replayed frame: %v", err)
	}

	// Tampering is caught by the box.
	ss2, cs2, sc2, cc2, serr, cerr := pair(t, scfg, ccfg)
	if serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	sealed, _ = ss2.SealFrames(nil, []byte{0, 1, 'z'})
	sealed[len(sealed)-1] ^= 1
	_, _ = sc2.Write(sealed)
	if _, err := cs2.OpenReader(bufio.NewReader(cc2), 1024).Read(got); !errors.Is(err, ErrCrypto) {
		t.Fatalf("tampered frame: %v", err)
	}
}

func TestCurveRefusals(t *testing.T) {
	srv, cli, other := newKeys(t), newKeys(t), newKeys(t)
	server := func() *Config {
		return &Config{SocketType: "PUB", Curve: &Curve{Server: true, Public: srv.pub, Secret: srv.sec,
			Allow: func(k Key) bool { return k == cli.pub }}}
	}
	client := func(k keypair, serverKey Key) *Config {
		return &Config{SocketType: "SUB", Curve: &Curve{Public: k.pub, Secret: k.sec, ServerKey: serverKey}}
	}
	// A client not on the allow list: the server refuses and says so.
	_, _, _, _, serr, cerr := pair(t, server(), client(other, srv.pub))
	if !errors.Is(serr, ErrDenied) || !errors.Is(cerr, ErrPeerError) {
		t.Fatalf("unlisted client: server %v, client %v", serr, cerr)
	}
	// A client that has the wrong server key: HELLO does not open.
	_, _, _, _, serr, _ = pair(t, server(), client(cli, other.pub))
	if !errors.Is(serr, ErrCrypto) {
		t.Fatalf("wrong server key: server %v", serr)
	}
	// A server impersonating with another secret cannot open HELLO and the client does
	// not connect; one that answers with a WELCOME of its own making is caught by the box.
	fake := &Config{SocketType: "PUB", Curve: &Curve{Server: true, Public: other.pub, Secret: other.sec}}
	_, _, _, _, serr, cerr = pair(t, fake, client(cli, srv.pub))
	if !errors.Is(serr, ErrCrypto) || cerr == nil {
		t.Fatalf("impostor server: server %v, client %v", serr, cerr)
	}
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		g := make([]byte, GreetingSize)
		writeGreeting(g, MechanismCurve, true)
		_, _ = io.ReadFull(b, make([]byte, GreetingSize)) // net.Pipe: read before writing
		_, _ = b.Write(g)
		_, _ = io.ReadFull(b, make([]byte, 2+6+helloDataSize))
		_, _ = b.Write(AppendCommand(nil, "WELCOME", make([]byte, welcomeDataSize)))
		_, _ = io.Copy(io.Discard, b)
	}()
	if _, err := Handshake(a, client(cli, srv.pub)); !errors.Is(err, ErrCrypto) {
		t.Fatalf("forged WELCOME: %v", err)
	}
	// NULL against CURVE.
	_, _, _, _, serr, _ = pair(t, server(), &Config{SocketType: "SUB"})
	if !errors.Is(serr, ErrMechanism) {
		t.Fatalf("NULL client: %v", serr)
	}
}

// TestSealZeroAlloc: sealing into a buffer with room does not allocate.
func TestSealZeroAlloc(t *testing.T) {
	srv, cli := newKeys(t), newKeys(t)
	ss, _, _, _, serr, cerr := pair(t,
		&Config{SocketType: "PUB", Curve: &Curve{Server: true, Public: srv.pub, Secret: srv.sec}},
		&Config{SocketType: "SUB", Curve: &Curve{Public: cli.pub, Secret: cli.sec, ServerKey: srv.pub}})
	if serr != nil || cerr != nil {
		t.Fatal(serr, cerr)
	}
	plain := append([]byte{flagMore, 20}, "bbo.binance.BTC-USDT"...)
	plain = append(plain, 0, 200)
	plain = append(plain, make([]byte, 200)...)
	out := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		if out, err = ss.SealFrames(out[:0], plain); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("SealFrames: %v allocs/op", allocs)
	}
}
