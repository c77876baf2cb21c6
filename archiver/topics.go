package archiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// EnsureTopics creates the missing topics with their partition count, replication factor rf
// and unlimited retention (retention.ms=-1), and checks that every existing topic has exactly the partitions its spec
// needs. A mismatch fails with ErrPartitionMismatch naming the topic; nothing is changed
// then. It waits (bounded by ctx) until created topics report all their partitions.
func EnsureTopics(ctx context.Context, adm *kadm.Client, specs []TopicSpec, rf int16) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Topic
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("listing topics %v: %w", names, err)
	}
	var missing []TopicSpec
	for _, s := range specs {
		td, ok := details[s.Topic]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, s)
		case td.Err != nil:
			return fmt.Errorf("topic %q: %w", s.Topic, td.Err)
		case int32(len(td.Partitions)) != s.Partitions:
			return fmt.Errorf("%w: topic %q has %d partitions, archiver.partitions needs %d",
				ErrPartitionMismatch, s.Topic, len(td.Partitions), s.Partitions)
		}
	}
	for _, s := range missing {
		_, err := adm.CreateTopic(ctx, s.Partitions, rf, topicConfigs, s.Topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %q (%d partitions, replication factor %d): %w", s.Topic, s.Partitions, rf, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
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
