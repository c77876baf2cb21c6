package bus

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// ZMTP 3.x frame layout after the handshake (RFC 23 and 37), NULL security:
//
//	flags (1 byte) | size (1 byte, or 8 bytes big-endian when flagLong) | body
//
// A message is one or more frames, all but the last with flagMore. A command is a single
// frame with flagCommand whose body is: name length (1 byte) | name | command data.
const (
	flagMore     = 0x01
	flagLong     = 0x02
	flagCommand  = 0x04
	flagReserved = 0xf8 // must be zero
)

// maxFrameOverhead is the largest header a frame can have.
const maxFrameOverhead = 9

// ZMTP command names used by the bus.
const (
	cmdSubscribe = "SUBSCRIBE"
	cmdCancel    = "CANCEL"
	cmdPing      = "PING"
	cmdPong      = "PONG"
)

// appendFrame appends one frame with the given flags (flagMore / flagCommand; flagLong is
// set here when needed) and body to dst.
func appendFrame(dst []byte, flags byte, body []byte) []byte {
	if len(body) > 255 {
		var hdr [maxFrameOverhead]byte
		hdr[0] = flags | flagLong
		binary.BigEndian.PutUint64(hdr[1:], uint64(len(body)))
		dst = append(dst, hdr[:]...)
	} else {
		dst = append(dst, flags, byte(len(body)))
	}
	return append(dst, body...)
}

// appendMessage appends the two-frame bus message topic|payload to dst.
func appendMessage(dst, topic, payload []byte) []byte {
	dst = appendFrame(dst, flagMore, topic)
	return appendFrame(dst, 0, payload)
}

// appendCommand appends a ZMTP command frame. name must be shorter than 256 bytes.
func appendCommand(dst []byte, name string, data []byte) []byte {
	n := 1 + len(name) + len(data)
	if n > 255 {
		var hdr [maxFrameOverhead]byte
		hdr[0] = flagCommand | flagLong
		binary.BigEndian.PutUint64(hdr[1:], uint64(n))
		dst = append(dst, hdr[:]...)
	} else {
		dst = append(dst, flagCommand, byte(n))
	}
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}

// frameReader reads ZMTP frames from a bufio.Reader without allocating. It is not safe
// for concurrent use; one goroutine (the connection's reader) owns it.
type frameReader struct {
	r   *bufio.Reader
	max int // largest accepted frame body in bytes; larger frames are a protocol error
}

// header reads a frame header and returns its flags and body size.
func (fr *frameReader) header() (flags byte, size int, err error) {
	flags, err = fr.r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	if flags&flagReserved != 0 {
		return 0, 0, fmt.Errorf("%w: reserved flag bits set (%#02x)", errProtocol, flags)
	}
	var n uint64
	if flags&flagLong != 0 {
		b, err := fr.r.Peek(8)
		if err != nil {
			return 0, 0, unexpectedEOF(err)
		}
		n = binary.BigEndian.Uint64(b)
		_, _ = fr.r.Discard(8)
	} else {
		b, err := fr.r.ReadByte()
		if err != nil {
			return 0, 0, unexpectedEOF(err)
		}
		n = uint64(b)
	}
	if n > uint64(fr.max) {
		return 0, 0, fmt.Errorf("%w: frame of %d bytes exceeds limit %d", errFrameTooLarge, n, fr.max)
	}
	return flags, int(n), nil
}

// appendBody reads a body of size bytes (from header) and appends it to dst. When dst
// has room (the caller's job) it does not allocate.
func (fr *frameReader) appendBody(dst []byte, size int) ([]byte, error) {
	n := len(dst)
	if cap(dst)-n < size {
		dst = append(dst[:cap(dst)], make([]byte, size-(cap(dst)-n))...)
	}
	dst = dst[:n+size]
	if _, err := io.ReadFull(fr.r, dst[n:]); err != nil {
		return dst[:n], unexpectedEOF(err)
	}
	return dst, nil
}

// skip discards a body of size bytes.
func (fr *frameReader) skip(size int) error {
	_, err := fr.r.Discard(size)
	return unexpectedEOF(err)
}

// unexpectedEOF turns an EOF inside a frame into io.ErrUnexpectedEOF: only a clean EOF at
// a frame boundary is a normal close.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// splitCommand splits a command frame body into name and data.
func splitCommand(body []byte) (name, data []byte, err error) {
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return nil, nil, fmt.Errorf("%w: bad command body", errProtocol)
	}
	n := int(body[0])
	return body[1 : 1+n], body[1+n:], nil
}

// ctlOp is what a subscriber asked of the publisher.
type ctlOp uint8

const (
	opIgnore    ctlOp = iota // nothing to do (other commands, non-subscription messages)
	opSubscribe              // arg is the prefix
	opCancel                 // arg is the prefix
	opPing                   // arg is the ping context to echo in PONG
)

// maxPingContext is the largest PING context ZMTP 3.1 allows; longer ones are truncated.
const maxPingContext = 16

// ctlReader parses the inbound side of a publisher's connection: what a SUB or XSUB peer
// sends after the handshake. It understands ZMTP 3.0 message-style subscriptions
// (a single data frame "\x01prefix" / "\x00prefix") and ZMTP 3.1 commands SUBSCRIBE,
// CANCEL and PING. zmq4's Conn.RecvMsg cannot be used here because it drops command
// names, so SUBSCRIBE and CANCEL would look alike.
type ctlReader struct {
	fr  frameReader
	buf []byte // reused body buffer, cap >= fr.max after first use
}

// next returns the next request. arg aliases an internal buffer and is valid until the
// next call. Errors wrapping errProtocol mean the peer broke the protocol; io.EOF means a
// clean close at a frame boundary.
func (c *ctlReader) next() (op ctlOp, arg []byte, err error) {
	for {
		flags, size, err := c.fr.header()
		if err != nil {
			return opIgnore, nil, err
		}
		if flags&flagCommand != 0 {
			if flags&flagMore != 0 {
				return opIgnore, nil, fmt.Errorf("%w: command frame with MORE flag", errProtocol)
			}
			body, err := c.fr.appendBody(c.buf[:0], size)
			c.buf = body
			if err != nil {
				return opIgnore, nil, err
			}
			name, data, err := splitCommand(body)
			if err != nil {
				return opIgnore, nil, err
			}
			switch string(name) { // no allocation: compiler optimises string(bytes) in switch
			case cmdSubscribe:
				return opSubscribe, data, nil
			case cmdCancel:
				return opCancel, data, nil
			case cmdPing:
				if len(data) < 2 {
					return opIgnore, nil, fmt.Errorf("%w: PING without TTL", errProtocol)
				}
				ctx := data[2:]
				if len(ctx) > maxPingContext {
					ctx = ctx[:maxPingContext]
				}
				return opPing, ctx, nil
			default:
				continue // PONG, ERROR, unknown: nothing for a publisher to do
			}
		}
		if flags&flagMore != 0 {
			// A multi-frame data message is not a subscription (ZMTP 3.0 / libzmq
			// xpub): skip it whole.
			if err := c.skipMessage(size); err != nil {
				return opIgnore, nil, err
			}
			continue
		}
		body, err := c.fr.appendBody(c.buf[:0], size)
		c.buf = body
		if err != nil {
			return opIgnore, nil, err
		}
		if len(body) == 0 {
			continue
		}
		switch body[0] {
		case 1:
			return opSubscribe, body[1:], nil
		case 0:
			return opCancel, body[1:], nil
		}
		// Any other single-frame message from a subscriber is ignored, as libzmq does.
	}
}

// skipMessage discards the current frame (size bytes) and the remaining frames of its
// message.
func (c *ctlReader) skipMessage(size int) error {
	for {
		if err := c.fr.skip(size); err != nil {
			return err
		}
		flags, n, err := c.fr.header()
		if err != nil {
			return unexpectedEOF(err)
		}
		if flags&flagCommand != 0 {
			return fmt.Errorf("%w: command inside a multi-frame message", errProtocol)
		}
		if flags&flagMore == 0 {
			return c.fr.skip(n)
		}
		size = n
	}
}
