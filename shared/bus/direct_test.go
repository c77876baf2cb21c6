package bus

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// payloadFor fills a payload of n bytes (n ≥ 12) that names its publisher and sequence and
// whose every byte can be checked, so that a torn or spliced message is detected.
func payloadFor(buf []byte, n int, pub uint32, seq uint64) []byte {
	b := buf[:n]
	binary.LittleEndian.PutUint32(b, pub)
	binary.LittleEndian.PutUint64(b[4:], seq)
	for i := 12; i < n; i++ {
		b[i] = byte(uint64(i)*31 + seq + uint64(pub))
	}
	return b
}

func checkPayload(b []byte) (pub uint32, seq uint64, err error) {
	if len(b) < 12 {
		return 0, 0, fmt.Errorf("payload of %d bytes", len(b))
	}
	pub, seq = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint64(b[4:])
	for i := 12; i < len(b); i++ {
		if b[i] != byte(uint64(i)*31+seq+uint64(pub)) {
			return pub, seq, fmt.Errorf("publisher %d message %d: byte %d corrupt", pub, seq, i)
		}
	}
	return pub, seq, nil
}

// TestDirectWriteHandover: Publish writes to an idle subscriber itself; when the socket
// cannot take a message whole (small buffers, a subscriber that is not reading), the rest
// goes to the writer goroutine ahead of everything queued after it. The subscriber then
// reads every message intact and in order.
func TestDirectWriteHandover(t *testing.T) {
	const n = 150
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{QueueDepth: 4096, MaxMessageBytes: 8 << 10,
		SendBufferBytes: 8 << 10, StallTimeout: 30 * time.Second, DirectWriteGap: time.Nanosecond})
	c := dialRaw(t, p.Endpoint())
	_ = c.conn.(*net.TCPConn).SetReadBuffer(8 << 10)
	c.subscribeMsg("")
	waitSubscribed(t, p, 1, "")

	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2<<10)
	for i := range n { // ~150 KiB: several times what the two socket buffers hold
		if err := p.Publish([]byte("bbo.x"), payloadFor(buf, 12+rng.IntN(len(buf)-12), 0, uint64(i))); err != nil {
			t.Fatal(err)
		}
	}
	var pc *pubConn
	for _, x := range *p.subs.Load() {
		pc = x
	}
	if pc.directs.Load() == 0 || pc.handovers.Load() == 0 {
		t.Fatalf("the test did not exercise its path: %d direct writes, %d handovers", pc.directs.Load(), pc.handovers.Load())
	}
	for i := range n {
		topic, payload := c.readMessage()
		_, seq, err := checkPayload([]byte(payload))
		if err != nil || topic != "bbo.x" || seq != uint64(i) {
			t.Fatalf("message %d: topic %q seq %d err %v", i, topic, seq, err)
		}
	}
	st := p.Stats()[0]
	if st.Sent != n || st.Dropped != 0 {
		t.Errorf("stats: sent %d dropped %d, want %d and 0", st.Sent, st.Dropped, n)
	}
	t.Logf("%d messages: %d written by Publish, %d handed over part-written", n, pc.directs.Load(), pc.handovers.Load())
}

// TestDirectWriteMixedPacing: two goroutines publish concurrently with random pauses
// (some messages go out directly, some through the queue) and random sizes; a Subscriber
// receives each goroutine's messages complete, intact and in that goroutine's order, and
// some went each way.
func TestDirectWriteMixedPacing(t *testing.T) {
	const perPub = 3000
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{QueueDepth: 1 << 14, MaxMessageBytes: 4 << 10})
	var mu sync.Mutex
	next := map[uint32]uint64{}
	var bad atomic.Value
	var got atomic.Int64
	s := NewSubscriber(SubOptions{MaxMessageBytes: 4 << 10}, nil)
	s.Connect(p.Endpoint())
	s.Subscribe("")
	runSubscriber(t, s, func(batch []Message) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			pub, seq, err := checkPayload(m.Payload)
			if err == nil && seq != next[pub] {
				err = fmt.Errorf("publisher %d: message %d after %d", pub, seq, next[pub])
			}
			if err != nil {
				bad.CompareAndSwap(nil, err.Error())
			}
			next[pub] = seq + 1
			got.Add(1)
		}
	})
	waitSubscribed(t, p, 1, "")

	var wg sync.WaitGroup
	for pub := range uint32(2) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(pub), 9))
			buf := make([]byte, 4<<10-64)
			for i := range perPub {
				if err := p.Publish([]byte("t"), payloadFor(buf, 12+rng.IntN(2000), pub, uint64(i))); err != nil {
					t.Error(err)
					return
				}
				if rng.IntN(4) == 0 {
					time.Sleep(50 * time.Microsecond) // a pause: the next one may go direct
				} // otherwise the next one follows at once (a burst: queued)
			}
		})
	}
	wg.Wait()
	waitFor(t, waitLong, func() bool { return got.Load() == 2*perPub || bad.Load() != nil }, "all %d messages (got %d)", 2*perPub, got.Load())
	if e := bad.Load(); e != nil {
		t.Fatal(e)
	}
	st := p.Stats()[0]
	if st.Direct == 0 || st.Direct == st.Sent {
		t.Errorf("want messages both written directly and queued: %d direct of %d", st.Direct, st.Sent)
	}
	t.Logf("%d messages, %d written by Publish", st.Sent, st.Direct)
}

// TestDirectWriteZeroAlloc: Publish writing to idle subscribers itself allocates nothing.
func TestDirectWriteZeroAlloc(t *testing.T) {
	p := newTestPublisher(t, "tcp://127.0.0.1:0", Options{DirectWriteGap: time.Nanosecond})
	for range 2 {
		c := dialRaw(t, p.Endpoint())
		c.subscribeMsg("")
		go io.Copy(io.Discard, c.conn)
	}
	waitSubscribed(t, p, 2, "")
	topic, payload := []byte("bbo.binance.BTC-USDT"), make([]byte, 300)
	directZeroAlloc(t, p, topic, payload, "Publish with direct writes")
}

// directZeroAlloc publishes to p's idle subscribers and fails unless some of the messages
// went out as direct writes and Publish allocated nothing.
func directZeroAlloc(t *testing.T, p *Publisher, topic, payload []byte, what string) {
	t.Helper()
	direct := func() (n uint64) {
		for _, st := range p.Stats() {
			n += st.Direct
		}
		return n
	}
	before := direct()
	allocs := testing.AllocsPerRun(500, func() {
		if err := p.Publish(topic, payload); err != nil {
			t.Fatal(err)
		}
	})
	if direct() == before {
		t.Fatal("no message went out directly: the test does not test its path")
	}
	if allocs != 0 {
		t.Fatalf("%s: %v allocs/op, want 0", what, allocs)
	}
}
