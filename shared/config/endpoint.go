package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// maxUnixPath is the longest socket path Linux accepts (sun_path is 108 bytes with the NUL).
const maxUnixPath = 107

// ParseEndpoint splits a bus endpoint into the arguments of net.Listen / net.Dial:
//
//	tcp://host:port   → "tcp",  "host:port"   (host may be a name, IPv4, [IPv6]; "*" or
//	                                            empty means every interface: ":port")
//	ipc:///abs/path   → "unix", "/abs/path"   (absolute, at most 107 bytes)
//
// Port 0 is accepted (tests listen on ephemeral ports); the topology itself requires a
// fixed port for endpoints that others dial. Errors wrap ErrFormat.
func ParseEndpoint(s string) (network, address string, err error) {
	network, address, err = parseEndpoint(s)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return network, address, nil
}

// parseEndpoint is ParseEndpoint with errors that do not name a category.
func parseEndpoint(s string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", "", fmt.Errorf("endpoint %q: want tcp://host:port or ipc:///path", s)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", "", fmt.Errorf("endpoint %q: %v", s, err)
		}
		if host != "*" && host != "" {
			if err := checkHost(host); err != nil {
				return "", "", fmt.Errorf("endpoint %q: %v", s, err)
			}
		}
		if _, err := parsePort(port); err != nil {
			return "", "", fmt.Errorf("endpoint %q: %v", s, err)
		}
		if host == "*" {
			host = ""
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "ipc":
		if !strings.HasPrefix(rest, "/") {
			return "", "", fmt.Errorf("endpoint %q: ipc path must be absolute (ipc:///path)", s)
		}
		if len(rest) > maxUnixPath {
			return "", "", fmt.Errorf("endpoint %q: ipc path longer than %d bytes", s, maxUnixPath)
		}
		if strings.ContainsRune(rest, 0) {
			return "", "", fmt.Errorf("endpoint %q: NUL in ipc path", s)
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("endpoint %q: scheme %q, want tcp or ipc", s, scheme)
}

// parsePort parses a decimal port 0..65535.
func parsePort(p string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 || p == "" || p[0] == '+' || p[0] == '-' {
		return 0, fmt.Errorf("bad port %q", p)
	}
	return n, nil
}

// unspecifiedHost reports whether host means "every interface" (and so cannot be dialed).
func unspecifiedHost(host string) bool {
	if host == "" || host == "*" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// checkHostPort validates a host:port (listen or broker) address with a port in 1..65535.
// The host may be empty (listen on every interface) when allowEmptyHost.
func checkHostPort(s string, allowEmptyHost bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", s)
	}
	if n, err := parsePort(port); err != nil || n == 0 {
		return fmt.Errorf("address %q: port must be 1..65535", s)
	}
	if host == "" && !allowEmptyHost {
		return fmt.Errorf("address %q: host is empty", s)
	}
	if host != "" {
		if err := checkHost(host); err != nil {
			return fmt.Errorf("address %q: %v", s, err)
		}
	}
	return nil
}

// checkHost validates a host: an IPv6 literal (anything with a colon), an IPv4 address
// (anything made of digits and dots: 999.1.1.1 and 1.2.3 are errors, not names), or a DNS
// name (labels of letters, digits and '-', at most 63 bytes each and 253 in all).
func checkHost(host string) error {
	if strings.Contains(host, ":") {
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil && !strings.Contains(host, ".") {
			return fmt.Errorf("bad IPv6 address %q", host)
		}
		return nil
	}
	if strings.Trim(host, "0123456789.") == "" {
		if ip := net.ParseIP(host); ip == nil || ip.To4() == nil {
			return fmt.Errorf("bad IPv4 address %q", host)
		}
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if len(name) == 0 || len(name) > 253 {
		return fmt.Errorf("bad host name %q", host)
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("bad host name %q", host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("bad host name %q", host)
			}
		}
	}
	return nil
}

// canonicalHost is the form two spellings of one listen address share, for the duplicate
// check: IP literals in Go's canonical form (::ffff:127.0.0.1 is 127.0.0.1), names in lower
// case without a trailing dot, and localhost and its subdomains as 127.0.0.1 (RFC 6761:
// they are loopback; a listener on "localhost" binds 127.0.0.1). Other names are not
// resolved (validation does not use the network), so two names for one address pass.
func canonicalHost(host string) string {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	host = strings.ToLower(host)
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "127.0.0.1"
	}
	return host
}

// canonicalAddr applies canonicalHost to a host:port.
func canonicalAddr(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return net.JoinHostPort(canonicalHost(host), port)
}

// checkURL validates an absolute URL with one of the given schemes and a host.
func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %v", s, err)
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return fmt.Errorf("%q: scheme must be %s", s, strings.Join(schemes, " or "))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q: no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := parsePort(p); err != nil || n == 0 {
			return fmt.Errorf("%q: port must be 1..65535", s)
		}
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q: no user info or fragment allowed", s)
	}
	return nil
}

// maxSpeed bounds a replay speed factor; beyond it, "max" says what is meant.
const maxSpeed = 1e6

// ParseSpeed parses a replay speed: "max" returns 0 (no pacing, as fast as possible);
// "<factor>x" (e.g. "1x", "10x", "0.5x") returns the factor, which must be finite and in
// (0, 1e6]. Errors wrap ErrFormat or ErrRange.
func ParseSpeed(s string) (float64, error) {
	f, detail, category := parseSpeed(s)
	if category != nil {
		return 0, fmt.Errorf("%w: %s", category, detail)
	}
	return f, nil
}

// parseSpeed is ParseSpeed returning the error category and detail separately
// (category is nil on success).
func parseSpeed(s string) (factor float64, detail string, category error) {
	if s == "max" {
		return 0, "", nil
	}
	num, ok := strings.CutSuffix(s, "x")
	if !ok || num == "" {
		return 0, fmt.Sprintf("speed %q: want \"max\" or \"<factor>x\" such as \"10x\"", s), ErrFormat
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Sprintf("speed %q: want \"max\" or \"<factor>x\" such as \"10x\"", s), ErrFormat
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > maxSpeed {
		return 0, fmt.Sprintf("speed %q: factor must be in (0, %g]", s, float64(maxSpeed)), ErrRange
	}
	return f, "", nil
}
