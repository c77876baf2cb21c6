// Package kafkatest starts Kafka for tests: [NewFake], franz-go's in-process kfake (one
// broker unless told otherwise), for every test that does not need a real broker; and the
// real Apache Kafka started by scripts/kafka/kafka.sh (KRaft, loopback, jars from Maven
// Central) for the integration tests. Only _test.go files import it.
//
// Tests find the brokers through KAFKA_SEEDS (as printed by `kafka.sh start`) and skip when it
// is unset, so `go test ./...` passes on a machine without Kafka:
//
//	eval "$(scripts/kafka/kafka.sh start cluster)"   # sets KAFKA_SEEDS=127.0.0.1:19092,...
//	KAFKA_SEEDS=$KAFKA_SEEDS KAFKA_RF=3 go test ./archiver/...
//	scripts/kafka/kafka.sh stop
//
// Fault tests use [Cluster], whose methods shell out to kafka.sh (kill-broker, restart-broker;
// leader and isr too through ScriptLeader/ScriptISR, while Leader/ISR read cluster metadata with
// kadm, which is much cheaper to poll than a JVM per call). They need a cluster started by kafka.sh from the run dir that kafka.sh resolves
// (KAFKA_RUN_DIR, default ${TMPDIR:-/tmp}/tickline-kafka) and KAFKA_FAULT=1, because killing a
// node disturbs every other test using the same cluster: run fault tests in a step of their own
// (go test -p 1 -run KafkaFault ...).
package kafkatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables read by this package.
const (
	EnvSeeds  = "KAFKA_SEEDS"   // comma-separated host:port bootstrap list
	EnvRF     = "KAFKA_RF"      // replication factor for test topics (default 1)
	EnvFault  = "KAFKA_FAULT"   // "1" enables tests that kill and restart nodes
	EnvRunDir = "KAFKA_RUN_DIR" // kafka.sh run dir (optional; kafka.sh has a default)
	EnvScript = "TICKLINE_KAFKA_SH"
)

// NewFake starts an in-process kfake cluster of one broker (opts may say otherwise: later
// options win) and closes it at cleanup. Its seeds are c.ListenAddrs().
func NewFake(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// scriptRel is kafka.sh's path relative to the repository root.
const scriptRel = "scripts/kafka/kafka.sh"

// Seeds returns the bootstrap brokers from KAFKA_SEEDS, skipping the test when it is unset.
func Seeds(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvSeeds))
	if v == "" {
		t.Skipf("%s not set: start Kafka with `scripts/kafka/kafka.sh start single|cluster` and export the KAFKA_SEEDS it prints", EnvSeeds)
	}
	var seeds []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		t.Fatalf("%s=%q holds no host:port", EnvSeeds, v)
	}
	return seeds
}

// ReplicationFactor returns KAFKA_RF (default 1) for topics that tests create.
func ReplicationFactor(t testing.TB) int16 {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvRF))
	if v == "" {
		return 1
	}
	n, err := strconv.ParseInt(v, 10, 16)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", EnvRF, v)
	}
	return int16(n)
}

var topicSeq atomic.Int64

// TopicName returns a topic name unique to this test run: prefix-<pid>-<nanos>-<seq>.
func TopicName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9, topicSeq.Add(1))
}

// NewClient returns a franz-go client on Seeds(t) with opts appended; it is closed at cleanup.
func NewClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(Seeds(t)...)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates topic with the given partitions and replication factor (configs may be
// nil), waits until every partition has a leader, and deletes the topic at cleanup.
func CreateTopic(t testing.TB, topic string, partitions int32, rf int16, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(NewClient(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, partitions, rf, configs, topic); err != nil {
		t.Fatalf("create topic %s (partitions=%d rf=%d): %v", topic, partitions, rf, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	for {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			td, ok := md.Topics[topic]
			ready := ok && td.Err == nil && int32(len(td.Partitions)) == partitions
			if ready {
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 || len(p.ISR) < int(rf) {
						ready = false
					}
				}
			}
			if ready {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s: partitions not all led with full ISR after 60s (last err %v)", topic, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// RepoRoot walks up from the working directory (a test's package dir) to the directory that
// holds scripts/kafka/kafka.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, scriptRel)); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kafkatest: " + scriptRel + " not found in any parent of the working directory")
		}
		dir = parent
	}
}

// Script returns the path of kafka.sh: $TICKLINE_KAFKA_SH, else <repo root>/scripts/kafka/kafka.sh.
func Script() (string, error) {
	if s := os.Getenv(EnvScript); s != "" {
		return s, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, scriptRel), nil
}

// Cluster drives the nodes of a kafka.sh cluster for fault tests. Node ids are 1-based and are
// also the Kafka broker ids. Its methods call t.Fatal on failure, so call them from the test
// goroutine only.
type Cluster struct {
	t       testing.TB
	Script  string        // path of kafka.sh
	Dir     string        // run dir passed as --dir ("" = kafka.sh's default / KAFKA_RUN_DIR)
	Seeds   []string      // bootstrap list from KAFKA_SEEDS
	Timeout time.Duration // bound on one kafka.sh call (default 3 min)

	adm *kadm.Client // metadata client for Leader/ISR, made on first use
}

// NewCluster returns the kafka.sh cluster named by KAFKA_SEEDS. Without KAFKA_FAULT=1 it
// skips the test (fault tests run in a step of their own). With KAFKA_FAULT=1 the caller has
// asked for fault tests, so a cluster that is not what they need fails the test instead of
// skipping it — KAFKA_SEEDS unset, fewer than minNodes brokers, or no kafka.sh run dir whose
// bootstrap list matches KAFKA_SEEDS (so a fault test never kills a broker it did not
// start): a CI step that meant to kill brokers must not pass having killed none.
func NewCluster(t testing.TB, minNodes int) *Cluster {
	t.Helper()
	if os.Getenv(EnvFault) != "1" {
		t.Skipf("%s!=1: fault tests kill and restart brokers; run them alone with %s=1 (go test -p 1 -run KafkaFault)", EnvFault, EnvFault)
	}
	if strings.TrimSpace(os.Getenv(EnvSeeds)) == "" {
		t.Fatalf("%s=1 but %s is not set: start the cluster with `scripts/kafka/with-kafka.sh cluster -- ...`", EnvFault, EnvSeeds)
	}
	seeds := Seeds(t)
	if len(seeds) < minNodes {
		t.Fatalf("%s=1: needs a %d-node cluster (kafka.sh start cluster); %s names %d", EnvFault, minNodes, EnvSeeds, len(seeds))
	}
	script, err := Script()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Script: script, Dir: os.Getenv(EnvRunDir), Seeds: seeds, Timeout: 3 * time.Minute}
	out, err := c.run("seeds")
	if err != nil {
		t.Fatalf("%s=1 and %s is set, but kafka.sh has no cluster state (%v): fault tests need a cluster started by kafka.sh", EnvFault, EnvSeeds, err)
	}
	if got := strings.TrimSpace(out); got != strings.Join(seeds, ",") {
		t.Fatalf("%s=1: kafka.sh run dir serves %q, but %s=%q: not the cluster kafka.sh started", EnvFault, got, EnvSeeds, strings.Join(seeds, ","))
	}
	return c
}

// run executes kafka.sh with args (plus --dir when Dir is set) and returns its stdout.
func (c *Cluster) run(args ...string) (string, error) {
	if c.Dir != "" {
		args = append(args, "--dir", c.Dir)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.Script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("kafka.sh %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (c *Cluster) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// KillBroker SIGKILLs node n (no clean shutdown) and returns once the process is gone.
func (c *Cluster) KillBroker(n int) {
	c.t.Helper()
	c.must("kill-broker", strconv.Itoa(n))
}

// RestartBroker starts node n again (stopping it first if it runs) and returns once it has
// caught up with the metadata log and serves clients. It does not wait for ISR membership:
// use WaitInISR for that.
func (c *Cluster) RestartBroker(n int) {
	c.t.Helper()
	c.must("restart-broker", strconv.Itoa(n))
}

// Leader returns the broker id leading topic/partition (-1 while it has none), from cluster
// metadata via kadm: cheap enough to poll. ScriptLeader asks kafka.sh instead.
func (c *Cluster) Leader(topic string, partition int32) int32 {
	c.t.Helper()
	p := c.partition(topic, partition)
	if p.Err != nil {
		return -1
	}
	return p.Leader
}

// ISR returns the in-sync replica ids of topic/partition, from cluster metadata via kadm.
func (c *Cluster) ISR(topic string, partition int32) []int32 {
	c.t.Helper()
	return c.partition(topic, partition).ISR
}

func (c *Cluster) partition(topic string, partition int32) kadm.PartitionDetail {
	c.t.Helper()
	if c.adm == nil {
		c.adm = kadm.NewClient(NewClient(c.t))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := c.adm.Metadata(ctx, topic)
	if err != nil {
		c.t.Fatalf("metadata %s: %v", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		c.t.Fatalf("metadata %s: topic missing (%v)", topic, td.Err)
	}
	p, ok := td.Partitions[partition]
	if !ok {
		c.t.Fatalf("metadata %s: no partition %d", topic, partition)
	}
	return p
}

// ScriptLeader is Leader through `kafka.sh leader` (Kafka's own TopicCommand; starts a JVM,
// about 1 s of CPU per call, so don't poll it in a tight loop on a 2-core machine).
func (c *Cluster) ScriptLeader(topic string, partition int32) int32 {
	c.t.Helper()
	out := c.must("leader", topic, strconv.Itoa(int(partition)))
	id, err := strconv.ParseInt(out, 10, 32)
	if err != nil {
		if out == "none" || out == "" {
			return -1
		}
		c.t.Fatalf("kafka.sh leader %s %d printed %q", topic, partition, out)
	}
	return int32(id)
}

// ScriptISR is ISR through `kafka.sh isr` (a JVM per call, like ScriptLeader).
func (c *Cluster) ScriptISR(topic string, partition int32) []int32 {
	c.t.Helper()
	out := c.must("isr", topic, strconv.Itoa(int(partition)))
	var ids []int32
	for _, f := range strings.Split(out, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			c.t.Fatalf("kafka.sh isr %s %d printed %q", topic, partition, out)
		}
		ids = append(ids, int32(id))
	}
	return ids
}

// WaitNewLeader polls until topic/partition is led by a broker other than old, and returns it.
func (c *Cluster) WaitNewLeader(topic string, partition int32, old int32, timeout time.Duration) int32 {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if l := c.Leader(topic, partition); l >= 0 && l != old {
			return l
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s/%d: no leader other than %d after %v", topic, partition, old, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// WaitInISR polls until broker id is in the ISR of topic/partition.
func (c *Cluster) WaitInISR(topic string, partition int32, id int32, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range c.ISR(topic, partition) {
			if r == id {
				return
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s/%d: broker %d not back in the ISR after %v", topic, partition, id, timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ScriptController returns the node id of the active KRaft controller (`kafka.sh controller`,
// one JVM per call). Killing the controller node costs a controller election on top of the
// broker fencing, so failover takes longer than when another node dies.
func (c *Cluster) ScriptController() int32 {
	c.t.Helper()
	out := c.must("controller")
	id, err := strconv.ParseInt(out, 10, 32)
	if err != nil {
		c.t.Fatalf("kafka.sh controller printed %q", out)
	}
	return int32(id)
}
