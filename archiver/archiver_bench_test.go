package archiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkArchive measures the archiver from the handler (arbitration, spool) through the
// producer to acknowledgements by an in-process kfake broker: records/s, MB/s of record
// values, and the compression ratio (value bytes / bytes the broker stores). The bus is
// not in the loop (shared/bus has its own benchmarks). Target ≥ 300k records/s.
func BenchmarkArchive(b *testing.B) {
	for _, codec := range []string{"lz4", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			_, seeds, _ := newKafka(b)
			benchArchive(b, seeds, codec, "bench.")
		})
	}
}

// BenchmarkIntegrationArchive is BenchmarkArchive against the real Kafka of KAFKA_SEEDS
// (skipped when unset).
func BenchmarkIntegrationArchive(b *testing.B) {
	seeds := kafkatest.Seeds(b)
	for _, codec := range []string{"lz4", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			benchArchive(b, seeds, codec, kafkatest.TopicName("tickline-bench")+".")
		})
	}
}

func benchArchive(b *testing.B, seeds []string, codec, prefix string) {
	gws := []gw{{"gw-a", 1, "korea"}}
	yaml := topoYAML(gws, seeds, spoolDir(b), prefix)
	yaml = strings.Replace(yaml, "compression: lz4", "compression: "+codec, 1)
	yaml = strings.Replace(yaml, "spool_max_bytes: 67108864", "spool_max_bytes: 4294967296", 1)
	topo := parseTopo(b, yaml)
	if rf := kafkatest.ReplicationFactor(b); len(seeds) > 1 {
		topo.Archiver.ReplicationFactor = rf
	}
	idle := newFakeGateway(b, 1) // nothing is published: the benchmark calls the handler
	a, stop := startArchiver(b, topo, Options{Endpoints: map[string]string{"gw-a": idle.pub.Endpoint()}, TailRecords: -1})

	// One bus batch of 512 messages: three streams of trades and BBOs, ~150-byte records
	// with realistic decimals. Each round encodes them again with new seqs and times, into
	// the same buffers.
	const batchLen = 512
	batch := make([]bus.Message, batchLen)
	recs := make([]*wire.Record, batchLen)
	size := 0
	for i := range batch {
		e := event{wire.Binance, wire.KindTrade, "BTC-USDT", uint64(i + 1)}
		switch i % 3 {
		case 1:
			e.inst = "ETH-USDT"
		case 2:
			e.ex = wire.OKX
		}
		r := trade(e, false)
		if i%2 == 1 {
			r.Kind, r.Price, r.Size, r.Side = wire.KindBBO, wire.Decimal{}, wire.Decimal{}, 0
			r.BidPx, r.BidSz = wire.MustDecimal("64999.90"), wire.MustDecimal("1.23456")
			r.AskPx, r.AskSz = wire.MustDecimal("65000.10"), wire.MustDecimal("0.00420")
		}
		v, err := wire.AppendRecord(nil, r)
		if err != nil {
			b.Fatal(err)
		}
		batch[i], recs[i] = bus.Message{Endpoint: 0, Payload: v}, r
		size += len(v)
	}
	b.SetBytes(int64(size / batchLen))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	seq := uint64(0)
	for n := 0; n < b.N; n += batchLen {
		for i := range batch {
			seq++
			r := recs[i]
			r.Seq, r.GatewaySeq, r.TsExchange = seq, seq, baseTime+int64(seq)*1e3
			var err error
			if batch[i].Payload, err = wire.AppendRecord(batch[i].Payload[:0], r); err != nil {
				b.Fatal(err)
			}
		}
		m := min(batchLen, b.N-n)
		a.handle(batch[:m])
		for a.Stats.Accepted.Load()-a.Stats.Produced.Load() > 1<<19 { // sustained rate, not spool speed
			time.Sleep(100 * time.Microsecond)
		}
	}
	testkit.Poll(b, 5*time.Minute, "all acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(b.N) })
	el := time.Since(start)
	b.StopTimer()
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	if d := a.Stats.SpoolDropped.Load() + a.Stats.Rejected.Load(); d != 0 {
		b.Fatalf("%d records dropped or rejected", d)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	if stored := storedBytes(b, seeds, prefix+"korea"); stored > 0 {
		b.ReportMetric(float64(a.Stats.ProducedBytes.Load())/float64(stored), "compression-ratio")
	}
}

// storedBytes asks the brokers how many bytes a topic's logs hold.
func storedBytes(b testing.TB, seeds []string, topic string) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts := make(kadm.TopicsSet)
	ts.Add(topic, 0, 1)
	dirs, err := kadm.NewClient(cl).DescribeAllLogDirs(ctx, ts)
	if err != nil {
		b.Logf("describe log dirs: %v", err)
		return 0
	}
	var n int64
	for _, d := range dirs {
		n += d.Size()
	}
	return n
}
