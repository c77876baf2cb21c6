package metrics

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// serve runs a registry's server on 127.0.0.1:0 until the test ends.
func serve(t *testing.T, r *Registry) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ServeListener(ctx, ln, nil, quiet) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// keepAlive opens a connection, makes one request on it and leaves it open (idle).
func keepAlive(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c, br
}

// TestIdleKeepAlivesNotHeld: 2,000 idle keep-alive connections are not all held: past the
// cap the server closes the longest-idle ones (observed by the clients as EOF), a scrape
// still succeeds during the attack, and the evictions are exported. (Before: all 2,000 were
// held for as long as the clients liked.)
func TestIdleKeepAlivesNotHeld(t *testing.T) {
	r := NewRegistry()
	addr := serve(t, r)
	const n = 2000
	var closed atomic.Int64
	var wg sync.WaitGroup
	for range n {
		c, br := keepAlive(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(time.Minute))
			if _, err := br.ReadByte(); err == io.EOF || isReset(err) {
				closed.Add(1)
			}
		}()
	}
	waitBeyondCap(t, &closed, n, "idle keep-alives")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "tickline_metrics_evicted_total") {
		t.Fatal("evictions not exported")
	}
	if ev := r.Server.Evicted.Load(); ev < uint64(closed.Load()) {
		t.Fatalf("clients saw %d closed, server counted %d evictions", closed.Load(), ev)
	}
}

// TestSilentConnsNotHeld: connections that never send a request are evicted like idle
// keep-alives once the cap is reached (not held until the header timeout, here an hour).
func TestSilentConnsNotHeld(t *testing.T) {
	saved := limits
	limits.readHeader, limits.read = time.Hour, time.Hour
	t.Cleanup(func() { limits = saved })
	r := NewRegistry()
	addr := serve(t, r)
	const n = 500
	var closed atomic.Int64
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			if _, err := c.Read(make([]byte, 1)); err == io.EOF || isReset(err) {
				closed.Add(1)
			}
		}()
	}
	waitBeyondCap(t, &closed, n, "silent connections")
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d during the attack", resp.StatusCode)
	}
}

// TestTimeouts: a request header trickled in is cut after the header timeout, an idle
// keep-alive after the idle timeout (both shortened here).
func TestTimeouts(t *testing.T) {
	saved := limits
	limits.readHeader, limits.read, limits.idle = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { limits = saved })
	addr := serve(t, NewRegistry())

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /metrics HTTP/1.1\r\n") // and never the rest
	idle, br := keepAlive(t, addr)
	for _, tc := range []struct {
		name string
		c    net.Conn
		r    io.Reader
	}{{"slow header", slow, slow}, {"idle keep-alive", idle, br}} {
		tc.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, err := io.ReadAll(tc.r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: still open after 30 s", tc.name)
		}
	}
}

// TestListen: a taken port is an error; an empty host means loopback.
func TestListen(t *testing.T) {
	ln, err := Listen(":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); host != "127.0.0.1" {
		t.Fatalf("empty host listens on %s, want loopback", host)
	}
	if _, err := Listen(ln.Addr().String()); err == nil {
		t.Fatal("listening on a taken port succeeded")
	}
	r := NewRegistry()
	if err := r.Serve(context.Background(), ln.Addr().String(), nil, quiet); err == nil || !strings.Contains(err.Error(), "metrics: listening") {
		t.Fatalf("Serve on a taken port: %v", err)
	}
}

func isReset(err error) bool {
	_, ok := err.(*net.OpError)
	return ok
}

// waitBeyondCap polls until the server has closed every one of n client connections
// beyond MaxConns (closed counts those the clients saw closed), for 30 s at most.
func waitBeyondCap(t *testing.T, closed *atomic.Int64, n int64, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for closed.Load() < n-MaxConns {
		if time.Now().After(deadline) {
			t.Fatalf("server still holds %d of %d %s (cap %d)", n-closed.Load(), n, what, MaxConns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
