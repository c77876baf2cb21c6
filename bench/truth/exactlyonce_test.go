package truth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/archiver"
	"github.com/tickline/tickline/bench/shaper"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/strategy/tap"
)

// Environment of TestIntegrationExactlyOnce (scripts/ci/exactly-once.sh sets them).
const (
	envBin    = "TICKLINE_BIN"   // the tickline binary to run (default: built into a temp dir)
	envReport = "TRUTH_REPORT"   // a file the per-venue table is written to (optional)
	envGen    = "TRUTH_GENERATE" // how long the simulator generates events (default 60s)
	envRate   = "TRUTH_RATE"     // sim events per second per book (default 20)
	envDir    = "TRUTH_DIR"      // keep the run's files (logs, events, tap output) here
)

// proc is one tickline process the test started; it is killed at cleanup if still running.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  string        // stdout+stderr file
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

func startProc(t *testing.T, bin, dir, name string, args ...string) *proc {
	t.Helper()
	out := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill() // only this process, by its pid
			<-p.done
		}
	})
	return p
}

// stop signals p and waits for it to exit (killing it after d).
func (p *proc) stop(t *testing.T, sig syscall.Signal, d time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		if p.err != nil && sig != syscall.SIGKILL {
			t.Logf("%s exited: %v (log %s)", p.name, p.err, p.out)
		}
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not exit within %v of %v: killed", p.name, d, sig)
	}
}

// freePorts returns one loopback address per name, each distinct and nobody's a moment
// ago: every listener stays open until all are chosen, since a port closed at once may be
// drawn again by the next bind of :0 (six separate draws repeated a port in ~1 run in 500).
func freePorts(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := make(map[string]string, len(names))
	for _, k := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out[k] = ln.Addr().String()
	}
	return out
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

// topology writes the test's topology from configs/demo.yaml: the same ten venues, both
// gateways in one region (so the archiver arbitrates them as two lines), own ports, gw-b
// published through the shaper (bind = its real port, publish = the shaper's).
func topology(t *testing.T, root, dir, simAddr string, seeds []string, topic string, ports map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "configs", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	var keep []string
	for _, l := range strings.Split(s, "\n") { // no metrics servers, no strategy signals: nothing on fixed ports
		tl := strings.TrimSpace(l)
		if strings.HasPrefix(tl, "metrics:") || strings.HasPrefix(tl, "signal_publish:") {
			continue
		}
		keep = append(keep, l)
	}
	s = strings.Join(keep, "\n")
	r := strings.NewReplacer(
		"127.0.0.1:18080", simAddr,
		"region: global", "region: korea",
		"publish: tcp://127.0.0.1:7101", "publish: tcp://"+ports["gw-a"],
		"publish: tcp://127.0.0.1:7102", "bind: tcp://"+ports["gw-b"]+"\n    publish: tcp://"+ports["shaper"],
		"retransmit: tcp://127.0.0.1:7201", "retransmit: tcp://"+ports["jr-a"],
		"retransmit: tcp://127.0.0.1:7202", "retransmit: tcp://"+ports["jr-b"],
		"seeds: [127.0.0.1:9092]", "seeds: ["+strings.Join(seeds, ", ")+"]",
		"korea: ticks.korea", "korea: "+topic,
		"global: ticks.global", "global: "+topic+"-unused",
		"replication_factor: 1 # one local broker", "replication_factor: 3",
		"spool_dir: /tmp/tickline-demo/spool", "spool_dir: "+filepath.Join(dir, "spool"),
		"publish: tcp://127.0.0.1:7401", "publish: tcp://"+ports["replay"],
		"id: gw-korea", "id: gw-a",
		"id: gw-global", "id: gw-b",
		"subscribe: [gw-korea, gw-global]", "subscribe: [gw-a, gw-b]",
	)
	s = r.Replace(s)
	for _, fixed := range []string{":18080", ":7101", ":7102", ":7201", ":7202", ":7401", ":9092", "gw-korea", "gw-global"} {
		if strings.Contains(s, fixed) { // configs/demo.yaml changed under the replacements above
			t.Fatalf("test topology still holds %q from configs/demo.yaml: update topology()", fixed)
		}
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// partition0 returns the leader and ISR of topic's partition 0 (-1, nil while metadata is
// unavailable: during a failover a broker may not know the topic for a moment).
func partition0(seeds []string, topic string) (int32, []int32) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return -1, nil
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx, topic)
	if err != nil {
		return -1, nil
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return -1, nil
	}
	p, ok := td.Partitions[0]
	if !ok || p.Err != nil {
		return -1, nil
	}
	return p.Leader, p.ISR
}

// waitLeader polls until partition 0's leader satisfies ok (60 s at most) and returns it.
func waitLeader(t *testing.T, seeds []string, topic string, ok func(int32) bool) int32 {
	t.Helper()
	var l int32 = -1
	testkit.Poll(t, 60*time.Second, "a leader of "+topic+"/0", func() bool {
		l, _ = partition0(seeds, topic)
		return ok(l)
	})
	return l
}

// waitInISR polls until broker id is back in partition 0's ISR (60 s at most).
func waitInISR(t *testing.T, seeds []string, topic string, id int32) {
	t.Helper()
	testkit.Poll(t, 60*time.Second, fmt.Sprintf("broker %d back in the ISR of %s/0", id, topic), func() bool {
		_, isr := partition0(seeds, topic)
		return slices.Contains(isr, id)
	})
}

// readArchive reads every record of topic back and renders it as the tap does (also
// into dump, one JSON line per record with its partition, offset and archive sequence).
func readArchive(t *testing.T, seeds []string, topic, dump string) []Line {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	offs := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range want {
		offs[topic][p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(offs), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	df, err := os.Create(dump)
	if err != nil {
		t.Fatal(err)
	}
	defer df.Close()
	dw := bufio.NewWriter(df)
	defer dw.Flush()
	var out []Line
	var rec wire.Record
	var buf []byte
	got := map[int32]int64{}
	for len(want) > 0 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s back: %v (got %v of %v)", topic, err, got, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if _, err := wire.DecodeRecord(r.Value, &rec); err != nil {
				t.Errorf("archive %s/%d@%d: %v", topic, r.Partition, r.Offset, err)
				return
			}
			buf = tap.AppendJSON(buf[:0], &rec, "", -1)
			aseq, _ := archiver.ArchiveSeq(r)
			fmt.Fprintf(dw, "%s\t%d\t%d\t%d\n", buf, r.Partition, r.Offset, aseq)
			var l Line
			if err := json.Unmarshal(buf, &l); err != nil {
				t.Fatalf("archive record as JSON %s: %v", buf, err)
			}
			out = append(out, l)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			got[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// TestIntegrationExactlyOnce runs the whole pipeline as real processes against the real
// 3-broker Kafka (KAFKA_SEEDS, KAFKA_FAULT=1; scripts/ci/exactly-once.sh) under faults, then
// holds the merged stream (`tickline tap`) and the archive to the simulator's event log:
//
//   - the simulator with all ten venues (configs/demo.yaml's symbols), --events;
//   - two gateways in one region; gw-b's line goes through a shaper that delays it by 2 s,
//     and is cut twice (the shaper is torn down and rebuilt: what it held is lost on that
//     line, and its subscribers reconnect);
//   - gw-a is restarted mid-run (SIGTERM, start again);
//   - the archiver is SIGKILLed and restarted (retransmit from the journals);
//   - the leader of partition 0 of the archive topic is SIGKILLed and restarted.
//
// It prints the per-venue table and fails if any venue lost or duplicated an event, in the
// tap's stream or in the archive.
func TestIntegrationExactlyOnce(t *testing.T) {
	cluster := kafkatest.NewCluster(t, 3)
	seeds := cluster.Seeds
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv(envDir); d != "" {
		dir = d
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := os.Getenv(envBin)
	if bin == "" {
		bin = filepath.Join(dir, "tickline")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/tickline")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	gen := envDuration(t, envGen, 60*time.Second)
	rate := os.Getenv(envRate)
	if rate == "" {
		rate = "20"
	}
	start := time.Now()
	step := func(format string, a ...any) {
		t.Logf("[%5.1fs] %s", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	at := func(d time.Duration) { // wait until d after the simulator started
		if w := time.Until(start.Add(d)); w > 0 {
			time.Sleep(w) // the fault schedule, not synchronisation
		}
	}

	// 1. simulator
	events := filepath.Join(dir, "events.jsonl")
	sim := startProc(t, bin, dir, "sim", "sim", "--listen", "127.0.0.1:0", "--rate", rate, "--seed", "7",
		"--events", events, "--generate-for", gen.String())
	var simAddr string
	re := regexp.MustCompile(`serving \d+ exchanges on (127\.0\.0\.1:\d+)`)
	testkit.Poll(t, 10*time.Second, "the simulator's address", func() bool {
		b, _ := os.ReadFile(sim.out)
		if m := re.FindSubmatch(b); m != nil {
			simAddr = string(m[1])
		}
		return simAddr != ""
	})
	step("sim on %s, generating for %v at %s events/s per book", simAddr, gen, rate)

	// 2. topology, shaper on gw-b's line
	ports := freePorts(t, "gw-a", "gw-b", "shaper", "jr-a", "jr-b", "replay")
	topic := kafkatest.TopicName("exactly-once")
	topo := topology(t, root, dir, simAddr, seeds, topic, ports)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	type shaped struct {
		*shaper.Shaper
		cancel context.CancelFunc
		done   chan error
	}
	startShaper := func() shaped {
		sh, err := shaper.New("tcp://"+ports["gw-b"], "tcp://"+ports["shaper"], shaper.Options{Delay: 2 * time.Second}, log)
		if err != nil {
			t.Fatalf("shaper: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		s := shaped{sh, cancel, make(chan error, 1)}
		go func() { s.done <- sh.Run(ctx) }()
		return s
	}
	sh := startShaper()
	defer func() { sh.cancel(); <-sh.done }()

	// 3. tap and archiver first, then the gateways (held until their receivers subscribed)
	tapOut := filepath.Join(dir, "tap.jsonl")
	tapProc := startProc(t, bin, dir, "tap", "tap", "--config", topo, "--out", tapOut)
	arch := startProc(t, bin, dir, "archiver", "archiver", "--config", topo)
	// Every receiver subscribes before any gateway opens its sessions, so both lines carry
	// each stream from its start: gw-a waits for the tap and the archiver, gw-b (whose one
	// subscriber is the shaper) starts once both subscribed to the shaper.
	gwA := startProc(t, bin, dir, "gw-a", "gateway", "--config", topo, "--id", "gw-a", "--wait-subscribers", "2")
	testkit.Poll(t, 30*time.Second, "the tap and the archiver on the shaped line", func() bool { return sh.Subscribers() >= 2 })
	gwB := startProc(t, bin, dir, "gw-b", "gateway", "--config", topo, "--id", "gw-b", "--wait-subscribers", "1")
	step("tap, archiver, gw-a, gw-b (line shaped: +2 s) started; topic %s", topic)

	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	testkit.Poll(t, 30*time.Second, "records in the tap's output", func() bool { return size(tapOut) > 0 })
	step("tap receiving")

	frac := func(f float64) time.Duration { return time.Duration(float64(gen) * f) }
	at(frac(0.2))
	sh.cancel()
	<-sh.done
	sh = startShaper()
	step("cut 1 of gw-b's line (shaper rebuilt)")

	at(frac(0.35))
	gwA.stop(t, syscall.SIGTERM, 15*time.Second)
	gwA = startProc(t, bin, dir, "gw-a", "gateway", "--config", topo, "--id", "gw-a")
	step("gw-a restarted")

	at(frac(0.5))
	arch.stop(t, syscall.SIGKILL, 10*time.Second)
	step("archiver SIGKILLed")
	arch = startProc(t, bin, dir, "archiver", "archiver", "--config", topo)
	step("archiver restarted")

	at(frac(0.6))
	sh.cancel()
	<-sh.done
	sh = startShaper()
	step("cut 2 of gw-b's line (shaper rebuilt)")

	at(frac(0.7))
	leader := waitLeader(t, seeds, topic, func(l int32) bool { return l >= 0 })
	cluster.KillBroker(int(leader))
	step("Kafka broker %d (leader of %s/0) SIGKILLed", leader, topic)
	newLeader := waitLeader(t, seeds, topic, func(l int32) bool { return l >= 0 && l != leader })
	step("new leader %d", newLeader)
	cluster.RestartBroker(int(leader))
	step("broker %d restarted", leader)

	// 4. drain: generation stops at gen; wait until the tap's output is still for 5 s
	at(gen + 3*time.Second)
	last, still := size(tapOut), time.Now()
	testkit.Poll(t, 60*time.Second, "the tap's output to settle", func() bool {
		if n := size(tapOut); n != last {
			last, still = n, time.Now()
		}
		return time.Since(still) > 5*time.Second
	})
	step("drained: tap output %d bytes", last)
	waitInISR(t, seeds, topic, leader)
	tapProc.stop(t, syscall.SIGTERM, 15*time.Second)
	arch.stop(t, syscall.SIGTERM, 60*time.Second)
	gwA.stop(t, syscall.SIGTERM, 15*time.Second)
	gwB.stop(t, syscall.SIGTERM, 15*time.Second)
	sim.stop(t, syscall.SIGTERM, 15*time.Second)
	step("all processes stopped")

	// 5. compare
	ev, err := ReadEventsFile(events)
	if err != nil {
		t.Fatal(err)
	}
	tapped, err := ReadRecordsFile(tapOut, "tap")
	if err != nil {
		t.Fatal(err)
	}
	archived := readArchive(t, seeds, topic, filepath.Join(dir, "archive.tsv"))
	step("%d model events, %d shared event lines, %d per-connection; tap %d records, archive %d",
		ev.Model, len(ev.Shared), len(ev.PerConn), len(tapped), len(archived))
	rep := Compare(ev, tapped, archived, true)
	var b bytes.Buffer
	if err := rep.Write(&b, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("per-venue ground truth (tap | archive):\n%s", b.String())
	if p := os.Getenv(envReport); p != "" {
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
	if len(ev.Shared) == 0 || len(tapped) == 0 || len(archived) == 0 {
		t.Fatal("nothing emitted, tapped or archived")
	}
	for _, v := range wire.Venues() {
		if tc, _ := rep.Venue(v.Name); tc.Emitted == 0 {
			t.Errorf("%s: no events emitted", v.Name)
		}
	}
	if !rep.OK() {
		t.Errorf("events lost or duplicated (table above); logs in %s", dir)
	}
}
