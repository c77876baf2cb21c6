// Package cfloor measures honest latency baselines: every system runs as the same pair of
// processes (a sender and a receiver), is paced the same way and is timed the same way,
// so the C raw-socket floor and libzmq sit beside Go's raw socket, bare zmq4 and
// tickline's bus in one table.
//
// Systems: c-floor (csrc/floor.c: one length-prefixed write(2) per message, TCP_NODELAY),
// libzmq (csrc/zmqpair.c: Debian's libzmq PUB→SUB, topic + payload frames), go-floor (the same
// floor in Go), zmq4 (bare go-zeromq PUB→SUB), bus (tickline's shared/bus) and
// bus-nopreempt (the bus with GODEBUG=asyncpreemptoff=1 in both processes). The C
// programs are embedded, written to a temporary directory and compiled with gcc at run
// time (Build); the Go peers are this package, run by re-executing the current binary
// with PeerEnv=1 (see IsPeer and PeerMain).
//
// The peer contract, identical for C and Go:
//
//	sender:   SYSTEM send tcp|ipc BIND RATE COUNT
//	receiver: SYSTEM recv tcp|ipc ENDPOINT COUNT OUT
//
// The sender binds (BIND is 127.0.0.1 with a chosen port, or a unix socket path), prints
// "EP <endpoint>", then sends warm-up probes (seq 0) every millisecond until a line
// arrives on its stdin. The receiver connects, prints "READY" on its first probe, and the
// runner then writes "go" to the sender, which sends COUNT messages with seq 1..COUNT —
// paced by spinning on absolute deadlines t0 + i/RATE (RATE 0: flood) — prints
// "SENT <n>" and waits for one more stdin line before it closes. A message is 100 bytes:
// the send time (CLOCK_REALTIME ns, taken just before the send call), seq, and a body
// that is a function of seq. The receiver takes CLOCK_REALTIME when it has the message,
// keeps now − sent per message, checks the body, counts bad and duplicate messages, sums
// FNV-1a of every message's seq and body, stops at COUNT messages or 2 s without one,
// writes the latencies (little-endian int64 ns, arrival order) to OUT and prints
// "DONE recv=N bad=B dup=D sum=HEX first_sent=NS last_recv=NS".
//
// The runner checks the sum against one it computes itself (hash/fnv over the payloads
// it expects), so a run that lost, duplicated or corrupted a message is marked, and
// computes the percentiles from the raw latencies.
package cfloor

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tickline/tickline/bench/proc"
)

// PayloadBytes is the size of one message (peer.h PAYLOAD).
const PayloadBytes = 100

// MaxCount bounds COUNT in every peer before its latency array is allocated (peer.h).
const MaxCount = 10_000_000

//go:embed csrc/peer.h
var peerH []byte

//go:embed csrc/floor.c
var floorC []byte

//go:embed csrc/zmqpair.c
var zmqpairC []byte

// ErrNoCompiler is returned by Build when gcc is not on PATH.
var ErrNoCompiler = errors.New("cfloor: gcc not found")

// ErrNoLibzmq is returned by Build when zmq.h or libzmq cannot be compiled against
// (Debian: apt-get install libzmq3-dev).
var ErrNoLibzmq = errors.New("cfloor: libzmq headers or library missing (libzmq3-dev)")

// Binaries are the compiled C peers.
type Binaries struct {
	Floor string // floor.c
	Zmq   string // zmqpair.c; "" when libzmq is missing
}

// Build writes the embedded C sources into dir and compiles them with gcc -O2. The
// floor needs only libc; a missing libzmq (a probe program that includes zmq.h and links
// -lzmq does not build) leaves Zmq empty and returns ErrNoLibzmq with the floor still
// built. Any other compile failure is an error: a broken source never passes as a skip.
func Build(ctx context.Context, dir string) (Binaries, error) {
	var b Binaries
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return b, ErrNoCompiler
	}
	for name, src := range map[string][]byte{"peer.h": peerH, "floor.c": floorC, "zmqpair.c": zmqpairC} {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			return b, fmt.Errorf("cfloor: writing %s: %w", name, err)
		}
	}
	compile := func(out, src string, libs ...string) error {
		args := append([]string{"-O2", "-Wall", "-o", filepath.Join(dir, out), filepath.Join(dir, src)}, libs...)
		cmd := exec.CommandContext(ctx, gcc, args...)
		msg, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("gcc %s: %w: %s", src, err, strings.TrimSpace(string(msg)))
		}
		return nil
	}
	if err := compile("floor", "floor.c"); err != nil {
		return b, fmt.Errorf("cfloor: %w", err)
	}
	b.Floor = filepath.Join(dir, "floor")
	// A probe tells a missing libzmq (skip the row) from a broken zmqpair.c (an error).
	probe := "#include <zmq.h>\nint main(void) { int a, b, c; zmq_version(&a, &b, &c); return 0; }\n"
	if err := os.WriteFile(filepath.Join(dir, "zmqprobe.c"), []byte(probe), 0o644); err != nil {
		return b, fmt.Errorf("cfloor: writing zmqprobe.c: %w", err)
	}
	if err := compile("zmqprobe", "zmqprobe.c", "-lzmq"); err != nil {
		return b, fmt.Errorf("%w: %w", ErrNoLibzmq, err)
	}
	if err := compile("zmqpair", "zmqpair.c", "-lzmq"); err != nil {
		return b, fmt.Errorf("cfloor: %w", err)
	}
	b.Zmq = filepath.Join(dir, "zmqpair")
	return b, nil
}

// System is one implementation under test and how to start its peers.
type System struct {
	Name string   // c-floor, libzmq, go-floor, zmq4, bus
	Lang string   // C or Go
	argv []string // command prefix; the role and its arguments follow
	env  []string // extra environment
}

// Systems returns the systems that can run: the C ones that were built and the Go ones,
// which run from exe (the current binary, re-executed with PeerEnv=1).
func Systems(b Binaries, exe string) []System {
	var out []System
	if b.Floor != "" {
		out = append(out, System{Name: "c-floor", Lang: "C", argv: []string{b.Floor}})
	}
	if b.Zmq != "" {
		out = append(out, System{Name: "libzmq", Lang: "C", argv: []string{b.Zmq}})
	}
	for _, n := range []string{"go-floor", "zmq4", "bus"} {
		out = append(out, System{Name: n, Lang: "Go", argv: []string{exe, n}, env: []string{PeerEnv + "=1"}})
	}
	// The bus again with the runtime's asynchronous preemption off in both processes: the
	// knob that cut Go's sender tail in the measurements behind issue #12.
	out = append(out, System{Name: "bus-nopreempt", Lang: "Go", argv: []string{exe, "bus"},
		env: []string{PeerEnv + "=1", "GODEBUG=asyncpreemptoff=1"}})
	// The bus in its low-latency mode (bus.low_latency with its defaults: spinning reader
	// and writer on locked threads, GC off below the memory limit), started as
	// configs/README.md says: asynchronous preemption off.
	out = append(out, System{Name: "bus-lowlat", Lang: "Go", argv: []string{exe, "bus-lowlat"},
		env: []string{PeerEnv + "=1", "GODEBUG=asyncpreemptoff=1"}})
	return out
}

// PairResult is one sender→receiver run.
type PairResult struct {
	Sent      int     `json:"sent"`
	Received  int     `json:"received"`
	Bad       int     `json:"bad"`
	Dups      int     `json:"dups"`
	Intact    bool    `json:"intact"` // every message arrived once, unchanged (checksum)
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	P999us    float64 `json:"p999_us"`
	Maxus     float64 `json:"max_us"`
	MsgsPerS  float64 `json:"msgs_per_s"` // received / (last receive − first send)
	Sum       uint64  `json:"-"`
	Latencies []int64 `json:"-"` // ns, arrival order
}

// ExpectedSum is the sum over seq 1..n of FNV-1a of each message's seq and body, the
// receiver's sum when every message arrived once and unchanged. It is computed with
// hash/fnv from the payload layout, independently of the peers' code.
func ExpectedSum(n int) uint64 {
	var sum uint64
	b := make([]byte, PayloadBytes-8)
	h := fnv.New64a()
	for seq := uint64(1); seq <= uint64(n); seq++ {
		binary.LittleEndian.PutUint64(b, seq)
		for i := 16; i < PayloadBytes; i++ {
			b[i-8] = byte(seq*131 + uint64(i)*7)
		}
		h.Reset()
		h.Write(b)
		sum += h.Sum64()
	}
	return sum
}

// RunPair runs sys's sender and receiver once: count messages over transport (tcp or
// ipc; ipc sockets go in dir) at rate messages/s (0: flood).
func RunPair(ctx context.Context, sys System, transport, dir string, rate, count int) (PairResult, error) {
	res := PairResult{}
	if count < 1 || count > MaxCount {
		return res, fmt.Errorf("cfloor: count %d out of [1, %d]", count, MaxCount)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(count/max(rate, 20000))*time.Second+2*time.Minute)
	defer cancel()
	bind := "127.0.0.1"
	if transport == "ipc" {
		bind = filepath.Join(dir, sys.Name+".sock")
		os.Remove(bind)
	}
	sender, err := startPeer(ctx, sys, "send", transport, bind, strconv.Itoa(rate), strconv.Itoa(count))
	if err != nil {
		return res, err
	}
	defer func() { sender.In.Close(); cancel(); _ = sender.Cmd.Wait() }()
	ep, err := sender.Expect("EP ", 10*time.Second)
	if err != nil {
		return res, sender.fail(err)
	}
	latFile := filepath.Join(dir, sys.Name+"-"+transport+".lat")
	receiver, err := startPeer(ctx, sys, "recv", transport, strings.TrimPrefix(ep, "EP "), strconv.Itoa(count), latFile)
	if err != nil {
		return res, err
	}
	defer func() { receiver.In.Close(); cancel(); _ = receiver.Cmd.Wait() }()
	if _, err := receiver.Expect("READY", 15*time.Second); err != nil {
		return res, receiver.fail(err)
	}
	if _, err := io.WriteString(sender.In, "go\n"); err != nil {
		return res, sender.fail(err)
	}
	sendFor := time.Duration(0)
	if rate > 0 {
		sendFor = time.Duration(count) * time.Second / time.Duration(rate)
	}
	sent, err := sender.Expect("SENT ", sendFor+time.Minute)
	if err != nil {
		return res, sender.fail(err)
	}
	res.Sent, _ = strconv.Atoi(strings.TrimPrefix(sent, "SENT "))
	done, err := receiver.Expect("DONE ", time.Minute)
	if err != nil {
		return res, receiver.fail(err)
	}
	io.WriteString(sender.In, "quit\n")
	firstSent, lastRecv := parseDone(done, &res)
	if err := receiver.Cmd.Wait(); err != nil {
		return res, receiver.fail(err)
	}
	if res.Latencies, err = readLatencies(latFile, count); err != nil {
		return res, err
	}
	os.Remove(latFile)
	if len(res.Latencies) != res.Received {
		return res, fmt.Errorf("%s: receiver reported %d messages but wrote %d latencies", sys.Name, res.Received, len(res.Latencies))
	}
	res.Intact = res.Received == count && res.Sent == count && res.Bad == 0 && res.Dups == 0 && res.Sum == ExpectedSum(count)
	if lastRecv > firstSent && res.Received > 0 {
		res.MsgsPerS = float64(res.Received) / (float64(lastRecv-firstSent) / 1e9)
	}
	summarize(&res)
	return res, nil
}

// peer is one running process of a pair.
type peer struct {
	*proc.Proc
	role   string // "sender" or "receiver", for errors
	system string
}

// startPeer starts sys with its role's arguments (args[0] is "send" or "recv").
func startPeer(ctx context.Context, sys System, args ...string) (*peer, error) {
	p := &peer{role: "sender", system: sys.Name}
	if args[0] == "recv" {
		p.role = "receiver"
	}
	cmd := exec.CommandContext(ctx, sys.argv[0], append(slices.Clone(sys.argv[1:]), args...)...)
	cmd.Env = append(os.Environ(), sys.env...)
	var err error
	if p.Proc, err = proc.Start(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", sys.Name, err)
	}
	return p, nil
}

// fail wraps err with the peer's role and what it wrote to stderr.
func (p *peer) fail(err error) error {
	return fmt.Errorf("%s %s: %w (stderr: %s)", p.system, p.role, err, p.Stderr())
}

// parseDone reads the receiver's DONE line into res and returns its first send and last
// receive times (ns).
func parseDone(done string, res *PairResult) (firstSent, lastRecv int64) {
	for _, kv := range strings.Fields(strings.TrimPrefix(done, "DONE ")) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "recv":
			res.Received, _ = strconv.Atoi(v)
		case "bad":
			res.Bad, _ = strconv.Atoi(v)
		case "dup":
			res.Dups, _ = strconv.Atoi(v)
		case "sum":
			res.Sum, _ = strconv.ParseUint(v, 16, 64)
		case "first_sent":
			firstSent, _ = strconv.ParseInt(v, 10, 64)
		case "last_recv":
			lastRecv, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return firstSent, lastRecv
}

// readLatencies reads a receiver's latency file, bounded by count before allocating.
func readLatencies(path string, count int) ([]int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cfloor: latencies: %w", err)
	}
	if st.Size() > int64(count)*8 || st.Size()%8 != 0 {
		return nil, fmt.Errorf("cfloor: latency file %s has %d bytes for at most %d messages", path, st.Size(), count)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cfloor: latencies: %w", err)
	}
	out := make([]int64, len(b)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// summarize fills the percentiles (nearest rank over the sorted latencies, µs).
func summarize(r *PairResult) {
	if len(r.Latencies) == 0 {
		return
	}
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.999999) - 1
		return float64(s[min(max(i, 0), len(s)-1)]) / 1e3
	}
	r.P50us, r.P99us, r.P999us, r.Maxus = q(0.50), q(0.99), q(0.999), float64(s[len(s)-1])/1e3
}
