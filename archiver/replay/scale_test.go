package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/archiver"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// Environment of the scale test (TestIntegrationReplayScale).
const (
	// EnvScale enables the scale test: the number of records to archive and replay
	// ("1" = 10M). It takes about a minute on two cores, so it is not part of `make test`;
	// .ci/run runs it as its own step and `make bench` through benchrun.
	envScale = "TICKLINE_REPLAY_SCALE"
	// envScaleOut, when set, is a file the test writes its figures to (JSON, benchrun).
	envScaleOut = "TICKLINE_REPLAY_SCALE_OUT"
	// envScaleChild makes TestReplayScaleChild the replay process: topology prefix,
	// records expected.
	envScaleChild = "TICKLINE_REPLAY_SCALE_CHILD"
)

// scaleMaxRSS is the stated bound on the replay process's peak RSS.
const scaleMaxRSS = 256 << 20

// ScaleResult is what the scale test measured (written to envScaleOut).
type ScaleResult struct {
	Records        int64   `json:"records"`
	Partitions     int     `json:"partitions"`
	ProduceSeconds float64 `json:"produce_seconds"`
	ReplaySeconds  float64 `json:"replay_seconds"` // inside the child, Run only
	RecordsPerS    float64 `json:"records_per_s"`
	// PeakRSSBytes is the child's VmHWM (/proc/self/status, read by the child as it ends):
	// the kernel's peak RSS of the replay process since exec. (The child's ru_maxrss is not
	// used: Linux carries the parent's high-water mark across the vfork+exec.)
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	MaxRSSBound  int64 `json:"max_rss_bound"`
}

// TestIntegrationReplayScale archives TICKLINE_REPLAY_SCALE records (default 10M with "1")
// into the real Kafka of KAFKA_SEEDS — two regions' topics, two partitions each, small
// trade records from a franz-go producer — then replays all of them at max speed into a
// checking null sink in a child process (this test binary again; event order with the
// CLI's default 250 ms reorder window, arbitration on) and measures the child's
// peak RSS from the kernel (VmHWM). The sink checks, independently of the replay's
// counters, that every stream's sequence arrives complete, once and in order, and that
// event times never go back. Peak RSS must stay under 256 MB; the rate is reported.
func TestIntegrationReplayScale(t *testing.T) {
	v := os.Getenv(envScale)
	if v == "" {
		t.Skipf("%s not set (e.g. %s=1 for 10M records; needs KAFKA_SEEDS)", envScale, envScale)
	}
	if raceEnabled {
		t.Skip("memory and rate are measured without -race")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a record count or 1", envScale, v)
	}
	if n == 1 {
		n = 10_000_000
	}
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-replay-scale") + "."
	keep := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	for _, reg := range []string{"korea", "global"} {
		kafkatest.CreateTopic(t, prefix+reg, 2, kafkatest.ReplicationFactor(t), keep)
	}
	t0 := time.Now()
	produceScale(t, seeds, prefix, n)
	produced := time.Since(t0)
	t.Logf("produced %d records in %v (%.0f records/s)", n, produced, float64(n)/produced.Seconds())

	cmd := exec.Command(os.Args[0], "-test.run=^TestReplayScaleChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", envScaleChild, prefix, n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay child: %v\n%s", err, out)
	}
	var res ScaleResult
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "SCALE "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatalf("child result %q: %v", rest, err)
			}
		}
	}
	if res.Records != n {
		t.Fatalf("child replayed %d records, want %d (output:\n%s)", res.Records, n, out)
	}
	if res.PeakRSSBytes <= 0 {
		t.Fatal("child reported no VmHWM")
	}
	res.ProduceSeconds = produced.Seconds()
	res.Partitions = 4
	res.MaxRSSBound = scaleMaxRSS
	t.Logf("replayed %d records in %.2f s: %.0f records/s; peak RSS (VmHWM) %.1f MB, bound %d MiB",
		res.Records, res.ReplaySeconds, res.RecordsPerS, float64(res.PeakRSSBytes)/1e6, scaleMaxRSS>>20)
	if p := os.Getenv(envScaleOut); p != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if res.PeakRSSBytes > scaleMaxRSS {
		t.Fatalf("peak RSS %d bytes > bound %d", res.PeakRSSBytes, scaleMaxRSS)
	}
}

// scaleTopology is topology() for the scale test's topics.
func scaleTopology(t testing.TB, seeds []string, prefix string) *config.Topology {
	return topology(t, seeds, prefix)
}

// produceScale writes n records: region korea gets binance BTC-USDT trades (partition 0)
// and okx BTC-USDT trades (partition 1) from gateway 1, region global ETH-USDT trades of
// both from gateway 3 (distinct events: the default arbitration runs on every record and
// keeps all), a quarter of n each, 100 µs apart in event time, as archiver.NewRecord
// builds them.
func produceScale(t *testing.T, seeds []string, prefix string, n int64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.MaxBufferedRecords(200_000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type stream struct {
		region string
		p      int32
		ex     wire.Exchange
		gw     uint16
		tmpl   *wire.Record
		seq    uint64
	}
	var streams []*stream
	for _, reg := range []struct {
		name, inst string
		gw         uint16
	}{{"korea", "BTC-USDT", 1}, {"global", "ETH-USDT", 3}} {
		for p, ex := range []wire.Exchange{wire.Binance, wire.OKX} {
			streams = append(streams, &stream{region: reg.name, p: int32(p), ex: ex, gw: reg.gw,
				tmpl: recOf(ex, wire.KindTrade, reg.inst, 0, 0, reg.gw)})
		}
	}
	var failed atomic.Pointer[error]
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	var slab []byte
	for i := int64(0); i < n; i++ {
		s := streams[i%int64(len(streams))]
		s.seq++
		size := s.tmpl.EncodedSize()
		if len(slab) < size {
			slab = make([]byte, 1<<20)
		}
		// 100 µs apart: 10k events/s per stream, so the arbiter's 10 s of memory stays far
		// below its key budget (at 1 µs apart it sits at the budget and evicts every key).
		ts := base + int64(s.seq)*100_000
		s.tmpl.GatewaySeq, s.tmpl.Seq, s.tmpl.TsExchange, s.tmpl.TsRecv = s.seq, s.seq, ts, ts+int64(s.gw)
		v, err := wire.AppendRecord(slab[:0:size], s.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		slab = slab[size:]
		r, err := archiver.NewRecord(prefix+s.region, s.region, s.p, s.seq, v)
		if err != nil {
			t.Fatal(err)
		}
		cl.Produce(ctx, r, done)
		if e := failed.Load(); e != nil {
			t.Fatalf("produce: %v", *e)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if e := failed.Load(); e != nil {
		t.Fatalf("produce: %v", *e)
	}
}

// TestReplayScaleChild is the replay process of TestIntegrationReplayScale (skipped unless
// started by it). It prints one "SCALE {json}" line.
func TestReplayScaleChild(t *testing.T) {
	v := os.Getenv(envScaleChild)
	if v == "" {
		t.Skip("started by TestIntegrationReplayScale only")
	}
	prefix, ns, _ := strings.Cut(v, ",")
	n, _ := strconv.ParseInt(ns, 10, 64)
	topo := scaleTopology(t, kafkatest.Seeds(t), prefix)
	chk := &scaleCheck{}
	opts := Options{Reorder: 250 * time.Millisecond} // as `tickline replay` (event order) does
	if d, err := time.ParseDuration(os.Getenv("TICKLINE_REPLAY_SCALE_REORDER")); err == nil {
		opts.Reorder = d
	}
	if f, err := strconv.Atoi(os.Getenv("TICKLINE_REPLAY_SCALE_FETCH")); err == nil {
		opts.FetchMaxBytes = int32(f)
	}
	r, err := New(topo, opts, FuncSink(chk.write), testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if chk.err != nil {
		t.Fatal(chk.err)
	}
	if chk.count != n {
		t.Fatalf("sink saw %d records, want %d", chk.count, n)
	}
	res := ScaleResult{Records: chk.count, ReplaySeconds: el.Seconds(), RecordsPerS: float64(chk.count) / el.Seconds(), PeakRSSBytes: vmHWM()}
	b, _ := json.Marshal(res)
	fmt.Printf("SCALE %s\n", b)
}

// scaleCheck checks the replayed stream without the replay's counters: per (gateway,
// exchange) stream the sequence is 1, 2, 3, … and event time never decreases overall.
type scaleCheck struct {
	count int64
	last  int64
	seq   [8][256]uint64
	err   error
}

func (c *scaleCheck) write(v []byte, h *wire.Header) error {
	c.count++
	if c.err != nil {
		return nil
	}
	if h.TsExchange < c.last {
		c.err = fmt.Errorf("record %d: event time %d after %d", c.count, h.TsExchange, c.last)
	}
	c.last = h.TsExchange
	s := &c.seq[h.GatewayID&7][h.Exchange]
	if h.Seq != *s+1 {
		c.err = fmt.Errorf("record %d: gateway %d %s seq %d after %d", c.count, h.GatewayID, h.Exchange, h.Seq, *s)
	}
	*s = h.Seq
	return nil
}

// vmHWM reads this process's peak RSS from /proc/self/status (0 when unavailable).
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
