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
	"strings"
	"sync"
	"time"
)

// Server answers retransmit requests from a Journal.
type Server struct {
	j    *Journal
	ln   net.Listener
	log  *slog.Logger
	wg   sync.WaitGroup
	once sync.Once
}

// Listen starts serving j on endpoint (tcp://host:port or ipc:///path).
func Listen(endpoint string, j *Journal, log *slog.Logger) (*Server, error) {
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
	s := &Server{j: j, ln: ln, log: log}
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
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if err := s.serve(c); err != nil && s.log != nil {
				s.log.Warn("retransmit request failed", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (s *Server) serve(c net.Conn) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var req [16]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return err
	}
	from, to := le.Uint64(req[0:]), le.Uint64(req[8:])
	w := bufio.NewWriterSize(c, 256<<10)
	var hdr [4]byte
	var werr error
	// Copy under the journal lock into the buffered writer; the socket write happens as it
	// fills, so a slow client holds the lock at most one buffer's worth of write time.
	s.j.Range(from, to, func(_ uint64, rec []byte) bool {
		le.PutUint32(hdr[:], uint32(len(rec)))
		if _, werr = w.Write(hdr[:]); werr == nil {
			_, werr = w.Write(rec)
		}
		return werr == nil
	})
	if werr != nil {
		return werr
	}
	first, last := s.j.Bounds()
	var tail [20]byte
	le.PutUint64(tail[4:], first)
	le.PutUint64(tail[12:], last)
	if _, err := w.Write(tail[:]); err != nil {
		return err
	}
	return w.Flush()
}

// Close stops serving and waits for open requests.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

// ErrProtocol: the server's answer is not a retransmit response.
var ErrProtocol = errors.New("journal: bad retransmit response")

// dialTimeout bounds Fetch's dial when ctx allows longer: an unreachable host fails fast
// and the caller retries.
const dialTimeout = 5 * time.Second

// Fetch asks the server at endpoint for records from..to and calls f for each (the slice is
// valid during the call); an error from f ends the fetch and is returned. It returns what
// the journal held at answer time (first, last; 0, 0 when empty). The dial is bounded by
// 5 s, the whole exchange by ctx's deadline.
func Fetch(ctx context.Context, endpoint string, from, to uint64, f func(rec []byte) error) (first, last uint64, err error) {
	network, addr, err := split(endpoint)
	if err != nil {
		return 0, 0, err
	}
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return 0, 0, fmt.Errorf("journal: dialing %s: %w", endpoint, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var req [16]byte
	le.PutUint64(req[0:], from)
	le.PutUint64(req[8:], to)
	if _, err := c.Write(req[:]); err != nil {
		return 0, 0, err
	}
	r := bufio.NewReaderSize(c, 256<<10)
	var hdr [4]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		n := le.Uint32(hdr[:])
		if n == 0 {
			break
		}
		if n > 64<<20 {
			return 0, 0, fmt.Errorf("%w: %d-byte record", ErrProtocol, n)
		}
		buf = append(buf[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if err := f(buf); err != nil {
			return 0, 0, err
		}
	}
	var tail [16]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return le.Uint64(tail[0:]), le.Uint64(tail[8:]), nil
}
