package zmtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Wire constants of ZMTP 3.x.
const (
	// GreetingSize is the fixed size of a ZMTP 3.x greeting.
	GreetingSize = 64

	// VersionMajor and VersionMinor are what tickline greets with: ZMTP 3.0, which
	// every 3.x peer speaks (libzmq 4.x answers 3.1 features such as PING either way).
	VersionMajor = 3
	VersionMinor = 0

	// MaxCommandBytes bounds every frame read during the handshake (READY, ERROR,
	// HELLO, WELCOME, INITIATE): the largest legitimate one, a CURVE INITIATE with
	// Socket-Type and Identity metadata, is under 400 bytes.
	MaxCommandBytes = 2048
	// MaxProperties bounds the metadata properties in READY or INITIATE.
	MaxProperties = 16
	// MaxPropertyValue bounds one metadata value, in bytes.
	MaxPropertyValue = 255
)

// Frame flag bits (RFC 23).
const (
	flagMore     = 0x01
	flagLong     = 0x02
	flagCommand  = 0x04
	flagReserved = 0xf8
)

// Mechanism names as they appear in the greeting.
const (
	MechanismNull  = "NULL"
	MechanismCurve = "CURVE"
)

// Config describes our end of a connection.
type Config struct {
	// SocketType is ours: "PUB" or "SUB" for the bus, SocketRouter or SocketDealer for
	// a stream (Conn) such as the journal's (sent in READY / INITIATE metadata and used to
	// check the peer's).
	SocketType string
	// Curve enables the CURVE mechanism; nil means NULL (no security).
	Curve *Curve
	// OnGreeting, when set, is called once the peer's greeting has been read and
	// accepted (a server can tell connections that greet from those that stay silent).
	OnGreeting func()
}

// Session is the outcome of a successful handshake.
type Session struct {
	// PeerMinor is the peer's ZMTP minor version (0 or 1 for 3.0 / 3.1).
	PeerMinor byte
	// PeerSocketType is the Socket-Type the peer announced.
	PeerSocketType string
	// PeerKey is the CURVE client's long-term public key (server side) or the server's
	// (client side); zero with NULL.
	PeerKey Key

	curve *curveState // nil with NULL
}

// Secure reports whether the session encrypts its traffic (CURVE).
func (s *Session) Secure() bool { return s != nil && s.curve != nil }

// Handshake performs the ZMTP greeting and the security handshake on rw, which must be a
// fresh connection; the caller sets a deadline on it first. Every read is bounded by the
// limits above before anything is allocated, and Handshake never reads past the last
// handshake byte, so the traffic that follows can be read by the caller's own buffered
// reader. On failure the peer may have been sent an ERROR command; the caller closes the
// connection.
func Handshake(rw io.ReadWriter, cfg *Config) (*Session, error) {
	mech := MechanismNull
	server := false
	if cfg.Curve != nil {
		mech = MechanismCurve
		server = cfg.Curve.Server
	}
	var g [GreetingSize]byte
	writeGreeting(g[:], mech, server)
	if _, err := rw.Write(g[:]); err != nil {
		return nil, fmt.Errorf("writing greeting: %w", err)
	}
	var peer [GreetingSize]byte
	// The signature first (10 bytes): a peer that does not speak ZMTP (a plain TCP client
	// of the same port) is refused at once, not after the deadline.
	if _, err := io.ReadFull(rw, peer[:10]); err != nil {
		return nil, fmt.Errorf("reading greeting: %w", err)
	}
	if peer[0] != 0xff || peer[9]&1 == 0 {
		return nil, fmt.Errorf("%w: not a ZMTP 3 greeting (signature % x)", ErrProtocol, peer[:10])
	}
	if _, err := io.ReadFull(rw, peer[10:]); err != nil {
		return nil, fmt.Errorf("reading greeting: %w", err)
	}
	minor, err := checkGreeting(peer[:], mech)
	if err != nil {
		return nil, err
	}
	if cfg.OnGreeting != nil {
		cfg.OnGreeting()
	}
	s := &Session{PeerMinor: minor}
	h := handshaker{rw: rw, cfg: cfg}
	if cfg.Curve != nil {
		err = h.curve(s)
	} else {
		err = h.null(s)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// writeGreeting fills a 64-byte greeting.
func writeGreeting(g []byte, mech string, server bool) {
	clear(g)
	g[0] = 0xff
	g[9] = 0x7f
	g[10] = VersionMajor
	g[11] = VersionMinor
	copy(g[12:32], mech)
	if server {
		g[32] = 1
	}
}

// checkGreeting validates a peer's greeting and returns its minor version.
func checkGreeting(g []byte, mech string) (byte, error) {
	if g[0] != 0xff || g[9]&1 == 0 {
		return 0, fmt.Errorf("%w: not a ZMTP 3 greeting (signature % x)", ErrProtocol, g[:10])
	}
	if g[10] < 3 {
		return 0, fmt.Errorf("%w: peer speaks ZMTP %d.x, need 3.x", ErrMechanism, g[10])
	}
	peerMech := string(bytes.TrimRight(g[12:32], "\x00"))
	if peerMech != mech {
		return 0, fmt.Errorf("%w: peer uses %q, we use %s", ErrMechanism, sanitize(peerMech), mech)
	}
	return g[11], nil
}

// sanitize keeps peer text printable and short for error messages.
func sanitize(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// handshaker reads and writes the handshake's command frames.
type handshaker struct {
	rw  io.ReadWriter
	cfg *Config
	buf [MaxCommandBytes]byte // body of the last command read
	out []byte                // scratch for commands written
}

// readCommand reads one command frame exactly (header, then a body of at most
// MaxCommandBytes) and splits it into name and data, which alias h.buf.
func (h *handshaker) readCommand() (name string, data []byte, err error) {
	var hdr [9]byte
	if _, err := io.ReadFull(h.rw, hdr[:2]); err != nil {
		return "", nil, fmt.Errorf("reading handshake frame: %w", err)
	}
	flags := hdr[0]
	if flags&flagReserved != 0 || flags&flagMore != 0 {
		return "", nil, fmt.Errorf("%w: handshake frame flags %#02x", ErrProtocol, flags)
	}
	size := uint64(hdr[1])
	if flags&flagLong != 0 {
		if _, err := io.ReadFull(h.rw, hdr[2:9]); err != nil {
			return "", nil, fmt.Errorf("reading handshake frame: %w", err)
		}
		size = binary.BigEndian.Uint64(hdr[1:9])
	}
	if size > MaxCommandBytes {
		return "", nil, fmt.Errorf("%w: handshake frame claims %d bytes, limit %d", ErrTooLarge, size, MaxCommandBytes)
	}
	body := h.buf[:size]
	if _, err := io.ReadFull(h.rw, body); err != nil {
		return "", nil, fmt.Errorf("reading handshake frame body: %w", err)
	}
	// CURVE MESSAGE frames may be sent without the command flag (libzmq does), but every
	// handshake command carries it.
	if flags&flagCommand == 0 {
		return "", nil, fmt.Errorf("%w: data frame during the handshake", ErrProtocol)
	}
	if len(body) == 0 || int(body[0]) > len(body)-1 {
		return "", nil, fmt.Errorf("%w: malformed command", ErrProtocol)
	}
	n := int(body[0])
	name = string(body[1 : 1+n])
	data = body[1+n:]
	if name == "ERROR" {
		return "", nil, peerError(data)
	}
	return name, data, nil
}

// peerError turns an ERROR command's data into an error.
func peerError(data []byte) error {
	reason := ""
	if len(data) > 0 && int(data[0]) <= len(data)-1 {
		reason = string(data[1 : 1+int(data[0])])
	}
	return fmt.Errorf("%w: %q", ErrPeerError, sanitize(reason))
}

// writeCommand frames name+data as a command and writes it.
func (h *handshaker) writeCommand(name string, data []byte) error {
	h.out = AppendCommand(h.out[:0], name, data)
	if _, err := h.rw.Write(h.out); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

// sendError tells the peer why it is refused (best effort) and returns err.
func (h *handshaker) sendError(reason string, err error) error {
	_ = h.writeCommand("ERROR", append([]byte{byte(len(reason))}, reason...))
	return err
}

// null runs the NULL mechanism: both sides send READY with their metadata.
func (h *handshaker) null(s *Session) error {
	if err := h.writeCommand("READY", h.metadata(nil)); err != nil {
		return err
	}
	name, data, err := h.readCommand()
	if err != nil {
		return err
	}
	if name != "READY" {
		return fmt.Errorf("%w: expected READY, got %q", ErrProtocol, sanitize(name))
	}
	return h.peerMetadata(s, data)
}

// metadata appends our READY/INITIATE properties to dst.
func (h *handshaker) metadata(dst []byte) []byte {
	return AppendProperty(dst, "Socket-Type", h.cfg.SocketType)
}

// peerMetadata parses the peer's properties and checks its socket type.
func (h *handshaker) peerMetadata(s *Session, data []byte) error {
	props, err := ParseMetadata(data)
	if err != nil {
		return err
	}
	for _, p := range props {
		if strings.EqualFold(p.Name, "Socket-Type") {
			s.PeerSocketType = p.Value
		}
	}
	if !compatible(h.cfg.SocketType, s.PeerSocketType) {
		return h.sendError("Invalid socket type", fmt.Errorf("%w: we are %s, peer is %q", ErrSocketType, h.cfg.SocketType, sanitize(s.PeerSocketType)))
	}
	return nil
}

// compatible reports whether our socket type can talk to the peer's.
func compatible(ours, peer string) bool {
	switch ours {
	case "PUB", "XPUB":
		return peer == "SUB" || peer == "XSUB"
	case "SUB", "XSUB":
		return peer == "PUB" || peer == "XPUB"
	case SocketRouter: // libzmq: ROUTER talks to DEALER, REQ, ROUTER
		return peer == SocketDealer || peer == "REQ" || peer == SocketRouter
	case SocketDealer: // libzmq: DEALER talks to ROUTER, REP, DEALER
		return peer == SocketRouter || peer == "REP" || peer == SocketDealer
	}
	return false
}

// Property is one metadata property of READY or INITIATE.
type Property struct {
	Name, Value string
}

// ParseMetadata parses ZMTP metadata (name-len, name, 4-byte value-len, value, ...)
// within the fixed limits: at most MaxProperties properties, values of at most
// MaxPropertyValue bytes.
func ParseMetadata(b []byte) ([]Property, error) {
	var out []Property
	for len(b) > 0 {
		if len(out) == MaxProperties {
			return nil, fmt.Errorf("%w: more than %d metadata properties", ErrTooLarge, MaxProperties)
		}
		n := int(b[0])
		if n == 0 || 1+n+4 > len(b) {
			return nil, fmt.Errorf("%w: malformed metadata", ErrProtocol)
		}
		name := b[1 : 1+n]
		vlen := binary.BigEndian.Uint32(b[1+n : 1+n+4])
		b = b[1+n+4:]
		if vlen > MaxPropertyValue {
			return nil, fmt.Errorf("%w: metadata value of %d bytes, limit %d", ErrTooLarge, vlen, MaxPropertyValue)
		}
		if int(vlen) > len(b) {
			return nil, fmt.Errorf("%w: malformed metadata", ErrProtocol)
		}
		out = append(out, Property{Name: string(name), Value: string(b[:vlen])})
		b = b[vlen:]
	}
	return out, nil
}

// AppendProperty appends one metadata property to dst.
func AppendProperty(dst []byte, name, value string) []byte {
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(value)))
	return append(dst, value...)
}

// AppendCommand appends a command frame (name shorter than 256 bytes) to dst.
func AppendCommand(dst []byte, name string, data []byte) []byte {
	n := 1 + len(name) + len(data)
	if n > 255 {
		dst = append(dst, flagCommand|flagLong)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	} else {
		dst = append(dst, flagCommand, byte(n))
	}
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}
