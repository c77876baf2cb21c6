package bus

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// endpoint is a parsed ZeroMQ-style address: "tcp://host:port" or "ipc://path".
type endpoint struct {
	network string // "tcp" or "unix"
	address string // host:port for tcp, socket path for unix
}

// parseEndpoint parses a ZeroMQ endpoint. Accepted forms:
//
//	tcp://host:port    host may be a name, an IPv4 address, [IPv6] or "*" (all interfaces;
//	                   listening only); port 0 picks a free port when listening
//	ipc:///abs/path    a unix stream socket at /abs/path
//	ipc://rel/path     a unix stream socket relative to the working directory
//	ipc://@name        a Linux abstract unix socket
func parseEndpoint(s string) (endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || rest == "" {
		return endpoint{}, fmt.Errorf("%w: %q: want tcp://host:port or ipc://path", ErrBadEndpoint, s)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return endpoint{}, fmt.Errorf("%w: %q: %v", ErrBadEndpoint, s, err)
		}
		if port == "" {
			return endpoint{}, fmt.Errorf("%w: %q: missing port", ErrBadEndpoint, s)
		}
		if host == "*" {
			host = ""
		}
		return endpoint{network: "tcp", address: net.JoinHostPort(host, port)}, nil
	case "ipc":
		return endpoint{network: "unix", address: rest}, nil
	default:
		return endpoint{}, fmt.Errorf("%w: %q: unknown transport %q", ErrBadEndpoint, s, scheme)
	}
}

// String returns the endpoint in ZeroMQ form.
func (e endpoint) String() string {
	if e.network == "unix" {
		return "ipc://" + e.address
	}
	return "tcp://" + e.address
}

// listen opens a listener for e. For ipc endpoints a stale socket file left behind by a
// crashed process is removed first; a socket somebody still listens on is not touched and
// listen fails with ErrAddressInUse.
func listen(e endpoint) (net.Listener, error) {
	if e.network == "unix" && !strings.HasPrefix(e.address, "@") {
		if err := removeStaleSocket(e.address); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(e.network, e.address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", e, err)
	}
	return ln, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking ipc socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%w: ipc path %s exists and is not a socket", ErrAddressInUse, path)
	}
	c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: ipc socket %s has a live listener", ErrAddressInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing stale ipc socket %s: %w", path, err)
	}
	return nil
}

// endpointString renders a listener's real address as an endpoint (the real port when
// the configured port was 0).
func endpointString(e endpoint, a net.Addr) string {
	if e.network == "unix" {
		return e.String()
	}
	return "tcp://" + a.String()
}
