package replay

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/archiver"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// topology: regions korea (gw-a, gw-b) and global (gw-c), topics <prefix>korea and
// <prefix>global, binance → 0, okx → 1.
func topology(t testing.TB, seeds []string, prefix string) *config.Topology {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nregions:\n  - name: korea\n  - name: global\ngateways:\n")
	for i, g := range []struct {
		id, region string
	}{{"gw-a", "korea"}, {"gw-b", "korea"}, {"gw-c", "global"}} {
		fmt.Fprintf(&b, `  - id: %s
    num: %d
    region: %s
    publish: tcp://127.0.0.1:%d
    exchanges:
      binance: {ws_url: "ws://127.0.0.1:1/b", rest_url: "http://127.0.0.1:1/b", symbols: {BTCUSDT: [trade, bbo]}}
      okx: {ws_url: "ws://127.0.0.1:1/o", symbols: {BTC-USDT: [trade]}}
`, g.id, i+1, g.region, 41000+i)
	}
	b.WriteString("strategy: {threshold_bps: 5, max_notional: 1000, fees_bps: {binance: 10, okx: 10}}\n")
	fmt.Fprintf(&b, "archiver:\n  seeds: [%s]\n  topics: {korea: %skorea, global: %sglobal}\n", strings.Join(seeds, ", "), prefix, prefix)
	fmt.Fprintf(&b, "  partitions: {binance: 0, okx: 1}\n  replication_factor: 1\n  compression: zstd\n  linger: 1ms\n  spool_dir: %s\n  spool_max_bytes: 67108864\n",
		filepath.Join(t.TempDir(), "spool"))
	b.WriteString("replay: {publish: \"tcp://127.0.0.1:49998\"}\n")
	topo, err := config.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("topology: %v", err)
	}
	return topo
}

// newKafka starts a one-broker kfake cluster and returns its seeds.
func newKafka(t testing.TB) []string {
	t.Helper()
	return kafkatest.NewFake(t).ListenAddrs()
}

// newArchive starts a one-broker kfake cluster and returns its seeds and the topology
// (topology) whose topics are named with prefix.
func newArchive(t testing.TB, prefix string) ([]string, *config.Topology) {
	t.Helper()
	seeds := newKafka(t)
	return seeds, topology(t, seeds, prefix)
}

// base is the exchange time of seq 0.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

// rec builds a record: event time base + at (ns), receive time 1 µs later.
func rec(ex wire.Exchange, kind wire.Kind, inst string, seq uint64, at time.Duration, gwID uint16) []byte {
	b, err := wire.AppendRecord(nil, recOf(ex, kind, inst, seq, at, gwID))
	if err != nil {
		panic(err)
	}
	return b
}

// recOf is the record rec encodes.
func recOf(ex wire.Exchange, kind wire.Kind, inst string, seq uint64, at time.Duration, gwID uint16) *wire.Record {
	r := &wire.Record{Kind: kind, Exchange: ex, Seq: seq, GatewayID: gwID, GatewaySeq: seq}
	r.Instrument.SetString(inst)
	r.Symbol.SetString(strings.ReplaceAll(inst, "-", ""))
	r.TsExchange = base + int64(at)
	r.TsRecv = r.TsExchange + 1000
	switch kind {
	case wire.KindTrade:
		r.Price, r.Size, r.Side = wire.MustDecimal("65000.10"), wire.MustDecimal("0.5"), wire.SideSell
	case wire.KindBBO:
		r.BidPx, r.BidSz = wire.MustDecimal("64999.9"), wire.MustDecimal("1.25")
		r.AskPx, r.AskSz = wire.MustDecimal("65000.1"), wire.MustDecimal("2")
	}
	return r
}

// archive writes values into topic as the archiver does (partition by exchange, archive
// sequence per partition), creating the topic with 2 partitions.
func archive(t testing.TB, seeds []string, topic, region string, values [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(50*time.Millisecond), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := archiver.EnsureTopics(ctx, kadm.NewClient(cl), []archiver.TopicSpec{{Topic: topic, Partitions: 2}}, 1); err != nil {
		t.Fatal(err)
	}
	seq := map[int32]uint64{}
	var recs []*kgo.Record
	for _, v := range values {
		p := int32(0)
		if wire.ExchangeOf(v) == wire.OKX {
			p = 1
		}
		seq[p]++
		r, err := archiver.NewRecord(topic, region, p, seq[p], v)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// collected is what a FuncSink saw.
type collected struct {
	values [][]byte
	times  []int64
	recvs  []int64
	at     []time.Time
}

func (c *collected) sink() Sink {
	return FuncSink(func(v []byte, h *wire.Header) error {
		c.values = append(c.values, append([]byte(nil), v...))
		c.times = append(c.times, kafka.EventTime(h))
		c.recvs = append(c.recvs, h.TsRecv)
		c.at = append(c.at, time.Now())
		return nil
	})
}

// checkMergeOrder asserts (event time, receive time) never decreases.
func (c *collected) checkMergeOrder(t testing.TB) {
	t.Helper()
	for i := 1; i < len(c.times); i++ {
		if c.times[i] < c.times[i-1] || c.times[i] == c.times[i-1] && c.recvs[i] < c.recvs[i-1] {
			t.Fatalf("record %d (t=%d recv=%d) after (t=%d recv=%d)", i, c.times[i], c.recvs[i], c.times[i-1], c.recvs[i-1])
		}
	}
}

// startReplay runs a replay of opts into sink in the background (for at most 60 s): done
// receives Run's error, cancel ends it (the test's cleanup does too).
func startReplay(t testing.TB, topo *config.Topology, opts Options, sink Sink) (r *Replayer, done <-chan error, cancel context.CancelFunc) {
	t.Helper()
	r, err := New(topo, opts, sink, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	return r, errc, cancel
}

func runReplay(t testing.TB, topo *config.Topology, opts Options, sink Sink) *Replayer {
	t.Helper()
	r, err := New(topo, opts, sink, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

// archived returns a replayed value as it was archived: it must carry FlagReplay, which
// the replay sets; the copy returned has it cleared.
func archived(t testing.TB, v []byte) []byte {
	t.Helper()
	var h wire.Header
	if err := wire.ReadHeader(v, &h); err != nil {
		t.Fatalf("replayed value: %v", err)
	}
	if h.Flags&wire.FlagReplay == 0 {
		t.Fatalf("replayed record without FlagReplay: flags %#x", uint16(h.Flags))
	}
	out := append([]byte(nil), v...)
	wire.SetFlags(out, h.Flags&^wire.FlagReplay)
	return out
}
