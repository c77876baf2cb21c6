package zmtp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fixed CURVE keys for the captures and fuzz targets in testdata/. TEST KEYS ONLY:
// they are public in this repository and must never be deployed.
const (
	testServerPublic = "TbNmBl2nbrfigNNEErJMC4%(BMT#lyYmsTFsH1Pi"
	testServerSecret = "KinSyQ)@kmwCcqWT:J(:YtuEirim%@hhl-)MTplf"
	testClientPublic = "nCZX4/M6BrzQ[SSGT*z]Y*-Y4(v)qdu*]FdmS7W7"
	testClientSecret = "Tbz3}s?@sz]t6>9->/tum3>I2a9T&9g.=k$Y[w7F"
)

func testKey(t testing.TB, s string) Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// recorder keeps every byte read from a connection.
type recorder struct {
	net.Conn
	got bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.got.Write(p[:n])
	return n, err
}

const pyCaptureSub = `
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
if sys.argv[2]:
    s.curve_serverkey = sys.argv[2].encode()
    s.curve_publickey = sys.argv[3].encode()
    s.curve_secretkey = sys.argv[4].encode()
s.setsockopt(zmq.SUBSCRIBE, b"bbo.binance.")
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
time.sleep(1.5)
s.setsockopt(zmq.UNSUBSCRIBE, b"")
time.sleep(1.5)
s.close(linger=0)
`

const pyCapturePub = `
import sys, time, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUB)
if sys.argv[1]:
    s.curve_server = True
    s.curve_secretkey = sys.argv[1].encode()
port = s.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
for i in range(400):
    s.send_multipart([b"bbo.binance.BTC-USDT", (b"%d" % i) * (1 + 100 * (i % 3))])
    time.sleep(0.005)
s.close(linger=0)
`

// TestCaptureLibzmq regenerates testdata/libzmq-*.bin, the bytes libzmq 4.3 peers send
// (what a SUB sends to a publisher, what a PUB sends to a subscriber; NULL and CURVE),
// used as fuzz seeds. Run with TICKLINE_CAPTURE=1; skipped otherwise.
func TestCaptureLibzmq(t *testing.T) {
	if os.Getenv("TICKLINE_CAPTURE") == "" {
		t.Skip("set TICKLINE_CAPTURE=1 to regenerate testdata/libzmq-*.bin")
	}
	server := &Curve{Server: true, Public: testKey(t, testServerPublic), Secret: testKey(t, testServerSecret)}
	client := &Curve{Public: testKey(t, testClientPublic), Secret: testKey(t, testClientSecret), ServerKey: server.Public}
	for _, mech := range []string{"null", "curve"} {
		// A libzmq SUB dials us: record what it sends.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"-c", pyCaptureSub, "tcp://" + ln.Addr().String(), "", "", ""}
		cfg := &Config{SocketType: "PUB"}
		if mech == "curve" {
			args = []string{"-c", pyCaptureSub, "tcp://" + ln.Addr().String(), testServerPublic, testClientPublic, testClientSecret}
			cfg.Curve = server
		}
		cmd := exec.Command("/usr/bin/python3", args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{Conn: c}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := Handshake(rec, cfg); err != nil {
			t.Fatalf("%s handshake with libzmq SUB: %v", mech, err)
		}
		_, _ = io.Copy(io.Discard, rec) // until python closes
		_ = cmd.Wait()
		c.Close()
		ln.Close()
		write(t, "libzmq-"+mech+"-sub.bin", rec.got.Bytes())

		// A libzmq PUB: we dial it, subscribe, record what it sends.
		arg := ""
		if mech == "curve" {
			arg = testServerSecret
		}
		cmd = exec.Command("/usr/bin/python3", "-c", pyCapturePub, arg)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		port, _ := strconv.Atoi(strings.TrimSpace(line))
		c, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		rec = &recorder{Conn: c}
		cfg = &Config{SocketType: "SUB"}
		if mech == "curve" {
			cfg.Curve = client
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		s, err := Handshake(rec, cfg)
		if err != nil {
			t.Fatalf("%s handshake with libzmq PUB: %v", mech, err)
		}
		sealed, _ := s.SealFrames(nil, []byte{0, 1, 1}) // subscribe to everything
		_, _ = c.Write(sealed)
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.Copy(io.Discard, io.LimitReader(rec, 16<<10))
		c.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		write(t, "libzmq-"+mech+"-pub.bin", rec.got.Bytes())
	}
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", name, len(b))
}
