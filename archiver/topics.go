package archiver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrPartitionMismatch: an existing topic's partition count is not the one the partition
// map needs. The archiver refuses to start rather than write an exchange to a partition
// another reader does not expect.
var ErrPartitionMismatch = errors.New("archiver: topic partition count does not match the partition map")

// TopicSpec is a topic the archiver writes, with the partition count the map needs.
type TopicSpec struct {
	Topic      string
	Partitions int32
}

// topicConfigs are set on the topics the archiver creates. An archive keeps everything:
// Kafka's default retention (7 days by record timestamp) would delete replays of old data,
// and records archived during a long outage, as soon as they land. Operators may change
// it on the topic afterwards; the archiver never alters existing topics.
var topicConfigs = map[string]*string{"retention.ms": kadm.StringPtr("-1")}

// ErrDurability: the replication the configuration asks for cannot be had: min.insync.replicas
// above the replication factor, a replication factor above the cluster's brokers, or an
// existing topic whose min.insync.replicas exceeds its own replicas or the brokers (every
// produce with acks=all would fail with NOT_ENOUGH_REPLICAS). The archiver refuses to start.
var ErrDurability = errors.New("archiver: topic replication cannot satisfy min.insync.replicas")

// Durability is what the archiver asks of its topics: the replication factor of the topics
// it creates and the min.insync.replicas they get (archiver.replication_factor,
// archiver.min_insync_replicas resolved by config.Archiver.MinISR).
type Durability struct {
	ReplicationFactor int16
	MinInsyncReplicas int16
}

// TopicState is what EnsureTopicsDurable found (or made) of one topic.
type TopicState struct {
	Topic    string
	Replicas int  // replicas of its partitions (the fewest, when they differ)
	MinISR   int  // its min.insync.replicas
	Created  bool // created by this call
}

// TopicsReport is the outcome of EnsureTopicsDurable that is not an error: the cluster's
// broker count, each topic's replication, and warnings (weaker durability than the cluster
// or the configuration could give), which the archiver logs and exports.
type TopicsReport struct {
	Brokers  int
	Topics   []TopicState
	Warnings []string
}

// recommendedRF is the replication factor below which a cluster that has the brokers for it
// is under-used: 3 survives one broker lost with min.insync.replicas 2.
const recommendedRF = 3

// EnsureTopics is EnsureTopicsDurable with replication factor rf and its default
// min.insync.replicas (rf-1, at least 1), for tools and tests that need only the topics.
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs []TopicSpec, rf int16) error {
	_, err := EnsureTopicsDurable(ctx, adm, specs, Durability{ReplicationFactor: rf, MinInsyncReplicas: max(rf-1, 1)})
	return err
}

// EnsureTopicsDurable creates the missing topics with their partition count, d's replication
// factor, min.insync.replicas=d.MinInsyncReplicas and unlimited retention (retention.ms=-1),
// and checks every existing topic: exactly the partitions its spec needs
// (ErrPartitionMismatch otherwise), and a min.insync.replicas its replicas and the cluster
// can satisfy (ErrDurability otherwise). d itself must be satisfiable: min.insync.replicas
// at most the replication factor, the replication factor at most the cluster's brokers
// (ErrDurability). Errors name the topic; nothing is changed then. Weaker durability than
// possible — a replication factor below min(brokers, 3), an existing topic with fewer
// replicas or a lower min.insync.replicas than d — is reported in TopicsReport.Warnings.
// It waits (bounded by ctx) until created topics report all their partitions.
func EnsureTopicsDurable(ctx context.Context, adm *kadm.Client, specs []TopicSpec, d Durability) (TopicsReport, error) {
	var rep TopicsReport
	rf, minISR := d.ReplicationFactor, d.MinInsyncReplicas
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Topic
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return rep, fmt.Errorf("listing brokers: %w", err)
	}
	rep.Brokers = len(meta.Brokers)
	if rep.Brokers == 0 {
		return rep, errors.New("listing brokers: the cluster listed none (not ready)") // retried by the caller
	}
	switch {
	case minISR > rf:
		return rep, fmt.Errorf("%w: min_insync_replicas %d above replication_factor %d", ErrDurability, minISR, rf)
	case int(rf) > rep.Brokers:
		return rep, fmt.Errorf("%w: replication_factor %d but the cluster has %d brokers", ErrDurability, rf, rep.Brokers)
	case int(rf) < min(rep.Brokers, recommendedRF):
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("replication_factor %d on a %d-broker cluster: a topic the archiver creates survives the loss of %d broker(s) only; use %d",
			rf, rep.Brokers, rf-1, min(rep.Brokers, recommendedRF)))
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return rep, fmt.Errorf("listing topics %v: %w", names, err)
	}
	var missing []TopicSpec
	var existing []string
	for _, s := range specs {
		td, ok := details[s.Topic]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, s)
		case td.Err != nil:
			return rep, fmt.Errorf("topic %q: %w", s.Topic, td.Err)
		case int32(len(td.Partitions)) != s.Partitions:
			return rep, fmt.Errorf("%w: topic %q has %d partitions, archiver.partitions needs %d",
				ErrPartitionMismatch, s.Topic, len(td.Partitions), s.Partitions)
		default:
			existing = append(existing, s.Topic)
		}
	}
	if len(existing) > 0 {
		if err := checkExisting(ctx, adm, details, existing, d, &rep); err != nil {
			return rep, err
		}
	}
	cfg := maps.Clone(topicConfigs)
	cfg["min.insync.replicas"] = kadm.StringPtr(strconv.Itoa(int(minISR)))
	for _, s := range missing {
		_, err := adm.CreateTopic(ctx, s.Partitions, rf, cfg, s.Topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return rep, fmt.Errorf("creating topic %q (%d partitions, replication factor %d, min.insync.replicas %d): %w", s.Topic, s.Partitions, rf, minISR, err)
		}
		rep.Topics = append(rep.Topics, TopicState{Topic: s.Topic, Replicas: int(rf), MinISR: int(minISR), Created: true})
	}
	if len(missing) == 0 {
		return rep, nil
	}
	return rep, waitCreated(ctx, adm, names, missing)
}

// checkExisting reads the durability of the existing topics into rep: an error when it
// cannot hold (min.insync.replicas above the replicas or the brokers, ErrDurability), a
// warning when it is weaker than d.
func checkExisting(ctx context.Context, adm *kadm.Client, details kadm.TopicDetails, existing []string, d Durability, rep *TopicsReport) error {
	rf, minISR := d.ReplicationFactor, d.MinInsyncReplicas
	configs, err := adm.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return fmt.Errorf("describing topic configs %v: %w", existing, err)
	}
	for _, topic := range existing {
		st := TopicState{Topic: topic, Replicas: fewestReplicas(details[topic]), MinISR: 1}
		rc, err := configs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("describing topic %q: %w", topic, err)
		}
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" && c.Value != nil {
				if st.MinISR, err = strconv.Atoi(*c.Value); err != nil {
					return fmt.Errorf("topic %q: min.insync.replicas %q: %w", topic, *c.Value, err)
				}
			}
		}
		switch {
		case st.MinISR > st.Replicas:
			return fmt.Errorf("%w: topic %q has min.insync.replicas %d but %d replicas", ErrDurability, topic, st.MinISR, st.Replicas)
		case st.MinISR > rep.Brokers:
			return fmt.Errorf("%w: topic %q has min.insync.replicas %d but the cluster has %d brokers", ErrDurability, topic, st.MinISR, rep.Brokers)
		}
		if st.Replicas < int(rf) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("topic %q has %d replicas, archiver.replication_factor is %d (the archiver never alters existing topics)", topic, st.Replicas, rf))
		}
		if st.MinISR < int(minISR) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("topic %q has min.insync.replicas %d, archiver.min_insync_replicas is %d: an acknowledged record may live on fewer replicas (the archiver never alters existing topics)", topic, st.MinISR, minISR))
		}
		rep.Topics = append(rep.Topics, st)
	}
	return nil
}

// fewestReplicas returns the fewest replicas any partition of a topic has.
func fewestReplicas(td kadm.TopicDetail) int {
	n := -1
	for _, p := range td.Partitions {
		if n < 0 || len(p.Replicas) < n {
			n = len(p.Replicas)
		}
	}
	return max(n, 0)
}

// waitCreated waits for created topics to show their partitions with leaders.
func waitCreated(ctx context.Context, adm *kadm.Client, names []string, missing []TopicSpec) error {
	// Wait for the created topics (or a concurrent creator's) to show their partitions with
	// leaders, and check the count again: another process may have won the race.
	for {
		ready := true
		details, err := adm.ListTopics(ctx, names...)
		if err == nil {
			for _, s := range missing {
				td := details[s.Topic]
				if td.Err != nil || len(td.Partitions) == 0 {
					ready = false
					continue
				}
				if int32(len(td.Partitions)) != s.Partitions {
					return fmt.Errorf("%w: topic %q has %d partitions, archiver.partitions needs %d",
						ErrPartitionMismatch, s.Topic, len(td.Partitions), s.Partitions)
				}
				if slices.ContainsFunc(td.Partitions.Sorted(), func(p kadm.PartitionDetail) bool { return p.Leader < 0 || p.Err != nil }) {
					ready = false
				}
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for created topics: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
