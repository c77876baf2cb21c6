package bus

import (
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tickline/tickline/shared/config"
)

// PublisherOptions maps the topology's bus section to publisher options: queue depth,
// message size, stall timeout and, in low-latency mode, the spinning pinned writer.
func PublisherOptions(b *config.Bus) Options {
	o := Options{QueueDepth: b.QueueDepth, MaxMessageBytes: b.MaxMessageBytes, StallTimeout: b.StallTimeout}
	if b.LowLatency != nil {
		o.WriterSpin = b.LowLatency.Spin
	}
	return o
}

// ApplyRuntime sets the process's garbage collector for the bus's low-latency mode
// (GOGC and GOMEMLIMIT from bus.low_latency) and reports whether it did; without
// low_latency it changes nothing. Call it once at start-up, before the hot path runs.
// Asynchronous preemption can only be turned off from the environment
// (GODEBUG=asyncpreemptoff=1), see configs/README.md.
func ApplyRuntime(b *config.Bus) bool {
	ll := b.LowLatency
	if ll == nil {
		return false
	}
	debug.SetGCPercent(ll.GCPercent)
	debug.SetMemoryLimit(ll.MemoryLimit)
	return true
}

// spinReader reads a connection in low-latency mode: non-blocking read(2) calls, retried
// without sleeping for up to spin, before an ordinary Read parks in the poller. With
// data arriving more often than spin, the reader never sleeps and no wake-up stands
// between the network and the handler. Deadlines still apply (the poller's Read and the
// raw read both check them).
type spinReader struct {
	conn net.Conn
	rc   syscall.RawConn
	spin time.Duration
	buf  []byte
	n    int
	err  error
	fn   func(fd uintptr) bool // s.try bound once: the raw read does not allocate
}

// newSpinReader returns conn itself when it has no raw file descriptor (spinning is then
// not possible) or spin is not positive.
func newSpinReader(conn net.Conn, spin time.Duration) io.Reader {
	sc, ok := conn.(syscall.Conn)
	if !ok || spin <= 0 {
		return conn
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return conn
	}
	s := &spinReader{conn: conn, rc: rc, spin: spin}
	s.fn = s.try
	return s
}

// try is the RawConn.Read callback: one read(2), retried on EINTR only; it never asks the
// poller to wait.
func (s *spinReader) try(fd uintptr) bool {
	for {
		s.n, s.err = syscall.Read(int(fd), s.buf)
		if s.err != syscall.EINTR {
			return true
		}
	}
}

// Read implements io.Reader.
func (s *spinReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.buf = p
	defer func() { s.buf = nil }()
	var start time.Time
	for i := 0; ; i++ {
		if err := s.rc.Read(s.fn); err != nil {
			break // closed or past a deadline: the ordinary Read reports it
		}
		switch {
		case s.err == nil && s.n > 0:
			return s.n, nil
		case s.err == nil:
			return 0, io.EOF // read(2) returned 0: the peer closed
		case s.err != syscall.EAGAIN:
			return 0, os.NewSyscallError("read", s.err) // the kernel has cleared it: report it now
		}
		if i == 0 {
			start = time.Now()
		} else if time.Since(start) >= s.spin {
			break
		}
	}
	return s.conn.Read(p)
}

// pinThread keeps the calling goroutine on its OS thread while it spins (low-latency
// mode): the thread it warmed stays its own, and no other goroutine is scheduled onto it.
// It returns the function that releases it.
func pinThread(spin time.Duration) func() {
	if spin <= 0 {
		return func() {}
	}
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
