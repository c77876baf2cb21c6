package zmtp

import "errors"

// Errors returned by Handshake and the CURVE codec. Every error wraps exactly one of
// them, so that callers can count refusals by reason.
var (
	// ErrProtocol: the peer broke ZMTP (bad greeting, unexpected or malformed command).
	ErrProtocol = errors.New("zmtp: protocol violation")
	// ErrTooLarge: a frame, command or metadata property over the fixed limits.
	ErrTooLarge = errors.New("zmtp: frame over limit")
	// ErrMechanism: the peer greets with another security mechanism, or an unsupported
	// ZMTP version.
	ErrMechanism = errors.New("zmtp: security mechanism or version mismatch")
	// ErrSocketType: the peer's socket type cannot talk to ours (PUB needs SUB/XSUB, SUB
	// needs PUB/XPUB, ROUTER needs DEALER/REQ/ROUTER, DEALER needs ROUTER/REP/DEALER).
	ErrSocketType = errors.New("zmtp: incompatible socket type")
	// ErrDenied: a CURVE client whose public key is not on the server's allow list.
	ErrDenied = errors.New("zmtp: client key not authorized")
	// ErrCrypto: a CURVE box that does not open (wrong key, tampering, replayed or
	// reordered nonce).
	ErrCrypto = errors.New("zmtp: CURVE authentication failed")
	// ErrPeerError: the peer sent an ERROR command (its reason is in the message).
	ErrPeerError = errors.New("zmtp: peer refused the handshake")
)
