package archiver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// ErrUnroutable: a record's exchange has no partition in archiver.partitions.
var ErrUnroutable = errors.New("archiver: exchange has no partition")

// Partitioner maps a record to its exchange's configured partition. It implements
// kgo.Partitioner: the exchange is read from the record value (a wire record), there is no
// hashing and no fallback. A record whose exchange has no partition, or whose partition
// does not exist in the topic, gets partition -1, which franz-go fails with an error: it is
// never written elsewhere.
//
// A Partitioner is immutable after NewPartitioner and safe for concurrent use.
type Partitioner struct {
	parts [256]int32 // by wire.Exchange; -1 = none
}

// NewPartitioner returns the partitioner of an archiver config's partition map.
func NewPartitioner(a *config.Archiver) *Partitioner {
	p := &Partitioner{}
	for i := range p.parts {
		p.parts[i] = -1
	}
	for _, ex := range wire.Exchanges() {
		if n, ok := a.Partition(ex); ok {
			p.parts[ex] = n
		}
	}
	return p
}

// Partition returns the partition of an exchange's records.
func (p *Partitioner) Partition(ex wire.Exchange) (int32, bool) {
	n := p.parts[ex]
	return n, n >= 0
}

// ForTopic implements kgo.Partitioner: every topic uses the same exchange map.
func (p *Partitioner) ForTopic(string) kgo.TopicPartitioner { return topicPartitioner{p} }

type topicPartitioner struct{ p *Partitioner }

// RequiresConsistency is always true: a record waits for its partition, it never moves.
func (topicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

// Partition returns the exchange's partition, or -1 (franz-go then fails the record).
func (t topicPartitioner) Partition(r *kgo.Record, n int) int {
	if len(r.Value) < wire.HeaderSize {
		return -1
	}
	p := int(t.p.parts[wire.ExchangeOf(r.Value)])
	if p >= n {
		return -1
	}
	return p
}

// wireVersion is the kafka.HeaderWireVersion value of every record. Shared by all records: franz-go
// only reads header values.
var wireVersion = []byte(strconv.Itoa(wire.Version))

// exchangeNames holds the kafka.HeaderExchange value of every exchange, shared read-only.
var exchangeNames = func() (names [256][]byte) {
	for _, ex := range wire.Exchanges() {
		names[ex] = []byte(ex.String())
	}
	return names
}()

// recordHeaders is the number of headers fill writes.
const recordHeaders = 5

// fill sets r to the archived form of the wire record value: key, value, timestamp and the
// headers, which are written into hdrs (len recordHeaders) and whose aseq text is appended
// to scratch (returned). gateway and region are shared, read-only byte slices.
func fill(r *kgo.Record, hdrs []kgo.RecordHeader, scratch []byte, topic string, partition int32,
	h *wire.Header, value, gateway, region []byte, aseq uint64) []byte {
	off := len(scratch)
	scratch = strconv.AppendUint(scratch, aseq, 10)
	hdrs[0] = kgo.RecordHeader{Key: kafka.HeaderWireVersion, Value: wireVersion}
	hdrs[1] = kgo.RecordHeader{Key: kafka.HeaderGateway, Value: gateway}
	hdrs[2] = kgo.RecordHeader{Key: kafka.HeaderRegion, Value: region}
	hdrs[3] = kgo.RecordHeader{Key: kafka.HeaderArchiveSeq, Value: scratch[off:len(scratch):len(scratch)]}
	hdrs[4] = kgo.RecordHeader{Key: kafka.HeaderExchange, Value: exchangeNames[h.Exchange]}
	r.Topic, r.Partition = topic, partition
	r.Key = wire.InstrumentOf(value) // aliases value: no allocation
	r.Value = value
	r.Headers = hdrs
	r.Timestamp = time.Unix(0, kafka.EventTime(h))
	return scratch
}

// NewRecord returns the Kafka record the archiver writes for a wire record (value is not
// copied), for tools and tests; the archiver itself fills pooled records the same way.
func NewRecord(topic, region string, partition int32, aseq uint64, value []byte) (*kgo.Record, error) {
	var h wire.Header
	if err := wire.ReadHeader(value, &h); err != nil {
		return nil, fmt.Errorf("archive record: %w", err)
	}
	r := &kgo.Record{Context: context.Background()}
	gw := strconv.AppendUint(nil, uint64(h.GatewayID), 10)
	fill(r, make([]kgo.RecordHeader, recordHeaders), nil, topic, partition, &h, value, gw, []byte(region), aseq)
	return r, nil
}

// ArchiveSeq returns the kafka.HeaderArchiveSeq of an archived record (0, false when absent or
// malformed).
func ArchiveSeq(r *kgo.Record) (uint64, bool) {
	return headerUint(r, kafka.HeaderArchiveSeq)
}

func headerUint(r *kgo.Record, key string) (uint64, bool) {
	for i := range r.Headers {
		if r.Headers[i].Key == key {
			n, err := strconv.ParseUint(string(r.Headers[i].Value), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// HeaderValue returns the value of the first header named key (nil when absent).
func HeaderValue(r *kgo.Record, key string) []byte {
	for i := range r.Headers {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value
		}
	}
	return nil
}
