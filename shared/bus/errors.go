package bus

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by operations on a closed Publisher or Subscriber.
	ErrClosed = errors.New("bus: closed")

	// ErrMessageTooLarge is returned by Publisher.Publish when topic plus payload exceed
	// Options.MaxMessageBytes. The message is not sent; PublisherStats.Oversize counts it.
	ErrMessageTooLarge = errors.New("bus: message too large")

	// ErrBadEndpoint reports an endpoint that is not tcp://host:port or ipc://path.
	ErrBadEndpoint = errors.New("bus: bad endpoint")

	// ErrAddressInUse reports an ipc path that is still served by a live listener or
	// is not a socket at all.
	ErrAddressInUse = errors.New("bus: address in use")

	// ErrRunning is returned by Subscriber.Connect and Subscriber.Run when the subscriber
	// is already running.
	ErrRunning = errors.New("bus: subscriber already running")

	// errProtocol wraps every violation of ZMTP framing by a peer. Connections that
	// violate it are closed and counted as malformed.
	errProtocol = errors.New("bus: ZMTP protocol violation")
)

var (
	errTooManySubscriptions = fmt.Errorf("%w: too many subscriptions", errProtocol)
	errPrefixTooLong        = fmt.Errorf("%w: subscription prefix too long", errProtocol)
	errFrameTooLarge        = fmt.Errorf("%w: frame over limit", errProtocol)
)
