package archiver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

func TestPartitionerMapsEachExchangeNoFallback(t *testing.T) {
	a := &config.Archiver{Partitions: map[string]int32{"binance": 0, "okx": 3, "upbit": 1}}
	p := NewPartitioner(a)
	tp := p.ForTopic("any")
	tests := []struct {
		ex   wire.Exchange
		n    int // partitions in the topic
		want int
	}{
		{wire.Binance, 4, 0},
		{wire.OKX, 4, 3},
		{wire.Upbit, 4, 1},
		{wire.Kraken, 4, -1}, // no partition: fails, never hashed elsewhere
		{wire.OKX, 3, -1},    // partition missing from the topic: fails
	}
	for _, tt := range tests {
		r := trade(event{tt.ex, wire.KindTrade, "BTC-USDT", 7}, false)
		value, err := wire.AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		kr := &kgo.Record{Value: value}
		if !tp.RequiresConsistency(kr) {
			t.Errorf("RequiresConsistency = false")
		}
		if got := tp.Partition(kr, tt.n); got != tt.want {
			t.Errorf("%s with %d partitions: partition %d, want %d", tt.ex, tt.n, got, tt.want)
		}
		if _, ok := p.Partition(tt.ex); ok != (tt.ex != wire.Kraken) {
			t.Errorf("Partition(%s) ok = %v", tt.ex, ok)
		}
	}
	if got := tp.Partition(&kgo.Record{Value: []byte{1, 2}}, 4); got != -1 {
		t.Errorf("short value: partition %d, want -1", got)
	}
}

func TestEnsureTopicsCreatesAndRefusesMismatch(t *testing.T) {
	_, seeds, _ := newKafka(t, kfake.SeedTopics(3, "ticks.korea"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Missing topics are created with the right count.
	specs := []TopicSpec{{"ticks.global", 2}, {"ticks.other", 5}}
	if err := EnsureTopics(ctx, adm, specs, 1); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	details, err := adm.ListTopics(ctx, "ticks.global", "ticks.other")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if n := len(details[s.Topic].Partitions); int32(n) != s.Partitions {
			t.Errorf("%s: %d partitions, want %d", s.Topic, n, s.Partitions)
		}
	}
	// Existing and matching: fine, again.
	if err := EnsureTopics(ctx, adm, specs, 1); err != nil {
		t.Fatalf("EnsureTopics on existing topics: %v", err)
	}
	// Existing with 3 partitions while the map needs 2: refused, naming the topic.
	err = EnsureTopics(ctx, adm, []TopicSpec{{"ticks.korea", 2}}, 1)
	if !errors.Is(err, ErrPartitionMismatch) || !strings.Contains(err.Error(), `"ticks.korea"`) {
		t.Fatalf("mismatch: err = %v, want ErrPartitionMismatch naming ticks.korea", err)
	}

	// The archiver refuses to start on it.
	gws := []gw{{"gw-a", 1, "korea"}}
	topo := parseTopo(t, topoYAML(gws, seeds, spoolDir(t), "ticks."))
	a, err := New(topo, Options{}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(ctx)
	if !errors.Is(err, ErrPartitionMismatch) || !strings.Contains(err.Error(), "ticks.korea") {
		t.Fatalf("Run: err = %v, want ErrPartitionMismatch naming ticks.korea", err)
	}
}

// TestArchiveTwoLinesHeadersTimestamps: two lines carry the same events; each is archived
// once, to its exchange's partition, keyed by instrument, with headers and the exchange
// time (or the receive time when the exchange gives none) as timestamp.
func TestArchiveTwoLinesHeadersTimestamps(t *testing.T) {
	_, seeds, _ := newKafka(t)
	gws := []gw{{"gw-a", 1, "korea"}, {"gw-b", 2, "korea"}, {"gw-c", 3, "global"}}
	lines, eps := gatewayEndpoints(t, gws)
	topo := parseTopo(t, topoYAML(gws, seeds, spoolDir(t), "ticks."))
	a, stop := startArchiver(t, topo, Options{Endpoints: eps})
	for _, l := range lines {
		l.waitSubscribed(1)
	}
	evs := events(0, 500)
	for i, e := range evs {
		noEx := i%7 == 0
		lines[0].publish(trade(e, noEx))
		lines[1].publish(trade(e, noEx))
	}
	global := events(1000, 10)
	for _, e := range global {
		lines[2].publish(trade(e, false))
	}
	total := len(evs) + len(global)
	testkit.Poll(t, 20*time.Second, "all records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(total) })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := a.Stats.Duplicates.Load(); d != uint64(len(evs)) {
		t.Errorf("duplicates dropped = %d, want %d", d, len(evs))
	}

	got := consumeAll(t, seeds, "ticks.korea")
	checkExactlyOnce(t, got, evs, true)
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.global"), global, true)
	noEx := map[event]bool{}
	for i, e := range evs {
		noEx[e] = i%7 == 0
	}
	for _, recs := range got {
		for _, r := range recs {
			e := eventOf(t, r)
			if string(r.Key) != e.inst {
				t.Fatalf("%v: key %q", e, r.Key)
			}
			src := trade(e, noEx[e])
			wantTs := src.TsExchange
			if noEx[e] {
				wantTs = src.TsRecv
			}
			if r.Timestamp.UnixMilli() != wantTs/1e6 {
				t.Fatalf("%v: timestamp %d ms, want %d", e, r.Timestamp.UnixMilli(), wantTs/1e6)
			}
			if v := string(HeaderValue(r, kafka.HeaderWireVersion)); v != strconv.Itoa(wire.Version) {
				t.Fatalf("%v: wire version header %q", e, v)
			}
			if v := string(HeaderValue(r, kafka.HeaderRegion)); v != "korea" {
				t.Fatalf("%v: region header %q", e, v)
			}
			if v := string(HeaderValue(r, kafka.HeaderExchange)); v != e.ex.String() {
				t.Fatalf("%v: exchange header %q", e, v)
			}
			var h wire.Header
			wire.ReadHeader(r.Value, &h)
			if v := string(HeaderValue(r, kafka.HeaderGateway)); v != strconv.Itoa(int(h.GatewayID)) || (v != "1" && v != "2") {
				t.Fatalf("%v: gateway header %q, record says %d", e, v, h.GatewayID)
			}
		}
	}
}

// TestArchiveLineDropFilledByOtherLine: line A loses every 10th record (a ZMQ drop); the
// merger counts the gaps by gateway sequence and line B's copies fill them.
func TestArchiveLineDropFilledByOtherLine(t *testing.T) {
	_, seeds, _ := newKafka(t)
	testLineDrop(t, seeds, "ticks.")
}

// testLineDrop is TestArchiveLineDropFilledByOtherLine against any broker (kfake or real).
func testLineDrop(t *testing.T, seeds []string, prefix string) {
	lines, a, stop := startLines(t, koreaAB, seeds, prefix, Options{})
	evs := events(0, 300)
	dropped := 0
	for i, e := range evs {
		if i%10 == 5 {
			lines[0].skip()
			dropped++
		} else {
			lines[0].publish(trade(e, false))
		}
	}
	for _, e := range evs {
		lines[1].publish(trade(e, false))
	}
	testkit.Poll(t, 20*time.Second, "all records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(evs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, prefix+"korea"), evs, false)
	ls := a.Lines()
	if g := ls[0].Merge.SeqGaps[0]; g != uint64(dropped) {
		t.Errorf("line A gateway-sequence gaps = %d, want %d", g, dropped)
	}
}

// TestArchiveGatewayDownOtherLineCarries: gateway A dies halfway; B carries the rest.
func TestArchiveGatewayDownOtherLineCarries(t *testing.T) {
	_, seeds, _ := newKafka(t)
	testGatewayDown(t, seeds, "ticks.")
}

// testGatewayDown is TestArchiveGatewayDownOtherLineCarries against any broker.
func testGatewayDown(t *testing.T, seeds []string, prefix string) {
	lines, a, stop := startLines(t, koreaAB, seeds, prefix, Options{})
	evs := events(0, 400)
	half := len(evs) / 2
	for i, e := range evs {
		if i == half {
			lines[0].pub.Close() // gateway A is gone
		}
		if i < half {
			lines[0].publish(trade(e, false))
		}
		lines[1].publish(trade(e, false))
	}
	testkit.Poll(t, 20*time.Second, "all records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(evs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, prefix+"korea"), evs, false)
}

// TestArchiveUnroutableCountedNeverSent: an exchange without a partition is counted and
// goes nowhere.
func TestArchiveUnroutableCountedNeverSent(t *testing.T) {
	_, seeds, _ := newKafka(t)
	lines, a, stop := startLines(t, koreaA, seeds, "ticks.", Options{})
	lines[0].publish(trade(event{wire.Kraken, wire.KindTrade, "BTC-USD", 1}, false))
	evs := events(0, 5)
	for _, e := range evs {
		lines[0].publish(trade(e, false))
	}
	testkit.Poll(t, 10*time.Second, "records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(evs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := a.Stats.Unroutable.Load(); n != 1 {
		t.Errorf("Unroutable = %d, want 1", n)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), evs, true)
}

// TestArchiveKafkaOutageSpoolsAndDrains: with the brokers unreachable, records go to the
// spool with the alarm raised; when they are back the spool drains in order, exactly once.
func TestArchiveKafkaOutageSpoolsAndDrains(t *testing.T) {
	_, seeds, gate := newKafka(t)
	lines, a, stop := startLines(t, koreaAB, seeds, "ticks.", Options{AlarmAfter: 200 * time.Millisecond, SegmentBytes: 64 << 10})

	before := events(0, 200)
	for _, e := range before {
		lines[0].publish(trade(e, false))
		lines[1].publish(trade(e, false))
	}
	testkit.Poll(t, 20*time.Second, "first records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(before)) })

	gate.SetDown(true)
	during := events(200, 2000) // 6000 records, ~100 spool segments of 64 KiB
	for _, e := range during {
		lines[0].publish(trade(e, false))
		lines[1].publish(trade(e, false))
	}
	testkit.Poll(t, 20*time.Second, "records spooled with the alarm up", func() bool {
		return a.Stats.Accepted.Load() >= uint64(len(before)+len(during)) && a.Stats.Alarm.Load() &&
			a.Stats.SpoolBacklog.Load() > 0
	})
	if a.Stats.Alarms.Load() == 0 {
		t.Fatal("alarm counter not raised")
	}
	if p := a.Stats.Produced.Load(); p >= uint64(len(before)+len(during)) {
		t.Fatalf("produced %d records with the brokers down", p)
	}
	t.Logf("outage: backlog %d records, spool %d bytes, produced %d", a.Stats.SpoolBacklog.Load(), a.Stats.SpoolBytes.Load(), a.Stats.Produced.Load())

	gate.SetDown(false)
	all := append(before, during...)
	testkit.Poll(t, 60*time.Second, "spool drained", func() bool {
		return a.Stats.Produced.Load() >= uint64(len(all)) && a.Stats.SpoolBacklog.Load() == 0
	})
	testkit.Poll(t, 5*time.Second, "alarm cleared", func() bool { return !a.Stats.Alarm.Load() })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := a.Stats.Rejected.Load() + a.Stats.SpoolDropped.Load(); n != 0 {
		t.Errorf("rejected+spool-dropped = %d", n)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), all, true)
	// Acknowledged segments were deleted: at most the active one (and one being sealed) remain.
	if b := a.spool.Bytes(); b > 3*(64<<10) {
		t.Errorf("spool holds %d bytes after draining", b)
	}
}

// TestArchiveRestartSkipsWhatKafkaHas: a spool left by a run whose acknowledgements were
// lost (part of it is in Kafka) is produced without duplicates by the next run, and the
// arbiter, seeded from the tail, drops a retransmit of archived events.
func TestArchiveRestartSkipsWhatKafkaHas(t *testing.T) {
	_, seeds, _ := newKafka(t)
	dir := spoolDir(t)
	gws := []gw{{"gw-a", 1, "korea"}}

	// A previous run spooled 300 records and Kafka acknowledged the first 100 of them
	// (written here directly, as the archiver would have), but the spool was never trimmed.
	evs := events(0, 100)
	sp, _, err := openSpool(dir, 1<<26, 0, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := EnsureTopics(ctx, kadm.NewClient(cl), []TopicSpec{{"ticks.korea", 2}}, 1); err != nil {
		t.Fatal(err)
	}
	seq := map[int32]uint64{}
	var buf []byte
	for i, e := range evs {
		value, _ := wire.AppendRecord(nil, trade(e, false))
		wire.Stamp(value, 1, uint64(i+1), 1)
		p := int32(0)
		if e.ex == wire.OKX {
			p = 1
		}
		seq[p]++
		buf = appendEntry(buf[:0], seq[p], p, []byte("korea"), value)
		if err := sp.Write(buf, 1); err != nil {
			t.Fatal(err)
		}
		if i < 100 {
			r, err := NewRecord("ticks.korea", "korea", p, seq[p], value)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cl.Close()
	sp.Close()

	lines, eps := gatewayEndpoints(t, gws)
	a, stop := startArchiver(t, parseTopo(t, topoYAML(gws, seeds, dir, "ticks.")), Options{Endpoints: eps})
	lines[0].waitSubscribed(1)
	// A retransmit of everything already archived, then new events.
	for _, e := range evs {
		lines[0].publish(trade(e, false))
	}
	more := events(100, 50)
	for _, e := range more {
		lines[0].publish(trade(e, false))
	}
	want := append(append([]event(nil), evs...), more...)
	testkit.Poll(t, 20*time.Second, "records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(want)-100) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if s := a.Stats.Skipped.Load(); s != 100 {
		t.Errorf("skipped %d spool entries, want 100", s)
	}
	if d := a.Stats.Duplicates.Load(); d != uint64(len(evs)) {
		t.Errorf("retransmit: %d duplicates dropped, want %d", d, len(evs))
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, true)
}

// TestArchiverMetrics: the exposition carries the counters and the produce latency
// quantiles once records were acknowledged.
func TestArchiverMetrics(t *testing.T) {
	_, seeds, _ := newKafka(t)
	lines, a, stop := startLines(t, koreaA, seeds, "ticks.", Options{})
	evs := events(0, 50)
	for _, e := range evs {
		lines[0].publish(trade(e, false))
	}
	testkit.Poll(t, 10*time.Second, "records acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(evs)) })
	var b strings.Builder
	a.WriteMetrics(&b)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tickline_archiver_produced_total ", `tickline_archiver_produce_latency_microseconds{quantile="0.99"}`, "tickline_archiver_spool_alarm 0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// topicMinISR reads a topic's min.insync.replicas as the broker reports it.
func topicMinISR(t *testing.T, adm *kadm.Client, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == "min.insync.replicas" && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// TestEnsureTopicsDurability: on a 3-broker cluster, topics are created with the configured
// min.insync.replicas (read back from the broker); a replication factor of 1 is a warning
// (log and metric); min.insync.replicas above the replication factor, a replication factor
// above the brokers, and an existing topic whose min.insync.replicas its replicas cannot
// meet are errors naming the problem, and the archiver refuses to start on them.
func TestEnsureTopicsDurability(t *testing.T) {
	_, seeds, _ := newKafka(t, kfake.NumBrokers(3))
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rep, err := EnsureTopicsDurable(ctx, adm, []TopicSpec{{"t.rf3", 2}}, Durability{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := topicMinISR(t, adm, "t.rf3"); got != "2" {
		t.Errorf("created topic min.insync.replicas = %q, want 2", got)
	}
	if rep.Brokers != 3 || len(rep.Warnings) != 0 {
		t.Errorf("report %+v, want 3 brokers and no warning", rep)
	}
	// Existing and fine: checked, no warning.
	rep, err = EnsureTopicsDurable(ctx, adm, []TopicSpec{{"t.rf3", 2}}, Durability{3, 2})
	if err != nil || len(rep.Warnings) != 0 || len(rep.Topics) != 1 || rep.Topics[0].MinISR != 2 || rep.Topics[0].Replicas != 3 {
		t.Errorf("existing topic: %+v, %v", rep, err)
	}
	// The configuration asks for less than the topic has: warnings, no error.
	rep, err = EnsureTopicsDurable(ctx, adm, []TopicSpec{{"t.rf3", 2}}, Durability{1, 1})
	if err != nil || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "replication_factor 1 on a 3-broker cluster") {
		t.Errorf("rf 1 on 3 brokers: %+v, %v; want one warning", rep.Warnings, err)
	}

	for _, tt := range []struct {
		name string
		d    Durability
		want string
	}{
		{"min isr above rf", Durability{2, 3}, "min_insync_replicas 3 above replication_factor 2"},
		{"rf above brokers", Durability{4, 2}, "replication_factor 4 but the cluster has 3 brokers"},
	} {
		_, err := EnsureTopicsDurable(ctx, adm, []TopicSpec{{"t.never", 2}}, tt.d)
		if !errors.Is(err, ErrDurability) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrDurability %q", tt.name, err, tt.want)
		}
	}
	if d, _ := adm.ListTopics(ctx, "t.never"); d.Has("t.never") && d["t.never"].Err == nil {
		t.Error("a topic was created although the durability check failed")
	}

	// An existing topic with min.insync.replicas 3 on 2 replicas: no produce could succeed.
	if _, err := adm.CreateTopic(ctx, 2, 2, map[string]*string{"min.insync.replicas": kadm.StringPtr("3")}, "ticks.korea"); err != nil {
		t.Fatal(err)
	}
	_, err = EnsureTopicsDurable(ctx, adm, []TopicSpec{{"ticks.korea", 2}}, Durability{2, 1})
	if !errors.Is(err, ErrDurability) || !strings.Contains(err.Error(), `topic "ticks.korea" has min.insync.replicas 3 but 2 replicas`) {
		t.Fatalf("unsatisfiable existing topic: err = %v", err)
	}
	topo := parseTopo(t, topoYAML([]gw{{"gw-a", 1, "korea"}}, seeds, spoolDir(t), "ticks."))
	a, err := New(topo, Options{}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); !errors.Is(err, ErrDurability) {
		t.Fatalf("Run on an unsatisfiable topic: err = %v, want ErrDurability", err)
	}

	// replication_factor 1 on 3 brokers: the archiver starts, warns, and says so in /metrics.
	topo = parseTopo(t, topoYAML([]gw{{"gw-a", 1, "global"}}, seeds, spoolDir(t), "ticks."))
	a, stop := startArchiver(t, topo, Options{})
	var b strings.Builder
	a.WriteMetrics(&b)
	for _, want := range []string{"tickline_archiver_durability_warnings 1\n", "tickline_archiver_kafka_brokers 3\n",
		`tickline_archiver_topic_min_insync_replicas{topic="ticks.global"} 1`, `tickline_archiver_topic_replicas{topic="ticks.global"} 1`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
