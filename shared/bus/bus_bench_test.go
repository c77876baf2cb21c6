package bus

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

var (
	benchTopic   = []byte("bbo.binance.BTC-USDT")
	benchPayload = bytes.Repeat([]byte{0xab}, 200) // a BBO record is ~150–250 bytes
)

// BenchmarkPublish measures Publish alone: copy into each subscriber's queue and wake
// its writer. Subscribers are raw connections drained by io.Copy; when they fall
// behind, the drop-oldest path is part of what is measured.
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run("subs="+strconv.Itoa(subs), func(b *testing.B) {
			p := newTestPublisher(b, "tcp://127.0.0.1:0", Options{})
			for range subs {
				c := dialRaw(b, p.Endpoint())
				c.subscribeMsg("bbo.")
				go io.Copy(io.Discard, c.conn)
			}
			waitFor(b, waitLong, func() bool { return p.Totals().Subscribers == subs }, "subscribers")
			waitFor(b, waitLong, func() bool {
				for _, st := range p.Stats() {
					if len(st.Subscriptions) == 0 {
						return false
					}
				}
				return true
			}, "subscriptions")
			b.ReportAllocs()
			b.SetBytes(int64(len(benchTopic) + len(benchPayload)))
			b.ResetTimer()
			for b.Loop() {
				p.Publish(benchTopic, benchPayload)
			}
			b.StopTimer()
			b.ReportMetric(float64(p.Totals().Dropped)/float64(b.N), "drops/op")
		})
	}
}

// bufConn is a net.Conn that zmq4 handshakes over and whose later writes collect in a
// buffer, standing in for "zmq4 Conn.SendMsg over a buffering net.Conn".
type bufConn struct {
	net.Conn
	buffering bool
	buf       []byte
}

func (c *bufConn) Write(p []byte) (int, error) {
	if c.buffering {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// BenchmarkEncode compares framing a message the bus's way (appendMessage into a reused
// queue slot) with zmq4's Conn.SendMsg writing into a buffering net.Conn.
func BenchmarkEncode(b *testing.B) {
	b.Run("own", func(b *testing.B) {
		b.ReportAllocs()
		var slot []byte
		start := time.Now()
		for b.Loop() {
			slot = appendMessage(slot[:0], benchTopic, benchPayload)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	b.Run("zmq4SendMsg", func(b *testing.B) {
		// net.Pipe would deadlock: both sides write their greeting first.
		ln := listenLocal(b)
		peer := make(chan net.Conn, 1)
		go func() {
			z, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				close(peer)
				return
			}
			zmq4.Open(z, nullSec(), zmq4.Sub, nil, false, nil)
			peer <- z
		}()
		defer func() {
			if z, ok := <-peer; ok {
				z.Close()
			}
		}()
		a, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		bc := &bufConn{Conn: a}
		conn, err := zmq4.Open(bc, nullSec(), zmq4.Pub, nil, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		bc.buffering = true
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			bc.buf = bc.buf[:0]
			if err := conn.SendMsg(zmq4.NewMsgFrom(benchTopic, benchPayload)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkThroughput measures end-to-end pub→sub delivery over TCP loopback, for the
// bus and for bare zmq4 sockets in the same run. msgs/s is the figure to compare.
func BenchmarkThroughput(b *testing.B) {
	b.Run("bus", func(b *testing.B) {
		const depth = 8192
		p := newTestPublisher(b, "tcp://127.0.0.1:0", Options{QueueDepth: depth})
		var got atomic.Int64
		s := NewSubscriber(SubOptions{}, nil)
		s.Connect(p.Endpoint())
		s.Subscribe("")
		runSubscriber(b, s, func(batch []Message) { got.Add(int64(len(batch))) })
		waitSubscribed(b, p, 1, "")
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := range b.N {
			p.Publish(benchTopic, benchPayload)
			// Pace on the queue, as a lossless replay would, so that the figure is
			// delivered messages, not drops.
			if i%64 == 63 {
				for p.MaxQueued() > depth/2 {
					runtime.Gosched()
				}
			}
		}
		waitFor(b, time.Minute, func() bool { return got.Load()+int64(p.Totals().Dropped) == int64(b.N) }, "delivery")
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(got.Load())/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(p.Totals().Dropped), "drops")
	})
	b.Run("zmq4", func(b *testing.B) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pub := zmq4.NewPub(ctx)
		defer pub.Close()
		if err := pub.Listen("tcp://127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		sub := zmq4.NewSub(ctx)
		defer sub.Close()
		sub.SetOption(zmq4.OptionSubscribe, "")
		if err := sub.Dial("tcp://" + pub.Addr().String()); err != nil {
			b.Fatal(err)
		}
		waitFor(b, waitLong, func() bool { return len(pub.(zmq4.Topics).Topics()) == 1 }, "zmq4 subscription")
		done := make(chan int, 1)
		n := b.N
		go func() {
			i := 0
			for ; i < n; i++ {
				if _, err := sub.Recv(); err != nil {
					break
				}
			}
			done <- i
		}()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for range n {
			// zmq4 writes the message later from its own goroutine; these buffers are
			// never modified, so sharing them is safe.
			if err := pub.Send(zmq4.NewMsgFrom(benchTopic, benchPayload)); err != nil {
				b.Fatal(err)
			}
		}
		var got int
		select {
		case got = <-done:
		case <-time.After(time.Minute):
			b.Fatal("zmq4 delivery timed out")
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(got)/el.Seconds(), "msgs/s")
	})
}

// BenchmarkMatchAmplified is issue #10's subscription amplification: one subscriber holds
// 1,024 prefixes that never match. "set" is the bus's length-indexed set; "linear" is the
// former linear scan over the prefixes (the reference model of the tests), for the
// before/after figure. Per publish, a gateway pays this once per subscriber.
func BenchmarkMatchAmplified(b *testing.B) {
	var s subscriptions
	ref := refSubs{}
	for i := range 1024 {
		p := []byte("zz." + strconv.Itoa(i) + ".")
		s.add(p, 1024, 256)
		ref[string(p)]++
	}
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.match(benchTopic) {
				b.Fatal("matched")
			}
		}
	})
	b.Run("linear", func(b *testing.B) {
		list := make([][]byte, 0, len(ref))
		for p := range ref {
			list = append(list, []byte(p))
		}
		for b.Loop() {
			for _, p := range list {
				if bytes.HasPrefix(benchTopic, p) {
					b.Fatal("matched")
				}
			}
		}
	})
}
