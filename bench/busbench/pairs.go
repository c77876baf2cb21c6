package busbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"

	"github.com/tickline/tickline/bench/cfloor"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/zmtp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// listen opens a listener on loopback tcp or a unix socket in dir.
func listen(transport, dir, name string) (net.Listener, string, error) {
	if transport == "ipc" {
		return cfloor.Listen(transport, filepath.Join(dir, name+".sock"))
	}
	return cfloor.Listen(transport, "127.0.0.1")
}

// floorPair is the raw floor: one length-prefixed write syscall per message, a buffered
// reader on the other side. Nothing can be cheaper on the same socket type.
type floorPair struct {
	ln   net.Listener
	w, r net.Conn
	hdr  []byte
}

func newFloor(transport, dir string) (*floorPair, error) {
	ln, ep, err := listen(transport, dir, "floor")
	if err != nil {
		return nil, err
	}
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			acc <- c
		}
		close(acc)
	}()
	w, err := cfloor.Dial(ep)
	if err != nil {
		return nil, err
	}
	r, ok := <-acc
	if !ok {
		return nil, errors.New("floor: accept failed")
	}
	return &floorPair{ln: ln, w: w, r: r, hdr: make([]byte, 4+PayloadBytes)}, nil
}

func (f *floorPair) send(p []byte) error {
	binary.LittleEndian.PutUint32(f.hdr, uint32(len(p)))
	copy(f.hdr[4:], p)
	_, err := f.w.Write(f.hdr[:4+len(p)])
	return err
}

func (f *floorPair) recv(on func([]byte)) {
	br := bufio.NewReaderSize(f.r, 64<<10)
	buf := make([]byte, 1<<16)
	var h [4]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(h[:])
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			return
		}
		on(buf[:n])
	}
}

func (f *floorPair) close() { f.w.Close(); f.r.Close(); f.ln.Close() }

// zmqPair is a bare zmq4 PUB→SUB pair (its own single-queue PUB socket).
type zmqPair struct {
	pub, sub zmq4.Socket
	stalled  net.Conn
	cancel   context.CancelFunc
	topic    []byte
}

func newZmq(transport, dir string, stalled bool) (*zmqPair, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pub := zmq4.NewPub(ctx)
	ep := "tcp://127.0.0.1:0"
	if transport == "ipc" {
		ep = "ipc://" + filepath.Join(dir, "zmq4.sock")
	}
	if err := pub.Listen(ep); err != nil {
		cancel()
		return nil, fmt.Errorf("zmq4 listen: %w", err)
	}
	if transport == "tcp" {
		ep = "tcp://" + pub.Addr().String()
	}
	sub := zmq4.NewSub(ctx, zmq4.WithAutomaticReconnect(true), zmq4.WithDialerMaxRetries(-1))
	if err := sub.Dial(ep); err != nil {
		cancel()
		return nil, fmt.Errorf("zmq4 dial: %w", err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, "bbo."); err != nil {
		cancel()
		return nil, err
	}
	z := &zmqPair{pub: pub, sub: sub, cancel: cancel, topic: []byte("bbo.binance.BTC-USDT")}
	if stalled {
		c, err := stalledSubscriber(ep)
		if err != nil {
			cancel()
			return nil, err
		}
		z.stalled = c
	}
	return z, nil
}

func (z *zmqPair) send(p []byte) error {
	// zmq4 writes the message later from its own goroutine: hand it a copy.
	return z.pub.Send(zmq4.NewMsgFrom(z.topic, append([]byte(nil), p...)))
}

func (z *zmqPair) recv(on func([]byte)) {
	for {
		m, err := z.sub.Recv()
		if err != nil {
			return
		}
		if len(m.Frames) == 2 {
			on(m.Frames[1])
		}
	}
}

func (z *zmqPair) close() {
	if z.stalled != nil {
		z.stalled.Close()
	}
	z.sub.Close()
	z.pub.Close()
	z.cancel()
}

// stalledSubscriber connects a ZMTP SUB that subscribes to everything and never reads.
func stalledSubscriber(ep string) (net.Conn, error) {
	c, err := cfloor.Dial(ep)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10) // let the stall show quickly
	}
	zc, err := zmq4.Open(c, null.Security(), zmq4.Sub, zmq4.SocketIdentity("stalled"), false, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("stalled subscriber handshake: %w", err)
	}
	if err := zc.SendMsg(zmq4.NewMsg([]byte{1})); err != nil { // subscribe to ""
		c.Close()
		return nil, err
	}
	return c, nil
}

// busPair is tickline's bus: Publisher → Subscriber, optionally with a stalled subscriber.
type busPair struct {
	pub     *bus.Publisher
	sub     *bus.Subscriber
	stalled net.Conn
	cancel  context.CancelFunc
	done    chan struct{}
	topic   []byte
	on      chan func([]byte)
	sent    int
}

// newBus builds the bus pair; with curve, both ends use CURVE (RFC 26) with fresh keys,
// the publisher allowing only the subscriber's key, as a secured gateway would.
func newBus(transport, dir string, stalled, curve bool) (*busPair, error) {
	ep := "tcp://127.0.0.1:0"
	if transport == "ipc" {
		ep = "ipc://" + filepath.Join(dir, "bus.sock")
	}
	po := bus.Options{QueueDepth: busQueueDepth, StallTimeout: 2 * time.Second}
	var so bus.SubOptions
	if curve {
		srvPub, srvSec, err := zmtp.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		cliPub, cliSec, err := zmtp.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		po.Curve = &bus.CurveServer{Secret: srvSec, Allowed: []zmtp.Key{cliPub}}
		so.Curve = &bus.CurveClient{Secret: cliSec, ServerKey: srvPub}
	}
	pub, err := bus.NewPublisher(ep, po, quiet)
	if err != nil {
		return nil, err
	}
	sub := bus.NewSubscriber(so, quiet)
	if err := sub.Connect(pub.Endpoint()); err != nil {
		pub.Close()
		return nil, err
	}
	sub.Subscribe("bbo.")
	ctx, cancel := context.WithCancel(context.Background())
	b := &busPair{pub: pub, sub: sub, cancel: cancel, done: make(chan struct{}), topic: []byte("bbo.binance.BTC-USDT"), on: make(chan func([]byte), 1)}
	if stalled {
		c, err := stalledSubscriber(pub.Endpoint())
		if err != nil {
			pub.Close()
			cancel()
			return nil, err
		}
		b.stalled = c
	}
	go func() {
		defer close(b.done)
		on := <-b.on
		sub.Run(ctx, func(batch []bus.Message) {
			for _, m := range batch {
				on(m.Payload)
			}
		})
	}()
	return b, nil
}

// send publishes; a flood paces itself on the publisher's queues (as a lossless producer
// such as replay does) instead of letting the bus drop the oldest messages.
//
// It paces on the least-queued subscriber (the healthy one: a stalled subscriber's queue
// is meant to overflow), checked every 256 messages since Stats allocates.
func (b *busPair) send(p []byte) error {
	if b.sent++; b.sent%256 == 0 {
		for b.minQueued() > busQueueDepth/2 {
			runtime.Gosched()
		}
	}
	return b.pub.Publish(b.topic, p)
}

func (b *busPair) minQueued() int {
	m := -1
	for _, st := range b.pub.Stats() {
		if m < 0 || st.Queued < m {
			m = st.Queued
		}
	}
	return m
}

const busQueueDepth = 65536

func (b *busPair) recv(on func([]byte)) { b.on <- on }
func (b *busPair) close() {
	b.cancel()
	<-b.done
	if b.stalled != nil {
		b.stalled.Close()
	}
	b.sub.Close()
	b.pub.Close()
}
