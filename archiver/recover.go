package archiver

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readTails reads the last n records of every partition of the topics (region → topic) and
// returns the highest archive sequence found per (region, partition). fn sees every tail
// record, in offset order within a partition (partitions interleave), on the calling
// goroutine; the record is the caller's to keep. partial says the partition holds records
// before its tail (older than anything fn sees of it); first marks the tail's first record.
//
// The archiver is the only writer of its topics and does not produce while this runs, so
// the end offsets listed first are the end.
//
// Every partition below parts[topic] must be listed with its start and end offsets, or
// readTails fails: a partition missing from a listing (metadata not settled yet) must not
// pass for an empty one, or the spool's already-archived records would be produced again.
// tailSettle is how long the end offsets must stay unchanged before the tail is read at
// start (tailSettleMax bounds the wait). Variables so that tests with an in-process broker
// can shorten them.
var (
	tailSettle    = 3 * time.Second
	tailSettleMax = 15 * time.Second
)

// sameEnds reports whether two end-offset listings agree on every partition.
func sameEnds(a, b kadm.ListedOffsets) bool {
	same := true
	a.Each(func(o kadm.ListedOffset) {
		if p, ok := b.Lookup(o.Topic, o.Partition); !ok || p.Offset != o.Offset {
			same = false
		}
	})
	return same
}

func readTails(ctx context.Context, opts []kgo.Opt, topics map[string]string, parts map[string]int32, n int,
	fn func(region string, r *kgo.Record, partial, first bool)) (map[seqKey]uint64, error) {
	last := map[seqKey]uint64{}
	if len(topics) == 0 {
		return last, nil
	}
	n = max(n, 1) // the last record's archive sequence is what the restart needs
	t := &tails{regionOf: map[string]string{}, from: map[string]map[int32]kgo.Offset{},
		remaining: map[string]map[int32]int64{}, starting: map[string]map[int32]tailStart{}, last: last, fn: fn}
	var names []string
	for region, topic := range topics {
		t.regionOf[topic] = region
		names = append(names, topic)
	}
	starts, ends, err := settledOffsets(ctx, opts, names)
	if err != nil {
		return nil, err
	}
	for topic, count := range parts {
		for p := int32(0); p < count; p++ {
			if _, ok := starts.Lookup(topic, p); !ok {
				return nil, fmt.Errorf("listing start offsets: %s/%d not listed", topic, p)
			}
			if _, ok := ends.Lookup(topic, p); !ok {
				return nil, fmt.Errorf("listing end offsets: %s/%d not listed", topic, p)
			}
		}
	}
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(e.Topic, e.Partition)
		t.plan(e, s.Offset, n)
	})
	if len(t.from) == 0 {
		return last, nil
	}
	cons, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), kgo.ConsumePartitions(t.from))...)
	if err != nil {
		return nil, fmt.Errorf("tail consumer: %w", err)
	}
	defer cons.Close()
	for t.left > 0 {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading partition tails: %w", err)
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			ferr = fmt.Errorf("reading tail of %s/%d: %w", topic, p, err)
		})
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(t.take)
	}
	return last, nil
}

// settledOffsets lists the start and end offsets of topics. A produce request of the
// process that died may still sit in a broker's queue (or wait for replication) for a
// moment after the restart: the end offsets must stop moving (tailSettle, at most
// tailSettleMax) before the tail is trusted, or records already on their way into Kafka
// would be produced again from the spool.
func settledOffsets(ctx context.Context, opts []kgo.Opt, names []string) (starts, ends kadm.ListedOffsets, err error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tail client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if starts, err = listed(adm.ListStartOffsets(ctx, names...)); err != nil {
		return nil, nil, fmt.Errorf("listing start offsets of %v: %w", names, err)
	}
	var stableSince time.Time
	for deadline := time.Now().Add(tailSettleMax); ; {
		e2, err := listed(adm.ListEndOffsets(ctx, names...))
		if err != nil {
			return nil, nil, fmt.Errorf("listing end offsets of %v: %w", names, err)
		}
		if ends == nil || !sameEnds(ends, e2) {
			stableSince = time.Now()
		}
		ends = e2
		if tailSettle <= 0 || time.Since(stableSince) >= tailSettle || time.Now().After(deadline) {
			return starts, ends, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// listed returns a listing with its first per-partition error as its error.
func listed(l kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err == nil {
		err = l.Error()
	}
	return l, err
}

// tailStart is where a partition's tail begins.
type tailStart struct {
	partial bool // the log holds records before the tail
	seen    bool // fn has seen the tail's first record
}

// tails is readTails' state: what is left to read of each partition's tail.
type tails struct {
	regionOf  map[string]string // topic → region
	from      map[string]map[int32]kgo.Offset
	remaining map[string]map[int32]int64 // topic → partition → last offset still to read
	starting  map[string]map[int32]tailStart
	left      int // partitions not read to their end yet
	last      map[seqKey]uint64
	fn        func(region string, r *kgo.Record, partial, first bool)
}

// plan adds the tail of the partition that ends at e and starts at start: its last n
// records, none when it is empty.
func (t *tails) plan(e kadm.ListedOffset, start int64, n int) {
	if e.Offset <= start {
		return
	}
	if t.from[e.Topic] == nil {
		t.from[e.Topic], t.remaining[e.Topic], t.starting[e.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}, map[int32]tailStart{}
	}
	off := max(start, e.Offset-int64(n))
	t.from[e.Topic][e.Partition] = kgo.NewOffset().At(off)
	t.remaining[e.Topic][e.Partition] = e.Offset - 1
	t.starting[e.Topic][e.Partition] = tailStart{partial: off > start}
	t.left++
}

// take hands a fetched tail record to fn and notes its archive sequence.
func (t *tails) take(r *kgo.Record) {
	end, ok := t.remaining[r.Topic][r.Partition]
	if !ok || r.Offset > end {
		return
	}
	region := t.regionOf[r.Topic]
	if seq, ok := ArchiveSeq(r); ok {
		k := seqKey{region, r.Partition}
		t.last[k] = max(t.last[k], seq)
	}
	st := t.starting[r.Topic][r.Partition]
	t.fn(region, r, st.partial, !st.seen)
	st.seen = true
	t.starting[r.Topic][r.Partition] = st
	if r.Offset == end {
		delete(t.remaining[r.Topic], r.Partition)
		t.left--
	}
}
