package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/archiver/replay"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/strategy"
)

// bg runs a subcommand in the background. stop cancels it and returns its exit status;
// done is closed when it has exited (its status is then code()).
func bg(t *testing.T, ctx context.Context, stdout io.Writer, args ...string) (stop func() int, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan struct{})
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	errOut := &testkit.SyncBuffer{}
	var code int
	go func() {
		defer close(ch)
		code = run(ctx, args, &env{stdin: strings.NewReader(""), stdout: stdout, stderr: errOut,
			log: slog.New(slog.NewTextHandler(logOut, nil)).With("cmd", args[0])})
		if code != 0 && ctx.Err() == nil {
			t.Logf("%s exited %d: %s", args[0], code, errOut.String())
		}
	}()
	return func() int { cancel(); <-ch; return code }, ch
}

// steady polls count until it has not changed for quiet (bounded by d): the end of a
// stream whose length nobody knows in advance.
func steady(t *testing.T, d, quiet time.Duration, what string, count func() int64) int64 {
	t.Helper()
	last, since := count(), time.Now()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return n
		}
	}
	t.Fatalf("%s still moving after %v", what, d)
	return 0
}

const pipelineTopo = `version: 1
regions: [{name: korea}]
bus: {queue_depth: 65536, max_message_bytes: 4194304}
gateways:
  - id: gw-korea
    num: 1
    region: korea
    publish: ipc://{{DIR}}/gw.sock
    exchanges:
      binance:
        ws_url: ws://{{SIM}}/binance/stream
        rest_url: http://{{SIM}}/binance
        symbols: {BTCUSDT: [bbo, trade, book], ETHUSDT: [bbo, trade]}
      okx:
        ws_url: ws://{{SIM}}/okx/ws/v5/public
        rest_url: http://{{SIM}}/okx
        symbols: {BTC-USDT: [bbo, trade, book], ETH-USDT: [bbo, trade]}
      bybit:
        ws_url: ws://{{SIM}}/bybit/v5/public/spot
        rest_url: http://{{SIM}}/bybit
        symbols: {BTCUSDT: [bbo, trade, book], ETHUSDT: [bbo, trade]}
strategy:
  threshold_bps: 1
  max_notional: 10000
  staleness: 2s
  fees_bps: {binance: 1, okx: 1, bybit: 1}
  signal_publish: ipc://{{DIR}}/{{NAME}}-signals.sock
  output: {{DIR}}/{{NAME}}.jsonl
archiver:
  seeds: [{{SEEDS}}]
  topics: {korea: {{TOPIC}}}
  partitions: {binance: 0, okx: 1, bybit: 2}
  replication_factor: {{RF}}
  compression: zstd
  linger: 1ms
  spool_dir: {{DIR}}/spool
  spool_max_bytes: 67108864
replay: {speed: max, output: zmq, publish: "ipc://{{DIR}}/replay.sock"}
`

// TestCLILiveArchiveReplayStrategy runs the pipeline from the CLI's code path (run() with
// the same arguments a user types): sim, `gateway --wait-subscribers 2`, a live
// `strategy --endpoints <gateway>` and the `archiver` into Kafka; then `replay
// --order publish` onto the bus and a second `strategy --endpoints <replay>`. The replayed
// strategy must write exactly the live strategy's opportunities, line for line (the oracle
// is the live run), and there must be some. Kafka is the real one of KAFKA_SEEDS, or an
// in-process kfake without it.
func TestCLILiveArchiveReplayStrategy(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline test")
	}
	dir := t.TempDir()
	seeds, topic, rf := []string(nil), "ticks.korea", int16(1)
	// On the real cluster when there is one (CI), else on kfake. Under load the real one
	// once lost the replay's tail twice over (the ZMQ output closing before its last
	// batch left, and the strategy dropping its receive buffer when a PING to the closed
	// output failed): both fixed in shared/bus and tested there.
	if os.Getenv(kafkatest.EnvSeeds) != "" {
		seeds, topic, rf = kafkatest.Seeds(t), kafkatest.TopicName("tickline-cli-replay"), kafkatest.ReplicationFactor(t)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			kadm.NewClient(newKgo(t, seeds)).DeleteTopics(ctx, topic)
		})
	} else {
		seeds = kafkatest.NewFake(t).ListenAddrs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	simOut := &testkit.SyncBuffer{}
	stopSim, _ := bg(t, ctx, simOut, "sim", "--listen", "127.0.0.1:0", "--seed", "11", "--rate", "40",
		"--exchanges", "binance,okx,bybit")
	defer stopSim()
	addrRe := regexp.MustCompile(`serving \d+ exchanges on (\S+) `)
	var simAddr string
	testkit.Poll(t, 10*time.Second, "the simulator's address", func() bool {
		if m := addrRe.FindStringSubmatch(simOut.String()); m != nil {
			simAddr = m[1]
		}
		return simAddr != ""
	})
	topoFile := func(name string) string {
		r := strings.NewReplacer("{{DIR}}", dir, "{{SIM}}", simAddr, "{{NAME}}", name, "{{SEEDS}}", strings.Join(seeds, ", "),
			"{{TOPIC}}", topic, "{{RF}}", fmt.Sprint(rf))
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(r.Replace(pipelineTopo)), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Load(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	live, replayed := topoFile("live"), topoFile("replayed")
	gwEP := "ipc://" + dir + "/gw.sock"

	stopGW, _ := bg(t, ctx, io.Discard, "gateway", "--config", live, "--id", "gw-korea", "--wait-subscribers", "2")
	defer stopGW()
	stopLive, _ := bg(t, ctx, io.Discard, "strategy", "--config", live, "--endpoints", gwEP, "--report", "0")
	defer stopLive()
	stopArch, _ := bg(t, ctx, io.Discard, "archiver", "--config", live)
	defer stopArch()

	adm := kadm.NewClient(newKgo(t, seeds))
	archived := func() int64 {
		o, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return -1
		}
		var n int64
		o.Each(func(l kadm.ListedOffset) { n += l.Offset })
		return n
	}
	// Let the market run until the archive holds a few thousand records, then close it and
	// the gateway: everything it published reaches both receivers, the archive stops
	// growing.
	testkit.Poll(t, 90*time.Second, "records archived", func() bool { return archived() >= 3000 })
	stopSim()
	stopGW()
	n := steady(t, 60*time.Second, time.Second, "the archive", archived)
	stopLive()
	stopArch()
	liveOpps := readLines(t, filepath.Join(dir, "live.jsonl"))
	t.Logf("live: %d records archived, %d opportunities", n, len(liveOpps))
	if n <= 0 || len(liveOpps) == 0 {
		t.Fatalf("nothing to compare: %d records archived, %d opportunities", n, len(liveOpps))
	}

	stopRS, _ := bg(t, ctx, io.Discard, "strategy", "--config", replayed, "--endpoints", "ipc://"+dir+"/replay.sock", "--report", "0")
	defer stopRS()
	stopReplay, replayDone := bg(t, ctx, io.Discard, "replay", "--config", replayed, "--regions", "korea", "--order", "publish",
		"--speed", "max", "--wait-subscribers", "1")
	<-replayDone
	if code := stopReplay(); code != 0 {
		t.Fatalf("replay exited %d", code)
	}
	// The replay has written everything; the replayed strategy may still be working through
	// its socket (slow under -race): wait until it has at least the live count (or a
	// minute: then the comparison below fails), then for a second without more.
	replayedN := func() int64 { return int64(len(readLines(t, filepath.Join(dir, "replayed.jsonl")))) }
	for deadline := time.Now().Add(60 * time.Second); replayedN() < int64(len(liveOpps)) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	steady(t, 60*time.Second, time.Second, "the replayed strategy's opportunities", replayedN)
	stopRS()
	got := readLines(t, filepath.Join(dir, "replayed.jsonl"))
	if len(got) != len(liveOpps) {
		t.Fatalf("replay: %d opportunities, live %d", len(got), len(liveOpps))
	}
	for i := range got {
		if got[i] != liveOpps[i] {
			t.Fatalf("opportunity %d differs:\nlive   %s\nreplay %s", i, liveOpps[i], got[i])
		}
	}
}

func newKgo(t *testing.T, seeds []string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func readLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestStrategyLineGapsOnReplay: a strategy reading a replay's ZMQ output counts no line
// gaps although the archived records come from several gateways with holes in each
// gateway's sequence (the archiver kept one copy of each event); a record lost between
// replay and strategy would still count (the output restamps its own sequence).
func TestStrategyLineGapsOnReplay(t *testing.T) {
	topo, err := config.Load("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sink, err := replay.NewZMQSink(ctx, "tcp://127.0.0.1:0", replay.ZMQOptions{WaitSubscribers: 1, Bus: bus.Options{QueueDepth: 1024}}, log)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := 0
	st, err := strategy.New(topo, strategy.Options{Endpoints: []string{sink.Endpoint()}, NoMetrics: true, SignalBind: "tcp://127.0.0.1:0",
		Out: io.Discard, OnRecord: func(int, *wire.Record) { mu.Lock(); got++; mu.Unlock() }}, log)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- st.Run(sctx) }()
	const n = 300
	var h wire.Header
	for i := 1; i <= n; i++ {
		// Two gateways, each with every other record of its sequence archived.
		r := &wire.Record{Kind: wire.KindTrade, Exchange: wire.Binance, Seq: uint64(i), GatewayID: uint16(1 + i%2), GatewaySeq: uint64(2 * i),
			TsExchange: 1_700_000_000_000_000_000 + int64(i)*1e6, Price: wire.MustDecimal("100"), Size: wire.MustDecimal("1")}
		r.TsRecv = r.TsExchange + 1000
		r.Instrument.SetString("BTC-USDT")
		r.Symbol.SetString("BTCUSDT")
		r.Flags |= wire.FlagReplay
		v, err := wire.AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := wire.ReadHeader(v, &h); err != nil {
			t.Fatal(err)
		}
		if err := sink.Write(v, &h); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Poll(t, 20*time.Second, "the strategy to receive every record", func() bool { mu.Lock(); defer mu.Unlock(); return got == n })
	var gaps uint64
	st.View(func(_ *strategy.Engine, m *arbiter.Merger) { gaps = m.Stats.SeqGaps[0] })
	stop()
	<-done
	sink.Close()
	if gaps != 0 {
		t.Fatalf("strategy counted %d line gaps on a lossless replay", gaps)
	}
}

const signalTopo = `version: 1
regions: [{name: korea}]
gateways:
  - id: gw-a
    num: 1
    region: korea
    publish: tcp://127.0.0.1:41001
    exchanges:
      binance: {ws_url: "ws://127.0.0.1:1/b", rest_url: "http://127.0.0.1:1/b", symbols: {BTCUSDT: [trade]}}
strategy: {threshold_bps: 5, max_notional: 1000, fees_bps: {binance: 10}}
archiver:
  seeds: [{{SEEDS}}]
  topics: {korea: sig.korea}
  partitions: {binance: 0}
  replication_factor: 1
  spool_dir: {{DIR}}/spool
replay: {speed: 1x, output: jsonl, path: {{DIR}}/out.jsonl}
`

// TestReplaySignalsAndControl: `tickline replay` pauses on SIGUSR1 and resumes on SIGUSR2
// (seen through GET /control on --metrics 127.0.0.1:0, whose address the replay logs), a
// speed change through POST /control/speed finishes a 1x replay at once, and the output
// holds every archived record.
func TestReplaySignalsAndControl(t *testing.T) {
	dir := t.TempDir()
	kc := kafkatest.NewFake(t, kfake.SeedTopics(1, "sig.korea"))
	cfg := filepath.Join(dir, "topo.yaml")
	os.WriteFile(cfg, []byte(strings.NewReplacer("{{SEEDS}}", strings.Join(kc.ListenAddrs(), ","), "{{DIR}}", dir).Replace(signalTopo)), 0o644)
	// 2000 trades 5 ms apart: 10 s at 1x.
	cl := newKgo(t, kc.ListenAddrs())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 2000
	var recs []*kgo.Record
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := 1; i <= n; i++ {
		r := &wire.Record{Kind: wire.KindTrade, Exchange: wire.Binance, Seq: uint64(i), GatewayID: 1, GatewaySeq: uint64(i),
			TsExchange: t0 + int64(i)*5e6, Price: wire.MustDecimal("100"), Size: wire.MustDecimal("1")}
		r.TsRecv = r.TsExchange + 1000
		r.Instrument.SetString("BTC-USDT")
		r.Symbol.SetString("BTCUSDT")
		v, _ := wire.AppendRecord(nil, r)
		recs = append(recs, &kgo.Record{Topic: "sig.korea", Partition: 0, Value: v, Timestamp: time.Unix(0, r.TsExchange)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	logs := &testkit.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"replay", "--config", cfg, "--metrics", "127.0.0.1:0", "--progress=false"},
			&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, log: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	addrRe := regexp.MustCompile(`replay: metrics and control".* addr=(\S+)`)
	var addr string
	testkit.Poll(t, 20*time.Second, "the control address in the log", func() bool {
		select {
		case code := <-done:
			t.Fatalf("replay exited %d before serving control: %s", code, logs.String())
		default:
		}
		if m := addrRe.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	state := func() (st struct {
		Paused  bool  `json:"paused"`
		Written int64 `json:"written"`
	}) {
		resp, err := http.Get("http://" + addr + "/control")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	testkit.Poll(t, 20*time.Second, "records written", func() bool { return state().Written > 10 })
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	testkit.Poll(t, 10*time.Second, "paused by SIGUSR1", func() bool { return state().Paused })
	w := state().Written
	syscall.Kill(os.Getpid(), syscall.SIGUSR2)
	testkit.Poll(t, 10*time.Second, "resumed by SIGUSR2", func() bool { return !state().Paused })
	testkit.Poll(t, 10*time.Second, "writing again", func() bool { return state().Written > w+1 })
	resp, err := http.Post("http://"+addr+"/control/speed?to=max", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("speed max: %v %v", err, resp)
	}
	resp.Body.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("replay exited %d: %s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("replay did not finish at max speed")
	}
	if got := readLines(t, filepath.Join(dir, "out.jsonl")); len(got) != n {
		t.Fatalf("output has %d lines, want %d", len(got), n)
	}
	if !strings.Contains(logs.String(), "replay: done") {
		t.Errorf("no end-of-run summary in the log")
	}
}

// TestReplayNothingMatched: a filter that matches nothing warns and exits 1; a bad kind
// lists the valid ones.
func TestReplayNothingMatched(t *testing.T) {
	dir := t.TempDir()
	kc := kafkatest.NewFake(t, kfake.SeedTopics(1, "sig.korea"))
	cfg := filepath.Join(dir, "topo.yaml")
	os.WriteFile(cfg, []byte(strings.NewReplacer("{{SEEDS}}", strings.Join(kc.ListenAddrs(), ","), "{{DIR}}", dir).Replace(signalTopo)), 0o644)
	v, _ := wire.AppendRecord(nil, &wire.Record{Kind: wire.KindTrade, Exchange: wire.Binance, Seq: 1, GatewayID: 1, GatewaySeq: 1,
		TsExchange: 1_772_366_400_000_000_000, TsRecv: 1_772_366_400_000_001_000, Price: wire.MustDecimal("1"), Size: wire.MustDecimal("1"),
		Instrument: mustName("BTC-USDT"), Symbol: mustName("BTCUSDT")})
	if err := newKgo(t, kc.ListenAddrs()).ProduceSync(context.Background(), &kgo.Record{Topic: "sig.korea", Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runLogged(t, "replay", "--config", cfg, "--instruments", "BTC-KRWW", "--speed", "max", "--progress=false")
	if code != 1 || !strings.Contains(errOut, "nothing matched") || !strings.Contains(errOut, "1 filtered out") {
		t.Errorf("BTC-KRWW: code %d, stderr %q", code, errOut)
	}
	if code, _, _ := runLogged(t, "replay", "--config", cfg, "--speed", "max", "--progress=false"); code != 0 {
		t.Errorf("matching replay: code %d", code)
	}
	code, _, errOut = runLogged(t, "replay", "--config", cfg, "--kinds", "book")
	if code != 1 || !strings.Contains(errOut, "book_snapshot") || !strings.Contains(errOut, "book_delta") {
		t.Errorf("--kinds book: code %d, stderr %q", code, errOut)
	}
	if code, _, _ := runLogged(t, "help"); code != 0 {
		t.Errorf("help: code %d", code)
	}
	if code, _, _ := runLogged(t, "replay", "--help"); code != 0 {
		t.Errorf("replay --help: code %d", code)
	}
}

func mustName(s string) (n wire.Name) {
	if err := n.SetString(s); err != nil {
		panic(err)
	}
	return n
}

// runLogged runs a command with a logger (runCmd has none) and returns its status and
// stderr, logs included.
func runLogged(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out bytes.Buffer
	errOut := &testkit.SyncBuffer{}
	code = run(context.Background(), args, &env{stdin: strings.NewReader(""), stdout: &out, stderr: errOut,
		log: slog.New(slog.NewTextHandler(errOut, nil))})
	return code, out.String(), errOut.String()
}
