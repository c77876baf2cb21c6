package cfloor

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the Go peers (the runner re-executes it).
func TestMain(m *testing.M) {
	if IsPeer() {
		os.Exit(PeerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// build compiles the C peers or skips the test saying what is missing.
func build(t *testing.T) Binaries {
	t.Helper()
	b, err := Build(context.Background(), t.TempDir())
	switch {
	case errors.Is(err, ErrNoCompiler):
		t.Skip("gcc not installed: the C baselines cannot be built (CI installs it)")
	case errors.Is(err, ErrNoLibzmq):
		t.Skipf("libzmq headers missing (apt-get install libzmq3-dev; CI installs it): %v", err)
	case err != nil:
		t.Fatal(err)
	}
	return b
}

func exe(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkPairs runs every system in systems over tcp and ipc, paced and flood, and holds
// each run to the oracle: n messages sent and received, none bad or duplicated, and the
// receiver's checksum equal to ExpectedSum (computed here with hash/fnv).
func checkPairs(t *testing.T, systems []System, n int) {
	want := ExpectedSum(n)
	for _, sys := range systems {
		for _, tr := range []string{"tcp", "ipc"} {
			for _, rate := range []int{20000, 0} {
				r, err := RunPair(context.Background(), sys, tr, t.TempDir(), rate, n)
				if err != nil {
					t.Errorf("%s/%s rate %d: %v", sys.Name, tr, rate, err)
					continue
				}
				if r.Sent != n || r.Received != n || r.Bad != 0 || r.Dups != 0 || r.Sum != want || !r.Intact {
					t.Errorf("%s/%s rate %d: sent %d received %d bad %d dups %d sum %016x (want %016x) intact %v",
						sys.Name, tr, rate, r.Sent, r.Received, r.Bad, r.Dups, r.Sum, want, r.Intact)
				}
				if len(r.Latencies) != n || r.P50us <= 0 || r.P50us > r.P99us || r.P99us > r.Maxus {
					t.Errorf("%s/%s rate %d: %d latencies, p50 %.1f p99 %.1f max %.1f µs", sys.Name, tr, rate, len(r.Latencies), r.P50us, r.P99us, r.Maxus)
				}
				t.Logf("%s/%s rate %d: p50 %.0f p99 %.0f max %.0f µs, %.0f msgs/s", sys.Name, tr, rate, r.P50us, r.P99us, r.Maxus, r.MsgsPerS)
			}
		}
	}
}

// TestIntegrationCPeers builds the C floor and the libzmq pair with gcc and checks that
// each delivers n messages intact over tcp and ipc, paced and flood.
func TestIntegrationCPeers(t *testing.T) {
	b := build(t)
	var cs []System
	for _, s := range Systems(b, exe(t)) {
		if s.Lang == "C" {
			cs = append(cs, s)
		}
	}
	if len(cs) != 2 {
		t.Fatalf("want the 2 C systems, got %d", len(cs))
	}
	checkPairs(t, cs, 2000)
}

// TestGoPeers holds the Go peers (go-floor, zmq4, bus, bus-nopreempt, bus-lowlat) to the same
// contract and oracle.
func TestGoPeers(t *testing.T) {
	gs := Systems(Binaries{}, exe(t))
	if len(gs) != 5 {
		t.Fatalf("want the 5 Go systems, got %d", len(gs))
	}
	checkPairs(t, gs, 2000)
}

// TestIntegrationCReceiverCountsDamage feeds the C floor receiver a stream in which one
// message is corrupted and one duplicated, and checks it counts both and that its
// checksum no longer matches: the oracle can fail.
func TestIntegrationCReceiverCountsDamage(t *testing.T) {
	b := build(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 10
	out := filepath.Join(t.TempDir(), "lat")
	cmd := exec.Command(b.Floor, "recv", "tcp", "tcp://"+ln.Addr().String(), "10", out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := make([]byte, 4+PayloadBytes)
	binary.LittleEndian.PutUint32(frame, PayloadBytes)
	p := frame[4:]
	write := func(seq uint64, corrupt bool) {
		fill(p, seq)
		stamp(p)
		if corrupt {
			p[50] ^= 0xff
		}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	write(0, false)
	for seq := uint64(1); seq <= n; seq++ {
		write(seq, seq == 5)
		if seq == 7 {
			write(seq, false)
		}
	}
	c.Close() // EOF ends the receiver before its count (message 5 never arrived intact)
	sc := bufio.NewScanner(stdout)
	var done string
	deadline := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "DONE ") {
			done = sc.Text()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recv=9 ", "bad=1 ", "dup=1 "} {
		if !strings.Contains(done, want) {
			t.Errorf("receiver said %q, want %s", done, want)
		}
	}
	if strings.Contains(done, fmt.Sprintf("sum=%016x", ExpectedSum(n))) {
		t.Errorf("checksum matches a complete stream although message 5 was corrupted: %q", done)
	}
}

// TestIntegrationBrokenSourceIsAnError: with libzmq present, a zmqpair.c that does not
// compile fails Build with an error that is not ErrNoLibzmq, so it can never pass as a
// skipped test.
func TestIntegrationBrokenSourceIsAnError(t *testing.T) {
	build(t) // skips without gcc or libzmq
	saved := zmqpairC
	zmqpairC = []byte("#include <zmq.h>\nint main(void) { return undefined_symbol; }\n")
	defer func() { zmqpairC = saved }()
	_, err := Build(context.Background(), t.TempDir())
	if err == nil || errors.Is(err, ErrNoLibzmq) || errors.Is(err, ErrNoCompiler) {
		t.Fatalf("Build with a broken zmqpair.c: %v, want a compile error", err)
	}
}
