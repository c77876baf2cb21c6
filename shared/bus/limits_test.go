package bus

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHandshakeSlotExhaustion (issue #10, attack 3): 80 connections that never send a
// greeting used to take every subscriber slot. Now handshakes have their own limit and
// the oldest is evicted, so a real subscriber gets in and receives while they are open.
func TestHandshakeSlotExhaustion(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxSubscribers: 64, MaxHandshakes: 32, HandshakeTimeout: time.Minute})
	const idle = 80
	for range idle {
		c, err := net.Dial("tcp", p.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	waitFor(t, waitLong, func() bool {
		tot := p.Totals()
		return tot.Refused[RefusedHandshakeLimit] == idle-32 && tot.Handshaking == 32
	}, "idle handshakes beyond the limit evicted: %+v", p.Totals())

	_, healthy := newTestSubscriber(t, SubOptions{}, []string{p.Endpoint()}, "")
	waitSubscribed(t, p, 1, "")
	if err := p.Publish([]byte("through"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLong, func() bool { return healthy.has("through") }, "real subscriber served despite %d idle connections", idle)
}

// TestHandshakeTimeoutCounted: a connection that never greets is closed after
// HandshakeTimeout and counted as a timeout.
func TestHandshakeTimeoutCounted(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{HandshakeTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, waitLong, func() bool { return p.Totals().Refused[RefusedHandshakeTimeout] == 1 }, "timeout counted: %+v", p.Totals())
}

// TestHandshakeRefusals: handshakes that break the protocol in various ways are refused
// and counted by reason; the raw peers get no data.
func TestHandshakeRefusals(t *testing.T) {
	greeting := func(mech string, major byte) []byte {
		g := make([]byte, 64)
		g[0], g[9], g[10] = 0xff, 0x7f, major
		copy(g[12:], mech)
		return g
	}
	cases := []struct {
		name string
		in   []byte
		want Refusal
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 64)), RefusedHandshakeError},
		{"zmtp2", greeting("NULL", 2), RefusedMechanism},
		{"curve to null", greeting("CURVE", 3), RefusedMechanism},
		{"plain", greeting("PLAIN", 3), RefusedMechanism},
		{"data frame", append(greeting("NULL", 3), 0, 1, 'x'), RefusedHandshakeError},
		{"wrong socket type", append(greeting("NULL", 3), appendCommand(nil, "READY", []byte("\x0bSocket-Type\x00\x00\x00\x03PUB"))...), RefusedHandshakeError},
		{"huge metadata value", append(greeting("NULL", 3), appendCommand(nil, "READY", []byte("\x0bSocket-Type\xff\xff\xff\xffSUB"))...), RefusedOversized},
		{"huge short", append(greeting("NULL", 3), flagCommand|flagLong, 0, 0, 0, 0, 0, 0, 8, 1), RefusedOversized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{})
			c, err := net.Dial("tcp", p.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			waitFor(t, waitLong, func() bool { return p.Totals().Refused[tc.want] == 1 }, "refused as %s: %+v", tc.want, p.Totals())
			if tot := p.Totals(); tot.Accepted != 0 || tot.HandshakeFailed != 1 {
				t.Fatalf("totals %+v", tot)
			}
		})
	}
}

// TestPrefixTooLong: a subscription longer than MaxPrefixBytes disconnects the
// subscriber and is counted.
func TestPrefixTooLong(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxPrefixBytes: 8})
	c := dialRaw(t, p.Endpoint())
	c.subscribeMsg("12345678")
	c.subscribeCmd("123456789")
	if _, _, err := c.read(); err == nil {
		t.Fatal("connection still open")
	}
	waitFor(t, waitLong, func() bool {
		tot := p.Totals()
		return tot.Refused[RefusedPrefixTooLong] == 1 && tot.Malformed == 1
	}, "counted: %+v", p.Totals())
}

// TestTooManySubscriptionsCounted: the reason label of TestTooManySubscriptions.
func TestTooManySubscriptionsCounted(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{MaxSubscriptions: 3})
	c := dialRaw(t, p.Endpoint())
	for i := range 4 {
		c.subscribeMsg(fmt.Sprint(i))
	}
	if _, _, err := c.read(); err == nil {
		t.Fatal("connection still open")
	}
	waitFor(t, waitLong, func() bool { return p.Totals().Refused[RefusedTooManySubscriptions] == 1 }, "counted: %+v", p.Totals())
}

// refSubs is the reference model of subscriptions: a multiset scanned linearly.
type refSubs map[string]int

func (r refSubs) match(topic []byte) bool {
	for p, n := range r {
		if n > 0 && bytes.HasPrefix(topic, []byte(p)) {
			return true
		}
	}
	return false
}

// TestSubscriptionsModel checks the length-indexed set against a linear multiset on
// random add/remove/match schedules over a small alphabet (so prefixes collide).
func TestSubscriptionsModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab."[rng.IntN(3)]
		}
		return b
	}
	for round := range 200 {
		var s subscriptions
		ref := refSubs{}
		for step := range 300 {
			p := word(rng.IntN(6))
			switch rng.IntN(3) {
			case 0:
				if s.add(p, 1<<20, 256) != subOK {
					t.Fatal("add refused")
				}
				ref[string(p)]++
			case 1:
				s.remove(p)
				if ref[string(p)] > 0 {
					ref[string(p)]--
				}
			}
			topic := word(rng.IntN(8))
			if got, want := s.match(topic), ref.match(topic); got != want {
				t.Fatalf("round %d step %d: match(%q) = %v, model %v", round, step, topic, got, want)
			}
		}
		var distinct []string
		for p, n := range ref {
			if n > 0 {
				distinct = append(distinct, p)
			}
		}
		slices.Sort(distinct)
		if got := s.strings(); !slices.Equal(got, distinct) {
			t.Fatalf("round %d: strings %q, model %q", round, got, distinct)
		}
	}
}

// TestMatchCostBoundedByTopic (issue #10, attack 4): 1,024 non-matching prefixes must
// not make a publish scan 1,024 prefixes. The set looks up one key per distinct prefix
// length up to the topic's length, so 1,024 prefixes of a few lengths cost a few
// lookups; the check counts the lengths match may visit.
func TestMatchCostBoundedByTopic(t *testing.T) {
	var s subscriptions
	for i := range 1024 {
		s.add(fmt.Appendf(nil, "zz.%04d.", i), 1024, 256) // all 8 bytes long
	}
	if len(s.lens) != 1 {
		t.Fatalf("distinct lengths %v, want one", s.lens)
	}
	topic := []byte("bbo.binance.BTC-USDT")
	if s.match(topic) {
		t.Fatal("matched")
	}
	allocs := testing.AllocsPerRun(1000, func() { s.match(topic) })
	if allocs != 0 {
		t.Fatalf("match: %v allocs/op", allocs)
	}
}

// TestRingGrowsOnDemand: a subscriber's ring starts at ringChunk slots and doubles only
// when full, up to QueueDepth; drop-oldest keeps the newest QueueDepth messages in order
// (checked against a reference model: the last QueueDepth messages pushed).
func TestRingGrowsOnDemand(t *testing.T) {
	for _, depth := range []int{1, 63, 64, 65, 100, 300} {
		for _, n := range []int{0, 1, 64, 65, 99, 100, 101, 700} {
			p := &Publisher{opts: Options{QueueDepth: depth, DirectWriteGap: -1}}
			p.opts.setDefaults()
			a, b := net.Pipe()
			c := newPubConn(p, a, "pipe", nil)
			c.subs.add(nil, 1, 1)
			if got, want := len(c.slots), min(depth, ringChunk); got != want {
				t.Fatalf("depth %d: initial ring %d slots, want %d", depth, got, want)
			}
			for i := range n {
				c.push([]byte(fmt.Sprint("t", i)), nil, 0)
			}
			if len(c.slots) > depth || (n <= ringChunk && len(c.slots) > min(depth, ringChunk)) || len(c.slots) > max(ringChunk, 2*n) {
				t.Fatalf("depth %d after %d: ring %d slots", depth, n, len(c.slots))
			}
			var got []string
			for {
				buf, _, _ := c.take()
				if len(buf) == 0 {
					break
				}
				got = append(got, topicsOf(buf)...)
				c.mu.Lock()
				c.writer = writerNone
				c.mu.Unlock()
			}
			var want []string
			for i := max(0, n-depth); i < n; i++ {
				want = append(want, fmt.Sprint("t", i))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("depth %d after %d: got %d messages %q…, want %d", depth, n, len(got), got[:min(3, len(got))], len(want))
			}
			if c.dropped != uint64(max(0, n-depth)) {
				t.Fatalf("depth %d after %d: dropped %d", depth, n, c.dropped)
			}
			a.Close()
			b.Close()
		}
	}
}

// TestRingRestartsWhenEmpty: a ring that the writer empties restarts at slot 0, so a
// writer that keeps up reuses the first slots; pushes and takes interleaved at random
// keep FIFO order with drop-oldest (checked against a reference queue).
func TestRingRestartsWhenEmpty(t *testing.T) {
	const depth = 100
	p := &Publisher{opts: Options{QueueDepth: depth, DirectWriteGap: -1, WriteBatchBytes: 64}}
	p.opts.setDefaults()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newPubConn(p, a, "pipe", nil)
	c.subs.add(nil, 1, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	var model []string
	next := 0
	for round := range 2000 {
		for range rng.IntN(depth*3/2*(round%2) + 20) {
			m := fmt.Sprint("t", next)
			next++
			c.push([]byte(m), nil, 0)
			if model = append(model, m); len(model) > depth {
				model = model[1:]
			}
		}
		for range rng.IntN(8) {
			buf, _, _ := c.take()
			got := topicsOf(buf)
			if len(got) > len(model) || !slices.Equal(got, model[:len(got)]) {
				t.Fatalf("round %d: took %q, want a prefix of %q", round, got, model[:min(len(model), 3)])
			}
			model = model[len(got):]
			c.mu.Lock()
			c.writer = writerNone
			c.mu.Unlock()
		}
		if len(model) == 0 && c.head != 0 {
			t.Fatalf("round %d: empty ring at head %d, want 0", round, c.head)
		}
	}
}

// topicsOf reads the topics of the messages in a batch take returned.
func topicsOf(buf []byte) []string {
	var got []string
	fr := frameReader{r: bufioReader(buf), max: 1 << 20}
	for {
		_, size, err := fr.header()
		if err != nil {
			return got
		}
		body, _ := fr.appendBody(nil, size)
		got = append(got, string(body))
		_, size, _ = fr.header() // payload frame (empty)
		_ = fr.skip(size)
	}
}
