package journal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/zmtp"
)

// Server defaults (ServerOptions fields left zero).
const (
	DefaultMaxConns       = 16               // requests served at once; more are refused
	DefaultMaxRecords     = 65536            // records in one response before it is cut
	DefaultMaxBytes       = 16 << 20         // bytes in one response before it is cut
	DefaultReadTimeout    = 5 * time.Second  // to receive the 16-byte request
	DefaultWriteTimeout   = 5 * time.Second  // for the peer to take one chunk
	DefaultRequestTimeout = 30 * time.Second // for the whole response
	DefaultBytesPerSec    = 32 << 20         // all responses together (a 1M-record window: ~5 s)
	// chunkBytes and chunkRecords bound one copy under the journal's lock (≈ 10 µs of
	// memmove), which is the longest a request can hold up the publishing goroutine.
	chunkBytes   = 64 << 10
	chunkRecords = 512
)

// FrameBytes is the largest ZMTP frame body a CURVE retransmit connection carries, both
// ways (zmtp.Conn's maxFrame): a response chunk travels as one or more frames of at most
// this size, and a frame announcing more is refused before it is read.
const FrameBytes = 64 << 10

// cutMarker in place of a record length says the response was cut at the server's
// per-request limits; the client asks again from the sequence that follows.
const cutMarker = 0xFFFFFFFF

// acceptBackoff is the pause after a failed accept (fd exhaustion) before the next one.
const acceptBackoff = 50 * time.Millisecond

// ServerOptions bound what one client can cost a gateway. Zero fields take the defaults.
type ServerOptions struct {
	// MaxConns is the number of connections served at once; a connection beyond it is
	// closed on accept and counted (Refused).
	MaxConns int
	// MaxRecords and MaxBytes cut one response; Fetch continues with a new request.
	MaxRecords, MaxBytes int
	// ReadTimeout bounds the wait for the request, WriteTimeout each chunk written, and
	// RequestTimeout the whole response.
	ReadTimeout, WriteTimeout, RequestTimeout time.Duration
	// BytesPerSec bounds the bytes all responses together send per second, so that
	// retransmits (hostile or not) cannot take the gateway's CPU from publishing; a
	// response waits its turn (within RequestTimeout). Negative: unlimited.
	BytesPerSec int
	// Curve, when set, secures every connection with CURVE (RFC 26): Server must be true,
	// with the server's keypair and the Allow list of client keys. Each accepted
	// connection first completes the ZMTP handshake as a ROUTER (a DEALER client), within
	// ReadTimeout together with the request; refusals are counted (Unauthorized,
	// HandshakeFailed). The request and response are then the same bytes as without it,
	// carried in sealed frames of at most FrameBytes (zmtp.Conn). nil: plain TCP, the
	// protocol of the package documentation byte for byte.
	Curve *zmtp.Curve
}

func (o *ServerOptions) defaults() {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.BytesPerSec == 0 {
		o.BytesPerSec = DefaultBytesPerSec
	}
}

// pace spreads the responses' chunks over time at a fixed byte rate, shared by every
// connection: reserve returns when a chunk of n bytes may be sent. Unused time is not
// saved up, so there is no burst beyond one chunk per waiting connection.
type pace struct {
	mu   sync.Mutex
	rate int64 // bytes per second; 0: unlimited
	next time.Time
}

func (p *pace) reserve(n int) time.Time {
	now := time.Now()
	if p.rate == 0 {
		return now
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(time.Duration(int64(n) * int64(time.Second) / p.rate))
	return at
}

// ServerStats count what a Server did; every refusal has its counter (exported by the
// gateway's /metrics as tickline_journal_*).
type ServerStats struct {
	// Requests answered completely (or cut at the limits: also counted in Cut).
	Requests atomic.Uint64
	// Records and Bytes sent (record bytes, without framing).
	Records, Bytes atomic.Uint64
	// Cut: responses cut at MaxRecords/MaxBytes (the client continues).
	Cut atomic.Uint64
	// AcceptErrors: accept failures other than Close (file descriptors exhausted, ...),
	// each followed by a short pause before accepting again.
	AcceptErrors atomic.Uint64
	// Refused: connections closed on accept because MaxConns were being served.
	Refused atomic.Uint64
	// BadRequests: connections that closed, or sent nothing, before a whole request
	// arrived within ReadTimeout.
	BadRequests atomic.Uint64
	// WriteTimeouts: responses abandoned because the peer did not take a chunk within
	// WriteTimeout, or the whole response within RequestTimeout.
	WriteTimeouts atomic.Uint64
	// WriteErrors: responses abandoned on another write error (peer reset).
	WriteErrors atomic.Uint64
	// Unauthorized (CURVE): clients whose public key is not on the allow list.
	Unauthorized atomic.Uint64
	// HandshakeFailed (CURVE): connections that did not complete the handshake within
	// ReadTimeout (a plaintext or NULL client, a wrong server key, a broken or silent
	// peer).
	HandshakeFailed atomic.Uint64
}

// Server answers retransmit requests from a Journal. Each connection has its own goroutine
// and chunk buffer; the journal's lock is held only while a chunk is copied, never while
// writing, so a client that does not read costs one connection slot (until WriteTimeout),
// never the publisher's time.
type Server struct {
	j    *Journal
	ln   net.Listener
	log  *slog.Logger
	opts ServerOptions
	sem  chan struct{} // one token per connection being served
	pace pace
	done chan struct{} // closed by Close: ends waits for the pace
	wg   sync.WaitGroup
	once sync.Once

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open connections, closed by Close
	closed bool

	// Stats are read by metrics at scrape time.
	Stats ServerStats
}

// Listen starts serving j on endpoint (tcp://host:port or ipc:///path) with the default
// limits.
func Listen(endpoint string, j *Journal, log *slog.Logger) (*Server, error) {
	return ListenWith(endpoint, j, ServerOptions{}, log)
}

// ListenWith starts serving j on endpoint with the given limits.
func ListenWith(endpoint string, j *Journal, opts ServerOptions, log *slog.Logger) (*Server, error) {
	return listenWith(endpoint, j, opts, log, nil)
}

// listenWith is ListenWith; wrap, when set, wraps the listener (tests capture the wire).
func listenWith(endpoint string, j *Journal, opts ServerOptions, log *slog.Logger, wrap func(net.Listener) net.Listener) (*Server, error) {
	if opts.Curve != nil && !opts.Curve.Server {
		return nil, fmt.Errorf("journal: %s: the CURVE options are a client's (Server false)", endpoint)
	}
	network, addr, err := split(endpoint)
	if err != nil {
		return nil, err
	}
	if network == "unix" {
		os.Remove(addr)
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("journal: listening on %s: %w", endpoint, err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	opts.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{j: j, ln: ln, log: log, opts: opts, sem: make(chan struct{}, opts.MaxConns), conns: make(map[net.Conn]struct{}),
		done: make(chan struct{})}
	s.pace.rate = int64(max(opts.BytesPerSec, 0))
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func split(endpoint string) (string, string, error) {
	switch {
	case strings.HasPrefix(endpoint, "tcp://"):
		return "tcp", strings.TrimPrefix(endpoint, "tcp://"), nil
	case strings.HasPrefix(endpoint, "ipc://"):
		return "unix", strings.TrimPrefix(endpoint, "ipc://"), nil
	}
	return "", "", fmt.Errorf("journal: endpoint %q: want tcp:// or ipc://", endpoint)
}

// Endpoint returns the served endpoint with its real port.
func (s *Server) Endpoint() string {
	if s.ln.Addr().Network() == "unix" {
		return "ipc://" + s.ln.Addr().String()
	}
	return "tcp://" + s.ln.Addr().String()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return // Close
			}
			// Anything else (EMFILE in a connection flood, a timeout) is transient: count it,
			// back off briefly and keep serving — ending the loop would end retransmits until
			// the gateway restarts.
			s.Stats.AcceptErrors.Add(1)
			select {
			case <-s.done:
				return
			case <-time.After(acceptBackoff):
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.Stats.Refused.Add(1)
			c.Close()
			continue
		}
		if !s.track(c) {
			<-s.sem
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer s.untrack(c)
			if err := s.serve(c); err != nil {
				s.log.Debug("retransmit request failed", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// track registers an open connection so Close can end it; false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// serve answers one request on c. It is also the fuzz target's entry point.
func (s *Server) serve(c net.Conn) error {
	start := time.Now()
	c.SetReadDeadline(start.Add(s.opts.ReadTimeout))
	if s.opts.Curve != nil {
		var err error
		if c, err = s.handshake(c, start); err != nil {
			return err
		}
	}
	var req [16]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		s.Stats.BadRequests.Add(1)
		return fmt.Errorf("reading request: %w", err)
	}
	from, to := le.Uint64(req[0:]), le.Uint64(req[8:])
	end := time.Now().Add(s.opts.RequestTimeout)
	buf := make([]byte, 0, chunkBytes+4096)
	sentRecs, sentBytes := 0, 0
	cut := false
	for {
		recs, bytes := min(chunkRecords, s.opts.MaxRecords-sentRecs), min(chunkBytes, s.opts.MaxBytes-sentBytes)
		if recs <= 0 || bytes <= 0 {
			cut = true
			break
		}
		var n int
		var more bool
		buf, n, from, more = s.j.AppendRange(buf[:0], from, to, recs, bytes)
		if n > 0 {
			if err := s.write(c, buf, end); err != nil {
				return err
			}
			sentRecs += n
			sentBytes += len(buf)
			s.Stats.Records.Add(uint64(n))
			s.Stats.Bytes.Add(uint64(len(buf) - 4*n))
		}
		if !more {
			break
		}
	}
	// Bounds are read after the last chunk: what the journal holds now.
	first, last := s.j.Bounds()
	buf = buf[:0]
	if cut {
		s.Stats.Cut.Add(1)
		buf = le.AppendUint32(buf, cutMarker)
		buf = le.AppendUint64(buf, from)
	} else {
		buf = le.AppendUint32(buf, 0)
	}
	buf = le.AppendUint64(buf, first)
	buf = le.AppendUint64(buf, last)
	if err := s.write(c, buf, end); err != nil {
		return err
	}
	s.Stats.Requests.Add(1)
	return nil
}

// handshake runs the CURVE handshake on c within ReadTimeout (the read deadline is set)
// and returns the stream the request and response travel on.
func (s *Server) handshake(c net.Conn, start time.Time) (net.Conn, error) {
	c.SetWriteDeadline(start.Add(s.opts.ReadTimeout))
	sess, err := zmtp.Handshake(c, &zmtp.Config{SocketType: zmtp.SocketRouter, Curve: s.opts.Curve})
	if err != nil {
		if errors.Is(err, zmtp.ErrDenied) {
			s.Stats.Unauthorized.Add(1)
		} else {
			s.Stats.HandshakeFailed.Add(1)
		}
		return nil, fmt.Errorf("CURVE handshake: %w", err)
	}
	c.SetWriteDeadline(time.Time{})
	return zmtp.NewConn(c, sess, bufio.NewReaderSize(c, 4096), FrameBytes), nil
}

// write waits for the pace, then writes b within WriteTimeout and the request's end,
// counting a failure.
func (s *Server) write(c net.Conn, b []byte, end time.Time) error {
	if at := s.pace.reserve(len(b)); at.After(time.Now()) {
		if at.After(end) {
			s.Stats.WriteTimeouts.Add(1)
			return errors.New("writing response: the request timeout passes before its turn")
		}
		t := time.NewTimer(time.Until(at))
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return errors.New("writing response: server closed")
		}
	}
	dl := time.Now().Add(s.opts.WriteTimeout)
	if end.Before(dl) {
		dl = end
	}
	c.SetWriteDeadline(dl)
	if _, err := c.Write(b); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.Stats.WriteTimeouts.Add(1)
		} else {
			s.Stats.WriteErrors.Add(1)
		}
		return fmt.Errorf("writing response: %w", err)
	}
	return nil
}

// Close stops serving, closes the connections being served and waits for their
// goroutines: it returns promptly even while a peer does not read.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.ln.Close()
		if s.done != nil {
			close(s.done)
		}
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}

// ErrProtocol: the server's answer is not a retransmit response.
var ErrProtocol = errors.New("journal: bad retransmit response")

// dialTimeout bounds Fetch's dial when ctx allows longer: an unreachable host fails fast
// and the caller retries.
const dialTimeout = 5 * time.Second

// MaxRecordBytes bounds one record in a response Fetch accepts (the bus's largest message
// is configurable up to 1 GiB; journaled records are what the gateway published).
const MaxRecordBytes = 64 << 20

// FetchOptions configure Fetch's connections.
type FetchOptions struct {
	// Curve, when set, secures each connection with CURVE (the server must have Curve
	// set too): Server false, the client's keypair (Public, Secret) and the server's
	// public key (ServerKey). The handshake is bounded by the dial's and ctx's
	// deadlines. nil: plain TCP.
	Curve *zmtp.Curve
}

// Fetch is FetchWith without options: plain TCP.
func Fetch(ctx context.Context, endpoint string, from, to uint64, f func(rec []byte) error) (first, last uint64, err error) {
	return FetchWith(ctx, endpoint, from, to, FetchOptions{}, f)
}

// FetchWith asks the server at endpoint for records from..to and calls f for each (the slice is
// valid during the call); an error from f ends the fetch and is returned. When the server
// cuts a response at its per-request limits, Fetch asks again from where it stopped, on a
// new connection, until the range is done. It returns what the journal held at the last
// answer (first, last; 0, 0 when empty). Each dial is bounded by 5 s, the whole exchange
// by ctx's deadline.
func FetchWith(ctx context.Context, endpoint string, from, to uint64, opts FetchOptions, f func(rec []byte) error) (first, last uint64, err error) {
	if opts.Curve != nil && opts.Curve.Server {
		return 0, 0, fmt.Errorf("journal: fetching from %s: the CURVE options are a server's (Server true)", endpoint)
	}
	network, addr, err := split(endpoint)
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 0, 4096)
	for {
		var next uint64
		var cut bool
		first, last, next, cut, err = fetchOnce(ctx, network, addr, endpoint, from, to, opts.Curve, &buf, f)
		if err != nil || !cut {
			return first, last, err
		}
		if next <= from || next > to {
			return 0, 0, fmt.Errorf("%w: cut at %d for a request from %d to %d", ErrProtocol, next, from, to)
		}
		from = next
	}
}

// fetchOnce sends one request and reads its response.
func fetchOnce(ctx context.Context, network, addr, endpoint string, from, to uint64, curve *zmtp.Curve, buf *[]byte, f func(rec []byte) error) (first, last, next uint64, cut bool, err error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("journal: dialing %s: %w", endpoint, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var r io.Reader
	if curve != nil {
		hdl := time.Now().Add(dialTimeout)
		if dl, ok := ctx.Deadline(); !ok || hdl.Before(dl) {
			c.SetDeadline(hdl)
		}
		sess, err := zmtp.Handshake(c, &zmtp.Config{SocketType: zmtp.SocketDealer, Curve: curve})
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return 0, 0, 0, false, fmt.Errorf("journal: CURVE handshake with %s: %w", endpoint, err)
		}
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		} else {
			c.SetDeadline(time.Time{})
		}
		if ctx.Err() != nil { // cancelled while the deadline was being restored
			c.SetDeadline(time.Unix(1, 0))
		}
		zc := zmtp.NewConn(c, sess, bufio.NewReaderSize(c, 256<<10), FrameBytes)
		c, r = zc, zc
	}
	var req [16]byte
	le.PutUint64(req[0:], from)
	le.PutUint64(req[8:], to)
	if _, err := c.Write(req[:]); err != nil {
		return 0, 0, 0, false, fmt.Errorf("journal: sending request to %s: %w", endpoint, err)
	}
	if r == nil {
		r = bufio.NewReaderSize(c, 256<<10)
	}
	first, last, next, cut, err = readResponse(r, buf, f)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("journal: %s: %w (%w)", endpoint, ctx.Err(), err)
	}
	return first, last, next, cut, err
}

// readResponse reads one response: records (each bounded by MaxRecordBytes before it is
// allocated), then the end or the cut marker and the journal's bounds. buf is reused.
func readResponse(r io.Reader, buf *[]byte, f func(rec []byte) error) (first, last, next uint64, cut bool, err error) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, 0, 0, false, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		n := le.Uint32(hdr[:])
		if n == 0 {
			break
		}
		if n == cutMarker {
			var nx [8]byte
			if _, err := io.ReadFull(r, nx[:]); err != nil {
				return 0, 0, 0, false, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			next, cut = le.Uint64(nx[:]), true
			break
		}
		if n > MaxRecordBytes {
			return 0, 0, 0, false, fmt.Errorf("%w: %d-byte record (limit %d)", ErrProtocol, n, MaxRecordBytes)
		}
		b, err := readRecord(r, (*buf)[:0], int(n))
		*buf = b
		if err != nil {
			return 0, 0, 0, false, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if err := f(b); err != nil {
			return 0, 0, 0, false, err
		}
	}
	var tail [16]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return 0, 0, 0, false, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return le.Uint64(tail[0:]), le.Uint64(tail[8:]), next, cut, nil
}

// readRecord reads n bytes into b, growing it at most to twice what has arrived (plus
// 64 KiB): a length claimed by the peer costs memory only as its bytes come in.
func readRecord(r io.Reader, b []byte, n int) ([]byte, error) {
	for len(b) < n {
		step := min(n-len(b), max(len(b), 64<<10))
		b = slices.Grow(b, step)
		if _, err := io.ReadFull(r, b[len(b):len(b)+step]); err != nil {
			return b, err
		}
		b = b[:len(b)+step]
	}
	return b, nil
}
