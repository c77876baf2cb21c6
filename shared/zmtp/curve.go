package zmtp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/nacl/secretbox"
)

// Curve configures the CURVE mechanism (RFC 26) for one end of a connection.
type Curve struct {
	// Server is true for the side that holds the well-known key and authorizes clients
	// (the bus publisher); false for clients (bus subscribers).
	Server bool
	// Public and Secret are this end's long-term keypair.
	Public, Secret Key
	// ServerKey is the server's long-term public key (clients only).
	ServerKey Key
	// Allow decides whether a client's long-term public key may connect (servers only);
	// it is called once per handshake, after the client proved it holds the matching
	// secret key. nil admits every client that completes the handshake.
	Allow func(client Key) bool
}

// MessageOverhead is what CURVE adds to each frame's body: "\x07MESSAGE", the 8-byte
// nonce, the 16-byte authenticator and the flags byte.
const MessageOverhead = 8 + 8 + box.Overhead + 1

// Sizes of the handshake commands' data (after the command name).
const (
	helloDataSize    = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	welcomeDataSize  = 16 + 144             // nonce, box[S' + cookie]
	cookieSize       = 16 + 80              // nonce, box[C' + s']
	initiateMinSize  = cookieSize + 8 + box.Overhead + 32 + 16 + 80
	readyMinDataSize = 8 + box.Overhead
)

// Nonce prefixes (RFC 26).
var (
	prefixHello    = []byte("CurveZMQHELLO---")
	prefixWelcome  = []byte("WELCOME-")
	prefixCookie   = []byte("COOKIE--")
	prefixVouch    = []byte("VOUCH---")
	prefixInitiate = []byte("CurveZMQINITIATE")
	prefixReady    = []byte("CurveZMQREADY---")
	prefixMsgC     = "CurveZMQMESSAGEC" // client → server
	prefixMsgS     = "CurveZMQMESSAGES" // server → client
)

// curveState is a session's traffic keys and nonces after the handshake.
type curveState struct {
	shared    [32]byte // precomputed box key of the two transient keys
	sendNonce [24]byte // prefix + next short nonce to use (bytes 16..24, big-endian)
	recvPre   [16]byte // the peer's message nonce prefix
	recvLast  uint64   // last short nonce accepted from the peer
}

func (st *curveState) init(server bool, next, peerLast uint64) {
	send, recv := prefixMsgC, prefixMsgS
	if server {
		send, recv = prefixMsgS, prefixMsgC
	}
	copy(st.sendNonce[:16], send)
	binary.BigEndian.PutUint64(st.sendNonce[16:], next)
	copy(st.recvPre[:], recv)
	st.recvLast = peerLast
}

func nonce(prefix []byte, tail []byte) *[24]byte {
	var n [24]byte
	copy(n[:], prefix)
	copy(n[len(prefix):], tail)
	return &n
}

func shortNonce(prefix []byte, v uint64) *[24]byte {
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], v)
	return nonce(prefix, t[:])
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}

// curve runs the CURVE handshake in our role.
func (h *handshaker) curve(s *Session) error {
	if h.cfg.Curve.Server {
		return h.curveServer(s)
	}
	return h.curveClient(s)
}

func (h *handshaker) curveClient(s *Session) error {
	c := h.cfg.Curve
	cpub, csec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generating transient key: %w", err)
	}
	server := (*[32]byte)(&c.ServerKey)
	next := uint64(1)

	// HELLO: version 1.0, anti-amplification padding, C', Box[64 zeros](C'→S).
	hello := make([]byte, 0, helloDataSize)
	hello = append(hello, 1, 0)
	hello = append(hello, make([]byte, 72)...)
	hello = append(hello, cpub[:]...)
	hello = binary.BigEndian.AppendUint64(hello, next)
	hello = box.Seal(hello, make([]byte, 64), shortNonce(prefixHello, next), server, csec)
	next++
	if err := h.writeCommand("HELLO", hello); err != nil {
		return err
	}

	// WELCOME: Box[S' + cookie](S→C').
	data, err := h.expectCommand("WELCOME", welcomeDataSize, welcomeDataSize)
	if err != nil {
		return err
	}
	welcome, ok := box.Open(nil, data[16:], nonce(prefixWelcome, data[:16]), server, csec)
	if !ok {
		return fmt.Errorf("%w: WELCOME does not open with the configured server key", ErrCrypto)
	}
	var sprime [32]byte
	copy(sprime[:], welcome[:32])
	cookie := welcome[32:]
	st := &curveState{}
	box.Precompute(&st.shared, &sprime, csec)

	// INITIATE: cookie, Box[C + vouch + metadata](C'→S'), vouch = Box[C' + S](C→S').
	vn, err := randomBytes(16)
	if err != nil {
		return err
	}
	vouchPlain := append(append(make([]byte, 0, 64), cpub[:]...), c.ServerKey[:]...)
	vouch := box.Seal(nil, vouchPlain, nonce(prefixVouch, vn), &sprime, (*[32]byte)(&c.Secret))
	plain := append([]byte{}, c.Public[:]...)
	plain = append(plain, vn...)
	plain = append(plain, vouch...)
	plain = h.metadata(plain)
	initiate := append([]byte{}, cookie...)
	initiate = binary.BigEndian.AppendUint64(initiate, next)
	initiate = box.SealAfterPrecomputation(initiate, plain, shortNonce(prefixInitiate, next), &st.shared)
	next++
	if err := h.writeCommand("INITIATE", initiate); err != nil {
		return err
	}

	// READY: Box[metadata](S'→C').
	data, err = h.expectCommand("READY", readyMinDataSize, math.MaxInt)
	if err != nil {
		return err
	}
	meta, ok := box.OpenAfterPrecomputation(nil, data[8:], nonce(prefixReady, data[:8]), &st.shared)
	if !ok {
		return fmt.Errorf("%w: READY does not open", ErrCrypto)
	}
	if err := h.peerMetadata(s, meta); err != nil {
		return err
	}
	st.init(false, next, binary.BigEndian.Uint64(data[:8]))
	s.PeerKey = c.ServerKey
	s.curve = st
	return nil
}

func (h *handshaker) curveServer(s *Session) error {
	c := h.cfg.Curve
	secret := (*[32]byte)(&c.Secret)

	// HELLO
	data, err := h.expectCommand("HELLO", helloDataSize, helloDataSize)
	if err != nil {
		return err
	}
	if data[0] != 1 || data[1] != 0 {
		return fmt.Errorf("%w: CURVE version %d.%d", ErrMechanism, data[0], data[1])
	}
	var cprime [32]byte
	copy(cprime[:], data[74:106])
	helloNonce := binary.BigEndian.Uint64(data[106:114])
	if _, ok := box.Open(nil, data[114:], nonce(prefixHello, data[106:114]), &cprime, secret); !ok {
		return fmt.Errorf("%w: HELLO does not open (client has another server key)", ErrCrypto)
	}

	ck, err := h.welcome(&cprime, secret)
	if err != nil {
		return err
	}
	st, initNonce, err := h.acceptInitiate(s, &cprime, ck, helloNonce)
	if err != nil {
		return err
	}

	// READY
	const readyNonce = 1
	ready := binary.BigEndian.AppendUint64(nil, readyNonce)
	ready = box.SealAfterPrecomputation(ready, h.metadata(nil), shortNonce(prefixReady, readyNonce), &st.shared)
	if err := h.writeCommand("READY", ready); err != nil {
		return err
	}
	st.init(true, readyNonce+1, initNonce)
	s.curve = st
	return nil
}

// expectCommand reads the next handshake command and checks that it is want with a body
// of lo to hi bytes (readCommand has already bounded it by MaxCommandBytes). The body
// aliases the handshake buffer: it is valid until the next read.
func (h *handshaker) expectCommand(want string, lo, hi int) ([]byte, error) {
	name, data, err := h.readCommand()
	if err != nil {
		return nil, err
	}
	if name != want || len(data) < lo || len(data) > hi {
		return nil, fmt.Errorf("%w: expected %s, got %q (%d bytes)", ErrProtocol, want, sanitize(name), len(data))
	}
	return data, nil
}

// serverCookie is what the server keeps between WELCOME and INITIATE: its transient secret
// key and the cookie's plaintext and key (a key only this connection holds, so only the
// peer that got this WELCOME can present the cookie back).
type serverCookie struct {
	ssec  *[32]byte
	key   [32]byte
	plain []byte // C' + s'
}

// welcome sends WELCOME: a new transient key pair and a cookie, boxed to the client's C'.
func (h *handshaker) welcome(cprime, secret *[32]byte) (*serverCookie, error) {
	spub, ssec, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating transient key: %w", err)
	}
	ck := &serverCookie{ssec: ssec}
	if _, err := rand.Read(ck.key[:]); err != nil {
		return nil, fmt.Errorf("generating cookie key: %w", err)
	}
	cn, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	ck.plain = append(append(make([]byte, 0, 64), cprime[:]...), ssec[:]...)
	cookie := append([]byte{}, cn...)
	cookie = secretbox.Seal(cookie, ck.plain, nonce(prefixCookie, cn), &ck.key)
	welcomePlain := append(append([]byte{}, spub[:]...), cookie...)
	wn, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	welcome := append([]byte{}, wn...)
	welcome = box.Seal(welcome, welcomePlain, nonce(prefixWelcome, wn), cprime, secret)
	if err := h.writeCommand("WELCOME", welcome); err != nil {
		return nil, err
	}
	return ck, nil
}

// acceptInitiate reads INITIATE and checks, in order, our cookie, the nonce, the box, the
// client's vouch for C' and our key, the allow list and the metadata. It returns the
// session's crypto state and INITIATE's nonce; s.PeerKey is the client's key once the
// vouch holds.
func (h *handshaker) acceptInitiate(s *Session, cprime *[32]byte, ck *serverCookie, helloNonce uint64) (*curveState, uint64, error) {
	c := h.cfg.Curve
	data, err := h.expectCommand("INITIATE", initiateMinSize, math.MaxInt)
	if err != nil {
		return nil, 0, err
	}
	back, ok := secretbox.Open(nil, data[16:cookieSize], nonce(prefixCookie, data[:16]), &ck.key)
	if !ok || !bytes.Equal(back, ck.plain) {
		return nil, 0, fmt.Errorf("%w: INITIATE cookie is not ours", ErrCrypto)
	}
	st := &curveState{}
	box.Precompute(&st.shared, cprime, ck.ssec)
	initNonce := binary.BigEndian.Uint64(data[cookieSize : cookieSize+8])
	if initNonce <= helloNonce {
		return nil, 0, fmt.Errorf("%w: INITIATE nonce did not increase", ErrCrypto)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, data[cookieSize+8:], nonce(prefixInitiate, data[cookieSize:cookieSize+8]), &st.shared)
	if !ok {
		return nil, 0, fmt.Errorf("%w: INITIATE does not open", ErrCrypto)
	}
	var client Key
	copy(client[:], plain[:32])
	vouch, ok := box.Open(nil, plain[48:128], nonce(prefixVouch, plain[32:48]), (*[32]byte)(&client), ck.ssec)
	if !ok || subtle.ConstantTimeCompare(vouch[:32], cprime[:]) != 1 || subtle.ConstantTimeCompare(vouch[32:], c.Public[:]) != 1 {
		return nil, 0, fmt.Errorf("%w: INITIATE vouch does not match", ErrCrypto)
	}
	s.PeerKey = client
	if c.Allow != nil && !c.Allow(client) {
		return nil, 0, h.sendError("Access denied", fmt.Errorf("%w: client key %s", ErrDenied, client))
	}
	if err := h.peerMetadata(s, plain[128:]); err != nil {
		return nil, 0, err
	}
	return st, initNonce, nil
}

// SealFrames appends to dst one CURVE MESSAGE frame per ZMTP frame in plain (frames as
// the bus writes them: flags, size, body; commands included) and advances the nonce.
// plain is borrowed: one byte before each body is overwritten while it is sealed and
// restored after. It does not allocate when dst has room. With a NULL session it
// appends plain unchanged. Calls must be serialised, in the order the output is written.
func (s *Session) SealFrames(dst, plain []byte) ([]byte, error) {
	st := s.curve
	if st == nil {
		return append(dst, plain...), nil
	}
	for len(plain) > 0 {
		flags := plain[0]
		hdr := 2
		var size uint64
		if len(plain) < 2 {
			return dst, fmt.Errorf("%w: truncated frame to seal", ErrProtocol)
		}
		if flags&flagLong != 0 {
			hdr = 9
			if len(plain) < hdr {
				return dst, fmt.Errorf("%w: truncated frame to seal", ErrProtocol)
			}
			size = binary.BigEndian.Uint64(plain[1:9])
		} else {
			size = uint64(plain[1])
		}
		if uint64(len(plain)-hdr) < size {
			return dst, fmt.Errorf("%w: truncated frame to seal", ErrProtocol)
		}
		end := hdr + int(size)
		var inner byte
		if flags&flagMore != 0 {
			inner |= 0x01
		}
		if flags&flagCommand != 0 {
			inner |= 0x02
		}
		n := 8 + 8 + box.Overhead + 1 + int(size)
		if n > 255 {
			dst = append(dst, flagLong)
			dst = binary.BigEndian.AppendUint64(dst, uint64(n))
		} else {
			dst = append(dst, 0, byte(n))
		}
		dst = append(dst, "\x07MESSAGE"...)
		dst = append(dst, st.sendNonce[16:]...)
		saved := plain[hdr-1]
		plain[hdr-1] = inner
		dst = box.SealAfterPrecomputation(dst, plain[hdr-1:end], &st.sendNonce, &st.shared)
		plain[hdr-1] = saved
		binary.BigEndian.PutUint64(st.sendNonce[16:], binary.BigEndian.Uint64(st.sendNonce[16:])+1)
		plain = plain[end:]
	}
	return dst, nil
}

// OpenReader returns the session's receiving side over r: for CURVE, a reader that
// reads MESSAGE frames, checks their nonces and boxes, and yields the plain ZMTP frames
// they carry (what a NULL connection would have carried); for NULL, r itself. A MESSAGE
// whose plaintext body exceeds maxBody is ErrTooLarge before it is read; a box that does
// not open or a nonce that does not grow is ErrCrypto. The reader is owned by one
// goroutine; it does not allocate after its buffers reached maxBody.
func (s *Session) OpenReader(r *bufio.Reader, maxBody int) io.Reader {
	if s.curve == nil {
		return r
	}
	return &curveReader{r: r, st: s.curve, max: maxBody}
}

type curveReader struct {
	r   *bufio.Reader
	st  *curveState
	max int
	in  []byte // one MESSAGE frame body
	out []byte // opened frame: header + body starting at off
	off int
	err error
}

func (c *curveReader) Read(p []byte) (int, error) {
	for c.off >= len(c.out) {
		if c.err != nil {
			return 0, c.err
		}
		if c.err = c.fill(); c.err != nil && c.off >= len(c.out) {
			return 0, c.err
		}
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	// Open more frames while whole ones are already buffered, so the caller's buffered
	// reader sees a batch, not one frame per Read (the bus hands a batch over when its
	// reader runs dry).
	for n < len(p) && c.off == len(c.out) && c.whole() {
		if c.err = c.fill(); c.err != nil {
			break
		}
		m := copy(p[n:], c.out[c.off:])
		c.off += m
		n += m
	}
	return n, nil
}

// whole reports whether a complete MESSAGE frame is buffered, so that fill will not
// block.
func (c *curveReader) whole() bool {
	b := c.r.Buffered()
	if b < 2 {
		return false
	}
	h, _ := c.r.Peek(min(b, 9))
	if h[0]&flagLong == 0 {
		return b >= 2+int(h[1])
	}
	if len(h) < 9 {
		return false
	}
	size := binary.BigEndian.Uint64(h[1:9])
	return size <= uint64(b-9)
}

// fill reads and opens one MESSAGE frame.
func (c *curveReader) fill() error {
	flags, err := c.r.ReadByte()
	if err != nil {
		return err // io.EOF at a frame boundary is a clean close
	}
	if flags&(flagReserved|flagMore) != 0 {
		return fmt.Errorf("%w: MESSAGE frame flags %#02x", ErrProtocol, flags)
	}
	var size uint64
	if flags&flagLong != 0 {
		b, err := c.r.Peek(8)
		if err != nil {
			return unexpected(err)
		}
		size = binary.BigEndian.Uint64(b)
		_, _ = c.r.Discard(8)
	} else {
		b, err := c.r.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		size = uint64(b)
	}
	if size > uint64(c.max+MessageOverhead) {
		return fmt.Errorf("%w: MESSAGE of %d bytes, limit %d", ErrTooLarge, size, c.max+MessageOverhead)
	}
	if size < MessageOverhead {
		return fmt.Errorf("%w: MESSAGE of %d bytes", ErrProtocol, size)
	}
	if cap(c.in) < int(size) {
		c.in = make([]byte, size, max(int(size), min(c.max+MessageOverhead, 4096)))
	}
	in := c.in[:size]
	if _, err := io.ReadFull(c.r, in); err != nil {
		return unexpected(err)
	}
	if string(in[:8]) != "\x07MESSAGE" {
		return fmt.Errorf("%w: expected MESSAGE", ErrProtocol)
	}
	n := binary.BigEndian.Uint64(in[8:16])
	if n <= c.st.recvLast {
		return fmt.Errorf("%w: MESSAGE nonce %d after %d", ErrCrypto, n, c.st.recvLast)
	}
	var nn [24]byte
	copy(nn[:16], c.st.recvPre[:])
	copy(nn[16:], in[8:16])
	// Open into out[8:]: the inner flags land at out[8], the body at out[9:], and the
	// plain frame header is written just before the body.
	need := 8 + int(size) - 16 - box.Overhead
	if cap(c.out) < need {
		c.out = make([]byte, 0, max(need, min(c.max+9, 4096)))
	}
	opened, ok := box.OpenAfterPrecomputation(c.out[:8], in[16:], &nn, &c.st.shared)
	if !ok {
		return fmt.Errorf("%w: MESSAGE does not open", ErrCrypto)
	}
	c.st.recvLast = n
	inner := opened[8]
	body := len(opened) - 9
	var f byte
	if inner&0x01 != 0 {
		f |= flagMore
	}
	if inner&0x02 != 0 {
		f |= flagCommand
	}
	if body > 255 {
		opened[0] = f | flagLong
		binary.BigEndian.PutUint64(opened[1:9], uint64(body))
		c.off = 0
	} else {
		opened[7] = f
		opened[8] = byte(body)
		c.off = 7
	}
	c.out = opened
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
