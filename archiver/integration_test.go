package archiver

import (
	"context"
	"maps"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
)

// TestIntegrationArchiveOutageRestart runs against the real Kafka of KAFKA_SEEDS (skipped
// when unset): two lines archived exactly once; then the brokers become unreachable (a
// dialer gate), records spool with the alarm up, the archiver is stopped while the
// brokers are still unreachable and restarted, and the spool drains exactly once, in order.
func TestIntegrationArchiveOutageRestart(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-it") + "."
	topic := prefix + "korea"
	gws := koreaAB
	lines, eps := gatewayEndpoints(t, gws)
	dir := spoolDir(t)
	topo := parseTopo(t, topoYAML(gws, seeds, dir, prefix))
	topo.Archiver.ReplicationFactor = kafkatest.ReplicationFactor(t)
	kafkatest.CreateTopic(t, topic, 2, topo.Archiver.ReplicationFactor, topicConfigs) // deleted at cleanup
	g := newGate()
	opts := Options{Endpoints: eps, AlarmAfter: 300 * time.Millisecond, KafkaOpts: []kgo.Opt{kgo.Dialer(g.dial)}}

	a, stop := startSubscribed(t, topo, opts, lines...)
	both := func(evs []event) {
		for _, e := range evs {
			lines[0].publish(trade(e, false))
			lines[1].publish(trade(e, false))
		}
	}
	first := events(0, 1000)
	both(first)
	testkit.Poll(t, 60*time.Second, "first batch acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(first)) })

	g.SetDown(true)
	second := events(1000, 1000)
	both(second)
	testkit.Poll(t, 60*time.Second, "spooled with the alarm up", func() bool {
		return a.Stats.Accepted.Load() >= uint64(len(first)+len(second)) && a.Stats.Alarm.Load()
	})
	if err := stop(); err != nil { // stopped while unreachable: the spool keeps the rest
		t.Fatal(err)
	}
	g.SetDown(false)
	a2, stop2 := startArchiver(t, topo, opts)
	for _, l := range lines {
		testkit.Poll(t, 20*time.Second, "resubscribed", func() bool {
			st := l.pub.Stats()
			return len(st) == 1 && len(st[0].Subscriptions) == 1
		})
	}
	third := events(2000, 200)
	both(third)
	want := append(append(append([]event(nil), first...), second...), third...)
	testkit.Poll(t, 120*time.Second, "everything in Kafka", func() bool { return endOffsets(t, seeds, topic) >= int64(len(want)) })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: skipped %d, produced %d", a2.Stats.Skipped.Load(), a2.Stats.Produced.Load())
	checkExactlyOnce(t, consumeAll(t, seeds, topic), want, true)
}

// TestIntegrationArchiveLineDrop: loss scenario (c) against the real broker — a ZMQ drop on
// one line is filled from the other line, every event exactly once.
func TestIntegrationArchiveLineDrop(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-drop") + "."
	kafkatest.CreateTopic(t, prefix+"korea", 2, kafkatest.ReplicationFactor(t), topicConfigs)
	testLineDrop(t, seeds, prefix)
}

// TestIntegrationArchiveGatewayDown: loss scenario (d) against the real broker — one
// gateway dies, the other line carries on, every event exactly once.
func TestIntegrationArchiveGatewayDown(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-down") + "."
	kafkatest.CreateTopic(t, prefix+"korea", 2, kafkatest.ReplicationFactor(t), topicConfigs)
	testGatewayDown(t, seeds, prefix)
}

// TestIntegrationKafkaFaultArchiverLeaderKill runs the archiver against a real 3-broker
// cluster (kafka.sh start cluster, KAFKA_FAULT=1): two lines stream into a topic with RF=3
// and min.insync.replicas=2; mid-stream the leader of partition 0 is SIGKILLed, a new
// leader takes over, the killed broker restarts and rejoins the ISR, all while the stream
// goes on; then every exchange event is in the topic exactly once, in per-partition order.
func TestIntegrationKafkaFaultArchiverLeaderKill(t *testing.T) {
	c := kafkatest.NewCluster(t, 3)
	prefix := kafkatest.TopicName("tickline-fault") + "."
	topic := prefix + "korea"
	gws := koreaAB
	lines, eps := gatewayEndpoints(t, gws)
	topo := parseTopo(t, topoYAML(gws, c.Seeds, spoolDir(t), prefix))
	topo.Archiver.ReplicationFactor = 3
	cfgs := maps.Clone(topicConfigs)
	cfgs["min.insync.replicas"] = kadm.StringPtr("2")
	kafkatest.CreateTopic(t, topic, 2, 3, cfgs) // the archiver finds it; deleted at cleanup
	a, stop := startSubscribed(t, topo, Options{Endpoints: eps}, lines...)

	// The stream runs on its own goroutine (the test goroutine kills and restarts the
	// broker): one event per stream every 2 ms, on both lines.
	var published atomic.Uint64
	stopStream, streamErr := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for n := uint64(0); ; n++ {
			select {
			case <-stopStream:
				streamErr <- nil
				return
			case <-tick.C:
			}
			for _, e := range events(n, 1) {
				for _, l := range lines {
					if err := l.send(trade(e, false)); err != nil {
						streamErr <- err
						return
					}
				}
			}
			published.Store(n + 1)
		}
	}()
	start := time.Now()
	elapsed := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	testkit.Poll(t, 60*time.Second, "stream flowing into Kafka", func() bool { return a.Stats.Produced.Load() >= 1500 })

	leader := c.Leader(topic, 0)
	end0 := partitionEnd(t, c.Seeds, topic, 0)
	t.Logf("%v: partition 0 leader %d, isr %v, end offset %d", elapsed(), leader, c.ISR(topic, 0), end0)
	c.KillBroker(int(leader))
	t.Logf("%v: SIGKILLed broker %d (spool backlog %d)", elapsed(), leader, a.Stats.SpoolBacklog.Load())
	newLeader := c.WaitNewLeader(topic, 0, leader, 90*time.Second)
	t.Logf("%v: new leader %d, isr %v", elapsed(), newLeader, c.ISR(topic, 0))
	testkit.Poll(t, 90*time.Second, "partition 0 written through the new leader", func() bool {
		return partitionEnd(t, c.Seeds, topic, 0) >= end0+1000
	})
	t.Logf("%v: partition 0 written through the new leader (end offset %d, spool backlog %d, alarms %d)", elapsed(),
		partitionEnd(t, c.Seeds, topic, 0), a.Stats.SpoolBacklog.Load(), a.Stats.Alarms.Load())
	c.RestartBroker(int(leader))
	t.Logf("%v: broker %d restarted", elapsed(), leader)
	c.WaitInISR(topic, 0, leader, 120*time.Second)
	t.Logf("%v: broker %d back in the ISR %v", elapsed(), leader, c.ISR(topic, 0))

	close(stopStream)
	if err := <-streamErr; err != nil {
		t.Fatalf("stream: %v", err)
	}
	want := events(0, published.Load())
	testkit.Poll(t, 120*time.Second, "every record in Kafka", func() bool { return endOffsets(t, c.Seeds, topic) >= int64(len(want)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: %d events, %d records acknowledged; rejected %d, spool dropped %d, alarms %d", elapsed(), len(want),
		a.Stats.Produced.Load(), a.Stats.Rejected.Load(), a.Stats.SpoolDropped.Load(), a.Stats.Alarms.Load())
	if n := a.Stats.Rejected.Load() + a.Stats.SpoolDropped.Load(); n != 0 {
		t.Errorf("rejected+spool-dropped = %d", n)
	}
	checkExactlyOnce(t, consumeAll(t, c.Seeds, topic), want, true)
}

// partitionEnd returns the end offset of one partition (-1 while it cannot be listed, e.g.
// without a leader).
func partitionEnd(t testing.TB, seeds []string, topic string, p int32) int64 {
	t.Helper()
	ends, ok := listEnds(t, seeds, topic)
	if !ok {
		return -1
	}
	o, ok := ends.Lookup(topic, p)
	if !ok || o.Err != nil {
		return -1
	}
	return o.Offset
}

// TestIntegrationArchiveBackfill: TestArchiveBackfillOnStart on the real cluster, with the
// topic created by the archiver itself at replication factor KAFKA_RF: the broker reports
// the min.insync.replicas the archiver set (RF-1, at least 1).
func TestIntegrationArchiveBackfill(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	rf := kafkatest.ReplicationFactor(t)
	prefix := kafkatest.TopicName("tickline-backfill") + "."
	adm := kadm.NewClient(kafkatest.NewClient(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, prefix+"korea"); err != nil {
			t.Logf("delete topic: %v", err)
		}
	})
	testBackfill(t, seeds, prefix, rf)
	if got, want := topicMinISR(t, adm, prefix+"korea"), strconv.Itoa(int(max(rf-1, 1))); got != want {
		t.Errorf("topic created with min.insync.replicas %q, want %s", got, want)
	}
}
