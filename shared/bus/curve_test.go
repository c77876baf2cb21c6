package bus

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/zmtp"
)

type testKeys struct{ pub, sec zmtp.Key }

func genKeys(t testing.TB) testKeys {
	t.Helper()
	pub, sec, err := zmtp.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{pub, sec}
}

// TestCurveRoundTrip: a CURVE publisher and subscriber exchange messages of every size
// class (short and long frames, larger than the batch arena), in bursts (writer batches)
// and paced (direct writes), with heartbeats (PING/PONG sealed both ways) flowing.
func TestCurveRoundTrip(t *testing.T) {
	srv, cli := genKeys(t), genKeys(t)
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxMessageBytes: 1 << 20,
		Curve: &CurveServer{Secret: srv.sec, Allowed: []zmtp.Key{cli.pub}}})
	s, c := newTestSubscriber(t, SubOptions{MaxMessageBytes: 1 << 20, BatchBytes: 4096, Heartbeat: 150 * time.Millisecond,
		Curve: &CurveClient{Secret: cli.sec, ServerKey: srv.pub}}, []string{p.Endpoint()}, "bbo.")
	waitSubscribed(t, p, 1, "bbo.")
	const n = 2000
	want := make([]string, 0, n)
	for i := range n {
		payload := "p" + strconv.Itoa(i)
		switch {
		case i%100 == 7:
			payload += strings.Repeat("L", 300_000)
		case i%10 == 3:
			payload += strings.Repeat("m", 1500)
		}
		if err := p.Publish([]byte("bbo.binance.BTC-USDT"), []byte(payload)); err != nil {
			t.Fatal(err)
		}
		_ = p.Publish([]byte("trade.okx.X"), []byte("filtered"))
		want = append(want, payload)
		if i%500 == 0 { // let the queue drain so that the next message is a direct write
			waitFor(t, waitLong, func() bool { return p.MaxQueued() == 0 }, "drained")
		}
	}
	waitFor(t, waitLong, func() bool { return len(c.snapshot()) == n }, "%d messages (have %d)", n, len(c.snapshot()))
	for i, r := range c.snapshot() {
		if r.topic != "bbo.binance.BTC-USDT" || r.payload != want[i] {
			t.Fatalf("message %d = %q/%.20q", i, r.topic, r.payload)
		}
	}
	// Heartbeats keep an idle CURVE connection up: PING sealed by the subscriber, PONG
	// sealed by the publisher's writer, both opened on the other side.
	before := s.Stats()[0]
	// (150 ms heartbeats: a 20 ms one, i.e. a 60 ms liveness bound, was broken by
	// scheduling stalls alone on a loaded 2-core machine.)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) { // an idle period of 10 heartbeats, not a synchronisation
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats()[0]; st.Disconnects != before.Disconnects || !st.Connected {
		t.Fatalf("idle CURVE connection dropped: %+v", st)
	}
	if tot := p.Totals(); tot.Malformed != 0 || tot.Accepted != 1 {
		t.Fatalf("publisher totals %+v", tot)
	}
	if st := p.Stats(); len(st) != 1 || st[0].Key != cli.pub.String() {
		t.Fatalf("subscriber stats do not name its key: %+v", st)
	}
}

// TestCurveRefused: a subscriber whose key is not allowed, one with the wrong server
// key, and a NULL subscriber are all refused and counted, on both sides; an allowed one
// on the same publisher receives.
func TestCurveRefused(t *testing.T) {
	srv, cli, other := genKeys(t), genKeys(t), genKeys(t)
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{Curve: &CurveServer{Secret: srv.sec, Allowed: []zmtp.Key{cli.pub}}})
	cases := []struct {
		name     string
		opts     SubOptions
		pubWhy   Refusal
		subWhy   Refusal
		ifSubErr bool
	}{
		{"unlisted key", SubOptions{Curve: &CurveClient{Secret: other.sec, ServerKey: srv.pub}}, RefusedUnauthorized, RefusedUnauthorized, true},
		{"wrong server key", SubOptions{Curve: &CurveClient{Secret: cli.sec, ServerKey: other.pub}}, RefusedAuthFailed, RefusedHandshakeError, true},
		{"null", SubOptions{}, RefusedMechanism, RefusedMechanism, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := p.Totals().Refused[tc.pubWhy]
			s, c := newTestSubscriber(t, tc.opts, []string{p.Endpoint()}, "")
			waitFor(t, waitLong, func() bool { return p.Totals().Refused[tc.pubWhy] >= before+2 }, "publisher refused twice as %s: %+v", tc.pubWhy, p.Totals())
			waitFor(t, waitLong, func() bool { return s.Stats()[0].Refused[tc.subWhy] >= 1 }, "subscriber counted %s: %+v", tc.subWhy, s.Stats())
			if st := s.Stats()[0]; st.Connects != 0 {
				t.Fatalf("refused subscriber connected: %+v", st)
			}
			_ = c
			s.Close()
		})
	}
	_, good := newTestSubscriber(t, SubOptions{Curve: &CurveClient{Secret: cli.sec, ServerKey: srv.pub}}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	_ = p.Publish([]byte("ok"), []byte("x"))
	waitFor(t, waitLong, func() bool { return good.has("ok") }, "allowed subscriber served")
}

// TestCurveOversizeAfterHandshake: a sealed message over the subscriber's limit is
// refused before it is read (the MESSAGE size is checked first) and counted.
func TestCurveOversizeAfterHandshake(t *testing.T) {
	srv, cli := genKeys(t), genKeys(t)
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxMessageBytes: 1 << 20, Curve: &CurveServer{Secret: srv.sec}})
	s, c := newTestSubscriber(t, SubOptions{MaxMessageBytes: 1000, Curve: &CurveClient{Secret: cli.sec, ServerKey: srv.pub}}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	_ = p.Publish([]byte("big"), bytes.Repeat([]byte{1}, 5000))
	waitFor(t, waitLong, func() bool { return s.Stats()[0].Refused[RefusedOversized] >= 1 }, "oversized counted: %+v", s.Stats())
	if c.has("big") {
		t.Fatal("oversized message delivered")
	}
}

// TestCurvePublishZeroAlloc: with CURVE, Publish (queueing, and sealing its own direct
// writes) still allocates nothing once buffers have grown. The subscribers are raw
// CURVE clients that discard what they read, so that only the publisher is measured.
func TestCurvePublishZeroAlloc(t *testing.T) {
	srv, cli := genKeys(t), genKeys(t)
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{DirectWriteGap: time.Nanosecond,
		Curve: &CurveServer{Secret: srv.sec, Allowed: []zmtp.Key{cli.pub}}})
	for range 2 {
		conn, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		sess, err := zmtp.Handshake(conn, (&CurveClient{Secret: cli.sec, ServerKey: srv.pub}).config(0))
		if err != nil {
			t.Fatal(err)
		}
		sub, _ := sess.SealFrames(nil, appendSubscription(nil, 1, ""))
		if _, err := conn.Write(sub); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, conn)
	}
	waitSubscribed(t, p, 2, "")
	topic, payload := []byte("bbo.binance.BTC-USDT"), make([]byte, 300)
	for range 4096 { // grow the slots and the sealing buffers once
		_ = p.Publish(topic, payload)
	}
	waitFor(t, waitLong, func() bool { return p.MaxQueued() == 0 }, "queues drained")
	directZeroAlloc(t, p, topic, payload, "CURVE Publish")
}
