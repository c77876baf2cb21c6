package zmtp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
)

// Socket types of a byte stream carried over a ZMTP session (the journal's retransmit
// protocol): the client is a DEALER, the server a ROUTER, a pair libzmq accepts too.
const (
	SocketDealer = "DEALER"
	SocketRouter = "ROUTER"
)

// Conn carries a byte stream over a handshaken session: Write cuts its bytes into ZMTP
// data frames of at most maxFrame bytes and seals them (CURVE MESSAGE boxes; plain frames
// with NULL); Read opens frames and returns their bodies, in order, as one stream (frame
// boundaries are not preserved). Every length read from the peer is checked against
// maxFrame before anything is allocated: the buffers are sized once, at most maxFrame plus
// the framing, so neither side allocates after its first frame of the largest size.
//
// Conn embeds the net.Conn it was made from, so deadlines, addresses and Close are the
// connection's. Read has one owner and Write has one owner at a time (see the package's
// Concurrency); both may run at once.
type Conn struct {
	net.Conn
	s   *Session
	r   io.Reader // the session's receiving side: plain ZMTP frames
	max int

	// Reading: the header of the frame being read and how much of its body is left.
	hdr  [9]byte
	left uint64
	rerr error

	// Writing: one plain frame, then its sealed form.
	plain  []byte
	sealed []byte
}

// NewConn returns a stream over s, a session Handshake established on c. br must read c
// and must have been created after the handshake (Handshake reads nothing past its last
// byte, so br starts at the first frame). maxFrame bounds the body of one frame, both
// ways; the peer must use the same or a smaller one.
func NewConn(c net.Conn, s *Session, br *bufio.Reader, maxFrame int) *Conn {
	return &Conn{Conn: c, s: s, r: s.OpenReader(br, maxFrame), max: max(maxFrame, 1)}
}

// Read returns bytes of the stream. It fails with ErrTooLarge on a frame over maxFrame,
// ErrProtocol on a command frame (the stream carries data only), ErrCrypto on a box that
// does not open, io.EOF when the peer closed at a frame boundary, io.ErrUnexpectedEOF
// within one. An error is returned again by every later Read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for c.left == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.rerr = c.header(); c.rerr != nil {
			return 0, c.rerr
		}
	}
	n, err := c.r.Read(p[:min(uint64(len(p)), c.left)])
	c.left -= uint64(n)
	if err != nil {
		if err == io.EOF && c.left == 0 {
			c.rerr = io.EOF // the frame ended with the stream: a clean close
		} else {
			c.rerr = fmt.Errorf("reading frame body: %w", unexpected(err))
		}
		if n > 0 {
			return n, nil
		}
		return 0, c.rerr
	}
	return n, nil
}

// header reads the next frame's header and checks it.
func (c *Conn) header() error {
	if _, err := io.ReadFull(c.r, c.hdr[:2]); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("reading frame header: %w", unexpected(err))
	}
	flags := c.hdr[0]
	if flags&flagReserved != 0 {
		return fmt.Errorf("%w: frame flags %#02x", ErrProtocol, flags)
	}
	size := uint64(c.hdr[1])
	if flags&flagLong != 0 {
		if _, err := io.ReadFull(c.r, c.hdr[2:9]); err != nil {
			return fmt.Errorf("reading frame header: %w", unexpected(err))
		}
		size = binary.BigEndian.Uint64(c.hdr[1:9])
	}
	if size > uint64(c.max) {
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, size, c.max)
	}
	if flags&flagCommand != 0 {
		return fmt.Errorf("%w: command frame in a data stream", ErrProtocol)
	}
	c.left = size
	return nil
}

// Write sends p as frames of at most maxFrame bytes, sealed with the session's keys.
// It returns len(p) or the bytes of p whose frames were written before an error.
func (c *Conn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n := min(len(p)-done, c.max)
		if cap(c.plain) < 9+n {
			c.plain = make([]byte, 0, 9+c.max)
		}
		f := c.plain[:0]
		if n > 255 {
			f = append(f, flagLong)
			f = binary.BigEndian.AppendUint64(f, uint64(n))
		} else {
			f = append(f, 0, byte(n))
		}
		f = append(f, p[done:done+n]...)
		c.plain = f
		if cap(c.sealed) < 9+MessageOverhead+len(f) {
			c.sealed = make([]byte, 0, 9+MessageOverhead+9+c.max)
		}
		out, err := c.s.SealFrames(c.sealed[:0], f)
		if err != nil {
			return done, fmt.Errorf("sealing frame: %w", err)
		}
		c.sealed = out
		if _, err := c.Conn.Write(out); err != nil {
			return done, fmt.Errorf("writing frame: %w", err)
		}
		done += n
	}
	return done, nil
}
