package archiver

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/archiver/kafkatest"
)

// TestIntegrationArchiveOutageRestart runs against the real Kafka of KAFKA_SEEDS (skipped
// when unset): two lines archived exactly once; then the brokers become unreachable (a
// dialer gate), records spool with the alarm up, the archiver is stopped while the
// brokers are still unreachable and restarted, and the spool drains exactly once, in order.
func TestIntegrationArchiveOutageRestart(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-it") + "."
	topic := prefix + "korea"
	gws := []gw{{"gw-a", 1, "korea"}, {"gw-b", 2, "korea"}}
	lines, eps := gatewayEndpoints(t, gws)
	dir := spoolDir(t)
	topo := parseTopo(t, topoYAML(gws, seeds, dir, prefix))
	topo.Archiver.ReplicationFactor = kafkatest.ReplicationFactor(t)
	kafkatest.CreateTopic(t, topic, 2, topo.Archiver.ReplicationFactor, topicConfigs) // deleted at cleanup
	g := newGate()
	opts := Options{Endpoints: eps, AlarmAfter: 300 * time.Millisecond, KafkaOpts: []kgo.Opt{kgo.Dialer(g.dial)}}

	a, stop := startArchiver(t, topo, opts)
	lines[0].waitSubscribed(1)
	lines[1].waitSubscribed(1)
	both := func(evs []event) {
		for _, e := range evs {
			lines[0].publish(trade(e, false))
			lines[1].publish(trade(e, false))
		}
	}
	first := events(0, 1000)
	both(first)
	waitFor(t, 60*time.Second, "first batch acknowledged", func() bool { return a.Stats.Produced.Load() >= uint64(len(first)) })

	g.SetDown(true)
	second := events(1000, 1000)
	both(second)
	waitFor(t, 60*time.Second, "spooled with the alarm up", func() bool {
		return a.Stats.Accepted.Load() >= uint64(len(first)+len(second)) && a.Stats.Alarm.Load()
	})
	if err := stop(); err != nil { // stopped while unreachable: the spool keeps the rest
		t.Fatal(err)
	}
	g.SetDown(false)
	a2, stop2 := startArchiver(t, topo, opts)
	for _, l := range lines {
		waitFor(t, 20*time.Second, "resubscribed", func() bool {
			st := l.pub.Stats()
			return len(st) == 1 && len(st[0].Subscriptions) == 1
		})
	}
	third := events(2000, 200)
	both(third)
	want := append(append(append([]event(nil), first...), second...), third...)
	waitFor(t, 120*time.Second, "everything in Kafka", func() bool { return endOffsets(t, seeds, topic) >= int64(len(want)) })
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: skipped %d, produced %d", a2.Stats.Skipped.Load(), a2.Stats.Produced.Load())
	checkExactlyOnce(t, consumeAll(t, seeds, topic), want, true)
}
