package sim

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// start runs a server for the test and stops it at cleanup.
func start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client is a test WebSocket client whose frames arrive on a channel, so that tests can
// wait with a deadline without breaking the connection.
type client struct {
	t     testing.TB
	ws    *websocket.Conn
	msgs  chan msg
	done  chan struct{}
	pings atomic.Int64 // server WebSocket pings received (answered with pongs)
}

type msg struct {
	typ  int
	data []byte
	err  error
}

// dial connects to ws://<addr>/<ex><path>.
func dial(t testing.TB, s *Server, ex, path string) *client {
	t.Helper()
	c, err := dialURL(t, "ws://"+s.Addr()+"/"+ex+path)
	if err != nil {
		t.Fatalf("dial %s%s: %v", ex, path, err)
	}
	return c
}

func dialURL(t testing.TB, url string) (*client, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(64 << 20)
	c := &client{t: t, ws: ws, msgs: make(chan msg, 1<<16), done: make(chan struct{})}
	ws.SetPingHandler(func(data string) error {
		c.pings.Add(1)
		_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	go func() {
		defer close(c.msgs)
		for {
			typ, data, err := ws.ReadMessage()
			select {
			case c.msgs <- msg{typ, data, err}:
			case <-c.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(c.close)
	return c, nil
}

func (c *client) close() {
	select {
	case <-c.done:
	default:
		close(c.done)
		c.ws.Close()
		for range c.msgs { //nolint:revive // drain until the reader exits
		}
	}
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// next returns the next message, failing the test after d.
func (c *client) next(d time.Duration) msg {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatal("connection reader ended")
		}
		return m
	case <-time.After(d):
		c.t.Fatalf("no message within %v", d)
	}
	return msg{}
}

// until reads messages until fn returns true, failing after d.
func (c *client) until(d time.Duration, fn func(m msg) bool) {
	c.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatal("connection reader ended")
			}
			if fn(m) {
				return
			}
		case <-deadline:
			c.t.Fatalf("condition not met within %v", d)
		}
	}
}

// expectText reads until a text message containing sub arrives.
func (c *client) expect(d time.Duration, sub string) []byte {
	c.t.Helper()
	var got []byte
	c.until(d, func(m msg) bool {
		if m.err != nil {
			c.t.Fatalf("waiting for %q: %v", sub, m.err)
		}
		if bytes.Contains(m.data, []byte(sub)) {
			got = m.data
			return true
		}
		return false
	})
	return got
}

// httpGet returns the status and body of GET url.
func httpGet(t testing.TB, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b, resp.Header
}
