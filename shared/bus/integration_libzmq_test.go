package bus

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, which has python3-zmq (libzmq) installed; the
// python3 first on PATH may be a pyenv build without it.
const systemPython = "/usr/bin/python3"

// requireLibzmq skips when pyzmq is not importable, except under CI where it fails.
func requireLibzmq(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import zmq; print(zmq.zmq_version())").CombinedOutput()
	if err == nil {
		t.Logf("libzmq %s", strings.TrimSpace(string(out)))
		return
	}
	msg := "libzmq interop needs " + systemPython + " with pyzmq (Debian python3-zmq): " + strings.TrimSpace(string(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// pyProc runs an inline Python script and streams its stdout lines. The process is
// killed when the test ends.
type pyProc struct {
	lines chan string
	cmd   *exec.Cmd
}

func startPython(t *testing.T, script string, args ...string) *pyProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, systemPython, append([]string{"-u", "-c", script}, args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.Stderr = &testWriter{t: t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pyProc{lines: make(chan string, 1024), cmd: cmd}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	})
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		wg.Wait()
	})
	return p
}

// next returns the next stdout line, failing the test after d.
func (p *pyProc) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatal("python exited early (see stderr above)")
		}
		return l
	case <-time.After(d):
		t.Fatalf("no output from python within %v", d)
	}
	return ""
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("python: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

const pySub = `
import json, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.setsockopt(zmq.SUBSCRIBE, sys.argv[2].encode())
s.setsockopt(zmq.RCVTIMEO, 20000)
s.connect(sys.argv[1])
for _ in range(int(sys.argv[3])):
    topic, payload = s.recv_multipart()
    print(json.dumps({"topic": topic.decode(), "payload": payload.decode()}))
s.close(linger=0)
ctx.term()
`

// TestIntegrationLibzmqSubscriber: a libzmq SUB with a prefix subscription receives
// exactly the matching messages from our Publisher, in order.
func TestIntegrationLibzmqSubscriber(t *testing.T) {
	requireLibzmq(t)
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc"} {
		t.Run(ep[:3], func(t *testing.T) {
			if ep == "ipc" {
				ep = ipcEndpoint(t, "pub.sock")
			}
			p := newTestPublisher(t, ep, Options{})
			const n = 100
			py := startPython(t, pySub, p.Endpoint(), "bbo.binance.", strconv.Itoa(n))
			waitSubscribed(t, p, 1, "bbo.binance.")
			big := strings.Repeat("z", 400) // a long frame too
			for i := range n {
				p.Publish([]byte("bbo.okx.BTC-USDT"), []byte("okx"+strconv.Itoa(i)))
				p.Publish([]byte("bbo.binance.BTC-USDT"), []byte(strconv.Itoa(i)+big))
				p.Publish([]byte("trade.binance.BTC-USDT"), []byte("trade"))
			}
			for i := range n {
				var m struct{ Topic, Payload string }
				line := py.next(t, waitLong)
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("bad line %q: %v", line, err)
				}
				if m.Topic != "bbo.binance.BTC-USDT" || m.Payload != strconv.Itoa(i)+big {
					t.Fatalf("message %d: got %q %.20q", i, m.Topic, m.Payload)
				}
			}
		})
	}
}

const pyPub = `
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUB)
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
deadline = time.time() + 15
i = 0
# A libzmq PUB drops until the subscription arrives, so keep publishing (bounded).
while time.time() < deadline:
    s.send_multipart([b"trade.okx.BTC-USDT", b"t%d" % i])
    s.send_multipart([b"bbo.okx.BTC-USDT", b"%d" % i])
    i += 1
    time.sleep(0.001)
s.close(linger=0)
ctx.term()
`

// TestIntegrationLibzmqPublisher: our Subscriber receives from a libzmq PUB, with the
// prefix filter applied by libzmq.
func TestIntegrationLibzmqPublisher(t *testing.T) {
	requireLibzmq(t)
	py := startPython(t, pyPub)
	port := strings.TrimSpace(py.next(t, waitLong))
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatalf("python did not report a port: %q", port)
	}
	go func() { // drain further output, none expected
		for range py.lines {
		}
	}()

	var (
		mu   sync.Mutex
		got  []rec
		done = make(chan struct{})
	)
	const want = 50
	s := NewSubscriber(SubOptions{ReconnectMin: 5 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}, nil)
	if err := s.Connect("tcp://127.0.0.1:" + port); err != nil {
		t.Fatal(err)
	}
	s.Subscribe("bbo.")
	runSubscriber(t, s, func(batch []Message) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			if len(got) < want {
				got = append(got, rec{m.Endpoint, string(m.Topic), string(m.Payload)})
				if len(got) == want {
					close(done)
				}
			}
		}
	})
	select {
	case <-done:
	case <-time.After(waitLong):
		t.Fatalf("received %d of %d messages from libzmq (stats %+v)", len(got), want, s.Stats())
	}
	mu.Lock()
	defer mu.Unlock()
	prev := -1
	for _, r := range got {
		if r.topic != "bbo.okx.BTC-USDT" {
			t.Fatalf("unsubscribed topic delivered: %q", r.topic)
		}
		n, err := strconv.Atoi(r.payload)
		if err != nil || n <= prev {
			t.Fatalf("payload %q after %d: not increasing", r.payload, prev)
		}
		prev = n
	}
}
