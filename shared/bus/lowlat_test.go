package bus

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/config"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-acc
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestSpinReader: the low-latency reader returns what the peer wrote (data already there,
// data arriving while it spins, data arriving after it parked), reports the peer's close
// as io.EOF and a past read deadline as os.ErrDeadlineExceeded, and allocates nothing.
func TestSpinReader(t *testing.T) {
	c, srv := tcpPair(t)
	r := newSpinReader(c, 50*time.Millisecond)
	if _, ok := r.(*spinReader); !ok {
		t.Fatalf("newSpinReader on TCP returned %T", r)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(waitLong)) // a hung read fails the test instead
	for i, delay := range []time.Duration{0, 5 * time.Millisecond, 200 * time.Millisecond} {
		msg := []byte{'m', byte('0' + i)}
		go func() {
			if delay > 0 {
				time.Sleep(delay) // the writer's pace, not a synchronisation: Read waits for the data
			}
			srv.Write(msg)
		}()
		n, err := io.ReadFull(r, buf[:2])
		if err != nil || string(buf[:n]) != string(msg) {
			t.Fatalf("read %d: %q, %v; want %q", i, buf[:n], err, msg)
		}
	}
	// AllocsPerRun calls f twice (a warm-up, then the measured run).
	if _, err := srv.Write([]byte("xyzw")); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := io.ReadFull(r, buf[:2]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("spinReader.Read: %v allocs", allocs)
	}
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := r.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(waitLong))
	srv.Close()
	if _, err := r.Read(buf); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want io.EOF", err)
	}
	if got := newSpinReader(c, 0); got != io.Reader(c) {
		t.Fatalf("spin 0: got %T, want the connection itself", got)
	}
}

// TestLowLatencyOptions: bus.low_latency reaches publishers and receivers, and without it
// nothing spins.
func TestLowLatencyOptions(t *testing.T) {
	topo := config.Defaults()
	if o := PublisherOptions(&topo.Bus); o.WriterSpin != 0 || o.QueueDepth != topo.Bus.QueueDepth {
		t.Fatalf("default publisher options %+v", o)
	}
	if so, err := ReceiverOptions(topo, nil, nil); err != nil || so.ReadSpin != 0 {
		t.Fatalf("default receiver options %+v, %v", so, err)
	}
	if ApplyRuntime(&topo.Bus) {
		t.Fatal("ApplyRuntime changed the runtime without low_latency")
	}
	topo.Bus.LowLatency = &config.LowLatency{Spin: 300 * time.Microsecond, GCPercent: -1, MemoryLimit: 1 << 30}
	if o := PublisherOptions(&topo.Bus); o.WriterSpin != 300*time.Microsecond {
		t.Fatalf("low-latency publisher options %+v", o)
	}
	if so, _ := ReceiverOptions(topo, nil, nil); so.ReadSpin != 300*time.Microsecond {
		t.Fatalf("low-latency receiver options %+v", so)
	}
}
