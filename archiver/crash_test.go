package archiver

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickline/tickline/shared/config"
)

// Environment of the archiver child process that TestArchiveSIGKILLRestart kills.
const (
	envChildConfig = "TICKLINE_TEST_ARCHIVER_CONFIG"    // topology file
	envChildEps    = "TICKLINE_TEST_ARCHIVER_ENDPOINTS" // gw=endpoint,...
	envChildDir    = "TICKLINE_TEST_ARCHIVER_STATE"     // ready and stats files
)

func TestMain(m *testing.M) {
	if os.Getenv("KAFKA_SEEDS") == "" {
		// The in-process broker applies produce requests synchronously: no settling needed.
		tailSettle = 100 * time.Millisecond
	}
	if cfg := os.Getenv(envChildConfig); cfg != "" {
		os.Exit(childMain(cfg))
	}
	os.Exit(m.Run())
}

// childMain runs an archiver as a process of its own, as `tickline archiver` would, and
// reports readiness and its counters (accepted, retransmit accepted, retransmit lost) in
// files the parent test polls.
func childMain(cfgPath string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	topo, err := config.Load(cfgPath)
	if err != nil {
		log.Error("child", "err", err)
		return 1
	}
	eps := map[string]string{}
	for _, kv := range strings.Split(os.Getenv(envChildEps), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			eps[k] = v
		}
	}
	state := os.Getenv(envChildDir)
	a, err := New(topo, Options{Endpoints: eps, OnReady: func() {
		os.WriteFile(filepath.Join(state, "ready"), nil, 0o644)
	}}, log)
	if err != nil {
		log.Error("child", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		for ctx.Err() == nil {
			tmp := filepath.Join(state, "stats.tmp")
			os.WriteFile(tmp, fmt.Appendf(nil, "%d %d %d", a.Stats.Accepted.Load(), a.Stats.RetransmitAccepted.Load(), a.Stats.RetransmitLost.Load()), 0o644)
			os.Rename(tmp, filepath.Join(state, "stats"))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := a.Run(ctx); err != nil {
		log.Error("child", "err", err)
		return 1
	}
	return 0
}

// child is one archiver process.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	state string
	done  chan error
}

func startChild(t *testing.T, cfg string, eps map[string]string) *child {
	t.Helper()
	state := t.TempDir()
	var kv []string
	for k, v := range eps {
		kv = append(kv, k+"="+v)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildConfig+"="+cfg, envChildEps+"="+strings.Join(kv, ","), envChildDir+"="+state)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, state: state, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
		c.done <- nil
	})
	testkit.Poll(t, 30*time.Second, "child archiver ready", func() bool {
		_, err := os.Stat(filepath.Join(state, "ready"))
		return err == nil
	})
	return c
}

// counters returns the child's last reported accepted, retransmit-accepted and
// retransmit-lost counts.
func (c *child) counters() (accepted, retransmitted, lost uint64) {
	b, _ := os.ReadFile(filepath.Join(c.state, "stats"))
	f := strings.Fields(string(b))
	n := func(i int) uint64 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	return n(0), n(1), n(2)
}

func (c *child) accepted() uint64 {
	n, _, _ := c.counters()
	return n
}

// wait returns the child's exit error once it has exited.
func (c *child) wait(d time.Duration) error {
	select {
	case err := <-c.done:
		c.done <- err
		return err
	case <-time.After(d):
		return fmt.Errorf("child still running after %v", d)
	}
}

// TestArchiveSIGKILLRestart kills an archiver process with SIGKILL while it holds records
// Kafka has not acknowledged (some may be written with the acknowledgement lost), restarts
// it, retransmits the events of the kill window, and checks that the topic holds every
// event exactly once, in order.
func TestArchiveSIGKILLRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts archiver processes")
	}
	kf, seeds, gate := newKafka(t)
	gws := koreaAB
	lines, eps := gatewayEndpoints(t, gws)
	cfg := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(cfg, []byte(topoYAML(gws, seeds, spoolDir(t), "ticks.")), 0o644); err != nil {
		t.Fatal(err)
	}
	both := func(evs []event) {
		for _, e := range evs {
			lines[0].publish(trade(e, false))
			lines[1].publish(trade(e, false))
		}
	}

	first := startChild(t, cfg, eps)
	lines[0].waitSubscribed(1)
	lines[1].waitSubscribed(1)
	a1 := events(0, 300)
	both(a1)
	testkit.Poll(t, 30*time.Second, "first batch in Kafka", func() bool { return endOffsets(t, seeds, "ticks.korea") == int64(len(a1)) })

	// Brokers unreachable: the next batch is accepted into the spool only.
	gate.SetDown(true)
	a2 := events(300, 1000)
	both(a2)
	testkit.Poll(t, 30*time.Second, "second batch accepted", func() bool { return first.accepted() == uint64(len(a1)+len(a2)) })
	// Brokers back, but the first produce request is held at the broker; the archiver is
	// killed while it waits for the answer, then the broker writes the records anyway: the
	// archiver's spool still holds them unacknowledged.
	sent, release := make(chan struct{}, 1), make(chan struct{})
	kf.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		select {
		case sent <- struct{}{}:
		default:
		}
		kf.SleepControl(func() { <-release })
		return nil, nil, false
	})
	gate.SetDown(false)
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("no produce request after the brokers came back")
	}
	time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(10 * time.Second)
	close(release)
	// kfake normally writes the held request once released; if it dropped it with the dead
	// connection the restart still has to produce the whole spool, which is checked too.
	inKafka := endOffsets(t, seeds, "ticks.korea")
	for deadline := time.Now().Add(3 * time.Second); inKafka == int64(len(a1)) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		inKafka = endOffsets(t, seeds, "ticks.korea")
	}
	t.Logf("killed with %d of %d records in Kafka (acknowledgements lost)", inKafka, len(a1)+len(a2))

	second := startChild(t, cfg, eps)
	for _, l := range lines { // the new archiver, alone (the killed one's connection is gone)
		testkit.Poll(t, 10*time.Second, "restarted archiver subscribed", func() bool {
			st := l.pub.Stats()
			return l.pub.Totals().Accepted >= 2 && len(st) == 1 && len(st[0].Subscriptions) == 1
		})
	}
	// A gateway retransmit of the kill window (already archived or spooled), then new events.
	for _, e := range a2 {
		lines[0].publish(trade(e, false))
	}
	a3 := events(1300, 100)
	both(a3)
	want := append(append(append([]event(nil), a1...), a2...), a3...)
	testkit.Poll(t, 60*time.Second, "everything in Kafka", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(30 * time.Second); err != nil {
		t.Fatalf("second archiver: %v", err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, true)
}

// TestArchiveSIGKILLRetransmit kills an archiver process with SIGKILL in the middle of a
// stream; the two gateways (with journals) keep publishing while it is dead; the restarted
// archiver recovers the spool, reads its last archived gateway sequences from the topic
// tail, and fetches what it missed from the gateways' journals: every event exactly once,
// in order, nothing lost.
func TestArchiveSIGKILLRetransmit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts archiver processes")
	}
	_, seeds, _ := newKafka(t)
	testSIGKILLRetransmit(t, seeds, "ticks.")
}

// TestIntegrationArchiveSIGKILLRetransmit: loss scenario (b) against the real broker — the
// archiver is SIGKILLed mid-stream and restarted; spool, topic tail and the gateways'
// journals leave every event in the topic exactly once.
func TestIntegrationArchiveSIGKILLRetransmit(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-kill") + "."
	kafkatest.CreateTopic(t, prefix+"korea", 2, kafkatest.ReplicationFactor(t), topicConfigs)
	testSIGKILLRetransmit(t, seeds, prefix)
}

func testSIGKILLRetransmit(t *testing.T, seeds []string, prefix string) {
	topic := prefix + "korea"
	gws := koreaAB
	lines, eps := gatewayEndpoints(t, gws)
	js := map[string]string{}
	for i, g := range gws {
		js[g.id] = lines[i].withJournal(1 << 16).jep
	}
	cfg := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(cfg, []byte(withJournals(topoYAML(gws, seeds, spoolDir(t), prefix), js)), 0o644); err != nil {
		t.Fatal(err)
	}

	first := startChild(t, cfg, eps)
	lines[0].waitSubscribed(1)
	lines[1].waitSubscribed(1)
	a1 := events(0, 300)
	publishAll(lines, a1)
	testkit.Poll(t, 30*time.Second, "first batch in Kafka", func() bool { return endOffsets(t, seeds, topic) == int64(len(a1)) })

	// Killed mid-stream: records sit in the bus queues, the handler, the spool and franz-go.
	a2 := events(300, 1000)
	publishAll(lines, a2)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(10 * time.Second)
	killedAt := first.accepted()
	// The gateways go on while the archiver is dead: only their journals keep this.
	a3 := events(1300, 500)
	publishAll(lines, a3)

	second := startChild(t, cfg, eps)
	resubscribed(t, lines[0], 2)
	resubscribed(t, lines[1], 2)
	a4 := events(1800, 100)
	publishAll(lines, a4)
	want := cat(a1, a2, a3, a4)
	testkit.Poll(t, 60*time.Second, "everything in Kafka", func() bool { return endOffsets(t, seeds, topic) >= int64(len(want)) })
	// The child reports its counters every 10 ms.
	testkit.Poll(t, 10*time.Second, "journal records counted", func() bool {
		_, r, _ := second.counters()
		return r >= uint64(len(a3))
	})
	_, retransmitted, lost := second.counters()
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.wait(30 * time.Second); err != nil {
		t.Fatalf("second archiver: %v", err)
	}
	t.Logf("killed after accepting about %d of %d records; the restart archived %d from the journals", killedAt, len(a1)+len(a2), retransmitted)
	checkExactlyOnce(t, consumeAll(t, seeds, topic), want, true)
	if lost != 0 {
		t.Errorf("retransmit lost %d records", lost)
	}
}
