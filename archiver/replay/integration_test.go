package replay

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/wire"
)

// TestIntegrationReplayRoundTrip runs against the real Kafka of KAFKA_SEEDS (skipped when
// unset): archived records come back byte for byte, merged in time order, and a
// sub-second range selected through offsets-for-times returns exactly its records.
func TestIntegrationReplayRoundTrip(t *testing.T) {
	seeds := kafkatest.Seeds(t)
	prefix := kafkatest.TopicName("tickline-replay-it") + "."
	kafkatest.CreateTopic(t, prefix+"korea", 2, kafkatest.ReplicationFactor(t), map[string]*string{"retention.ms": kadm.StringPtr("-1")}) // old timestamps: keep
	topo := topology(t, seeds, prefix)
	const n = 2000
	threeStreams(t, seeds, prefix, n)

	var all collected
	runReplay(t, topo, Options{Regions: []string{"korea"}}, all.sink())
	if len(all.values) != 3*n {
		t.Fatalf("replayed %d of %d", len(all.values), 3*n)
	}
	all.checkMergeOrder(t)
	for i, v := range all.values {
		var h wire.Header
		if err := wire.ReadHeader(v, &h); err != nil {
			t.Fatal(err)
		}
		at := time.Duration(h.TsExchange - base)
		want := rec(h.Exchange, h.Kind, h.Instrument.String(), h.Seq, at, 1)
		if !bytes.Equal(archived(t, v), want) {
			t.Fatalf("record %d is not the archived bytes", i)
		}
	}

	ms := int64(time.Millisecond)
	var part collected
	runReplay(t, topo, Options{Regions: []string{"korea"}, From: base + 500*ms + ms/20, To: base + 700*ms + ms/20}, part.sink())
	if len(part.values) != 3*200 {
		t.Fatalf("range replayed %d records, want %d", len(part.values), 3*200)
	}
}
