package bus

import (
	"errors"
	"os"
	"slices"

	"github.com/tickline/tickline/shared/zmtp"
)

// CurveServer enables CURVE (RFC 26) on a Publisher: every subscriber must know the
// publisher's public key and hold a keypair whose public half is on Allowed.
type CurveServer struct {
	// Secret is the publisher's long-term secret key; its public key (what subscribers
	// configure) is zmtp.PublicFromSecret(Secret).
	Secret zmtp.Key
	// Allowed lists the subscriber public keys admitted (ZAP-like allow list). Empty
	// admits any subscriber that completes the handshake: traffic is still encrypted and
	// the publisher authenticated, but anyone who knows its public key may subscribe.
	Allowed []zmtp.Key
}

// CurveClient enables CURVE on a Subscriber: it proves its own key and accepts only a
// publisher that holds the secret of ServerKey.
type CurveClient struct {
	// Secret is the subscriber's long-term secret key (its public key must be on the
	// publisher's allow list).
	Secret zmtp.Key
	// ServerKey is the publisher's long-term public key. With several endpoints, every
	// publisher must use the same key unless ServerKeys gives one per endpoint.
	ServerKey zmtp.Key
	// ServerKeys, when set, gives the publisher key per endpoint (by Connect index); it
	// overrides ServerKey for the endpoints it covers.
	ServerKeys map[int]zmtp.Key
}

func (c *CurveServer) config() *zmtp.Config {
	if c == nil {
		return &zmtp.Config{SocketType: "PUB"}
	}
	allowed := slices.Clone(c.Allowed)
	cv := &zmtp.Curve{Server: true, Secret: c.Secret, Public: zmtp.PublicFromSecret(c.Secret)}
	if len(allowed) > 0 {
		cv.Allow = func(k zmtp.Key) bool { return slices.Contains(allowed, k) }
	}
	return &zmtp.Config{SocketType: "PUB", Curve: cv}
}

func (c *CurveClient) config(endpoint int) *zmtp.Config {
	if c == nil {
		return &zmtp.Config{SocketType: "SUB"}
	}
	server := c.ServerKey
	if k, ok := c.ServerKeys[endpoint]; ok {
		server = k
	}
	return &zmtp.Config{SocketType: "SUB", Curve: &zmtp.Curve{
		Secret: c.Secret, Public: zmtp.PublicFromSecret(c.Secret), ServerKey: server,
	}}
}

// Refusal is why a connection was refused or closed by the bus, the label of the
// refusal counters (PublisherStats.Refused, EndpointStats.Refused, metrics label
// "reason").
type Refusal uint8

// Refusal reasons.
const (
	// RefusedHandshakeLimit: a handshake closed because Options.MaxHandshakes were in
	// progress and a newer connection arrived (the oldest handshake is evicted).
	RefusedHandshakeLimit Refusal = iota
	// RefusedSubscriberLimit: Options.MaxSubscribers established subscribers already.
	RefusedSubscriberLimit
	// RefusedHandshakeTimeout: the handshake did not finish within HandshakeTimeout.
	RefusedHandshakeTimeout
	// RefusedHandshakeError: a broken greeting or handshake (not ZMTP 3, unexpected
	// command, incompatible socket type, early close).
	RefusedHandshakeError
	// RefusedMechanism: the peer uses another security mechanism (NULL vs CURVE).
	RefusedMechanism
	// RefusedUnauthorized: a CURVE subscriber whose key is not on the allow list, or a
	// publisher that refused us (it sent ERROR).
	RefusedUnauthorized
	// RefusedAuthFailed: a CURVE box that did not open (wrong keys, tampering, replay).
	RefusedAuthFailed
	// RefusedOversized: a frame, command or metadata value over its limit.
	RefusedOversized
	// RefusedTooManySubscriptions: more distinct prefixes than Options.MaxSubscriptions.
	RefusedTooManySubscriptions
	// RefusedPrefixTooLong: a subscription prefix longer than Options.MaxPrefixBytes.
	RefusedPrefixTooLong
	// RefusedMalformed: any other violation of ZMTP framing after the handshake.
	RefusedMalformed

	// NumRefusals is the number of reasons (the length of the Refused arrays).
	NumRefusals
)

var refusalNames = [NumRefusals]string{
	"handshake_limit", "subscriber_limit", "handshake_timeout", "handshake_error", "mechanism",
	"unauthorized", "auth_failed", "oversized", "too_many_subscriptions", "prefix_too_long", "malformed",
}

// String returns the reason's metrics label, e.g. "handshake_timeout".
func (r Refusal) String() string {
	if r < NumRefusals {
		return refusalNames[r]
	}
	return "unknown"
}

// classifyHandshake names why a handshake failed.
func classifyHandshake(err error) Refusal {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return RefusedHandshakeTimeout
	case errors.Is(err, zmtp.ErrTooLarge):
		return RefusedOversized
	case errors.Is(err, zmtp.ErrMechanism):
		return RefusedMechanism
	case errors.Is(err, zmtp.ErrDenied), errors.Is(err, zmtp.ErrPeerError):
		return RefusedUnauthorized
	case errors.Is(err, zmtp.ErrCrypto):
		return RefusedAuthFailed
	}
	return RefusedHandshakeError
}

// classifyTraffic names why an established connection broke the protocol; ok is false
// for errors that are not the peer's fault (EOF, network errors, our own close).
func classifyTraffic(err error) (r Refusal, ok bool) {
	switch {
	case errors.Is(err, errTooManySubscriptions):
		return RefusedTooManySubscriptions, true
	case errors.Is(err, errPrefixTooLong):
		return RefusedPrefixTooLong, true
	case errors.Is(err, errFrameTooLarge), errors.Is(err, zmtp.ErrTooLarge):
		return RefusedOversized, true
	case errors.Is(err, zmtp.ErrCrypto):
		return RefusedAuthFailed, true
	case errors.Is(err, errProtocol), errors.Is(err, zmtp.ErrProtocol):
		return RefusedMalformed, true
	}
	return 0, false
}
