package kafkatest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestScriptFound runs everywhere: the helpers must find kafka.sh from a package directory.
func TestScriptFound(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repo root %s has no go.mod: %v", root, err)
	}
	s, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s)
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("kafka.sh at %s missing or not executable (%v)", s, err)
	}
}

// TestScriptClusterIDs runs everywhere: every cluster id kafka.sh makes must be one the storage
// tool takes. A base64url id starting with '-' (one in 64 draws) reads as an option to its
// argument parser, and a CI cluster start once failed on it ("argument --cluster-id/-t: expected
// one argument"). 500 draws leave such a regression unseen with probability (63/64)^500 < 0.1%.
func TestScriptClusterIDs(t *testing.T) {
	s, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	out, err := exec.Command(s, "cluster-id", strconv.Itoa(n)).Output()
	if err != nil {
		t.Fatalf("kafka.sh cluster-id %d: %v", n, err)
	}
	ids := strings.Fields(string(out))
	if len(ids) != n {
		t.Fatalf("kafka.sh cluster-id %d printed %d ids", n, len(ids))
	}
	valid := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{21}$`)
	seen := make(map[string]bool, n)
	for _, id := range ids {
		if !valid.MatchString(id) {
			t.Errorf("cluster id %q is not 22 base64url chars starting with a letter, digit or '_'", id)
		}
		if id == "AAAAAAAAAAAAAAAAAAAAAA" || id == "AAAAAAAAAAAAAAAAAAAAAQ" {
			t.Errorf("cluster id %q is one of Kafka's reserved ids", id)
		}
		if seen[id] {
			t.Errorf("cluster id %q drawn twice", id)
		}
		seen[id] = true
	}
}

// produceSeq produces values 0..n-1 to topic, record i to partition i%partitions, with
// acks=all and idempotence (franz-go's default), and returns once all are acknowledged.
func produceSeq(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, n, partitions int, every func(i int)) {
	t.Helper()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < n; i++ {
		if every != nil {
			every(i)
		}
		r := &kgo.Record{
			Topic:     topic,
			Partition: int32(i % partitions),
			Key:       []byte("k" + strconv.Itoa(i)),
			Value:     []byte(strconv.Itoa(i)),
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeCheck reads every partition of topic from the start until n records arrived and
// checks that each partition holds exactly its share of 0..n-1, in order, at offsets 0,1,2...
func consumeCheck(t *testing.T, topic string, n, partitions int) {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		offs[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl := NewClient(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(500*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	next := make([]int, partitions)    // next expected value per partition
	count := make([]int64, partitions) // next expected offset per partition
	for p := range next {
		next[p] = p
	}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d/%d records before timeout", got, n)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			p := int(r.Partition)
			v, err := strconv.Atoi(string(r.Value))
			if err != nil {
				t.Fatalf("p%d offset %d: value %q", p, r.Offset, r.Value)
			}
			if v != next[p] || r.Offset != count[p] {
				t.Fatalf("p%d: got value %d at offset %d, want value %d at offset %d (lost, duplicated or reordered)",
					p, v, r.Offset, next[p], count[p])
			}
			if string(r.Key) != "k"+strconv.Itoa(v) {
				t.Fatalf("p%d offset %d: key %q for value %d", p, r.Offset, r.Key, v)
			}
			next[p] += partitions
			count[p]++
			got++
		})
	}
	for p := 0; p < partitions; p++ {
		want := int64((n - p + partitions - 1) / partitions)
		if count[p] != want {
			t.Errorf("partition %d: %d records, want %d", p, count[p], want)
		}
	}
}

// TestIntegrationKafkaBroker: a 3-partition topic (RF from KAFKA_RF), 1000 records with acks=all
// and idempotence, read back complete and in order per partition.
func TestIntegrationKafkaBroker(t *testing.T) {
	seeds := Seeds(t)
	rf := ReplicationFactor(t)
	const n, partitions = 1000, 3
	topic := TopicName("kafkatest-broker")
	CreateTopic(t, topic, partitions, rf, nil)
	t.Logf("seeds %v, topic %s partitions=%d rf=%d", seeds, topic, partitions, rf)

	prod := NewClient(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	produceSeq(ctx, t, prod, topic, n, partitions, nil)
	t.Logf("produced %d records in %v", n, time.Since(start))

	ends, err := kadm.NewClient(prod).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v / %v", err, ends.Error())
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != n {
		t.Fatalf("end offsets sum to %d, want %d", total, n)
	}
	consumeCheck(t, topic, n, partitions)
}

// TestIntegrationKafkaFaultLeaderKill: on a 3-node kafka.sh cluster (KAFKA_FAULT=1), SIGKILL
// the leader of partition 0 while producing, wait for a new leader, restart the node, wait
// until it rejoins the ISR, and check nothing was lost, duplicated or reordered.
func TestIntegrationKafkaFaultLeaderKill(t *testing.T) {
	c := NewCluster(t, 3)
	const n, partitions = 3000, 3
	topic := TopicName("kafkatest-fault")
	CreateTopic(t, topic, partitions, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")})
	leader := c.Leader(topic, 0)
	if sl := c.ScriptLeader(topic, 0); sl != leader {
		t.Fatalf("kafka.sh leader says %d, metadata says %d", sl, leader)
	}
	t.Logf("topic %s partition 0 leader %d isr %v (kafka.sh isr %v); active controller %d",
		topic, leader, c.ISR(topic, 0), c.ScriptISR(topic, 0), c.ScriptController())

	prod := NewClient(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(2*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var newLeader int32
	start := time.Now()
	produceSeq(ctx, t, prod, topic, n, partitions, func(i int) {
		if i%100 == 0 {
			time.Sleep(50 * time.Millisecond) // spread the stream over ~1.5 s
		}
		if i == n/3 {
			c.KillBroker(int(leader))
			t.Logf("%v: SIGKILLed leader %d after %d records", time.Since(start).Round(time.Millisecond), leader, i)
			newLeader = c.WaitNewLeader(topic, 0, leader, 60*time.Second)
			t.Logf("%v: new leader %d, isr %v", time.Since(start).Round(time.Millisecond), newLeader, c.ISR(topic, 0))
		}
		if i == 2*n/3 {
			c.RestartBroker(int(leader))
			t.Logf("%v: node %d restarted", time.Since(start).Round(time.Millisecond), leader)
		}
	})
	t.Logf("%v: all %d records acknowledged", time.Since(start).Round(time.Millisecond), n)
	c.WaitInISR(topic, 0, leader, 90*time.Second)
	t.Logf("%v: node %d back in ISR %v", time.Since(start).Round(time.Millisecond), leader, c.ISR(topic, 0))
	consumeCheck(t, topic, n, partitions)
}
