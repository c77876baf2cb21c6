package archiver

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// producer is the goroutine that tails the spool into franz-go. It owns the read cursor,
// the record slabs it hands out and the per-gateway header values; acknowledgements run on
// franz-go's goroutines and touch only atomics and the spool's reject file.
type producer struct {
	cl      *kgo.Client
	spool   *spool
	log     *slog.Logger
	stats   *Stats
	topics  map[string]string           // region → topic
	skip    map[string]map[int32]uint64 // region → partition → entries at or below are in Kafka already
	gw      map[uint16][]byte           // gateway number → header value
	region  map[string][]byte           // region → header value (shared, read-only)
	lastAck atomic.Int64                // unix ns of the last acknowledgement
	promise func(*kgo.Record, error)
}

// item is one record handed to franz-go with the header storage it points to.
type item struct {
	rec  kgo.Record
	hdrs [recordHeaders]kgo.RecordHeader
}

func newProducer(cl *kgo.Client, sp *spool, topics map[string]string, skip map[seqKey]uint64, stats *Stats, log *slog.Logger) *producer {
	p := &producer{cl: cl, spool: sp, log: log, stats: stats, topics: topics, skip: map[string]map[int32]uint64{},
		gw: map[uint16][]byte{}, region: map[string][]byte{}}
	for k, v := range skip {
		if p.skip[k.region] == nil {
			p.skip[k.region] = map[int32]uint64{}
		}
		p.skip[k.region][k.partition] = v
	}
	for r := range topics {
		p.region[r] = []byte(r)
	}
	p.promise = p.acked
	p.lastAck.Store(time.Now().UnixNano())
	return p
}

// run reads the spool and produces until ctx ends or the spool fails. It does not wait for
// acknowledgements: the caller flushes.
func (p *producer) run(ctx context.Context) error {
	var c cursor
	var h wire.Header
	trim := time.NewTicker(250 * time.Millisecond)
	defer trim.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		buf, seg, err := p.spool.read(&c)
		if err != nil {
			if errors.Is(err, ErrSpoolClosed) {
				return nil
			}
			return err
		}
		if buf == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-p.spool.Ready():
			case <-trim.C:
				p.spool.Trim()
			}
			continue
		}
		if err := p.produceChunk(ctx, buf, seg, &h); err != nil {
			return err
		}
		select {
		case <-trim.C:
			p.spool.Trim()
		default:
		}
	}
}

// produceChunk hands every entry of buf (whole entries, owned by the records from now on)
// to franz-go. Entries already in Kafka are skipped.
func (p *producer) produceChunk(ctx context.Context, buf []byte, seg *segment, h *wire.Header) error {
	// Count the entries first to allocate the slab once per chunk.
	var e entry
	n := 0
	for off := 0; off < len(buf); {
		k, _ := parseEntry(buf[off:], &e)
		off += k
		n++
	}
	items := make([]item, n)
	scratch := make([]byte, 0, n*12)
	i := 0
	for off := 0; off < len(buf); {
		k, _ := parseEntry(buf[off:], &e)
		off += k
		if e.aseq <= p.skip[string(e.region)][e.partition] { // m[string(b)] does not allocate
			seg.acked.Add(1)
			p.stats.Skipped.Add(1)
			continue
		}
		topic, ok := p.topics[string(e.region)]
		if err := wire.ReadHeader(e.record, h); err != nil || !ok {
			// Not producible with this configuration: keep it for an operator.
			p.rejectEntry(seg, &e, "unknown region or malformed record")
			continue
		}
		gw := p.gw[h.GatewayID]
		if gw == nil {
			gw = strconv.AppendUint(nil, uint64(h.GatewayID), 10)
			p.gw[h.GatewayID] = gw
		}
		it := &items[i]
		i++
		it.rec.Context = seg.ctx
		scratch = fill(&it.rec, it.hdrs[:], scratch, topic, e.partition, h, e.record, gw, p.region[string(e.region)], e.aseq)
		p.cl.Produce(ctx, &it.rec, p.promise)
	}
	return nil
}

func (p *producer) rejectEntry(seg *segment, e *entry, why string) {
	if err := p.spool.reject(e.aseq, e.partition, e.region, e.record); err != nil {
		p.log.Error("spool: cannot keep rejected record", "err", err)
	}
	p.stats.Rejected.Add(1)
	seg.acked.Add(1)
	p.log.Error("archiver: record rejected, kept in "+rejectedName, "reason", why, "archive_seq", e.aseq, "partition", e.partition)
}

// acked is the promise of every produced record (franz-go's goroutines).
func (p *producer) acked(r *kgo.Record, err error) {
	sc, _ := r.Context.(*segCtx)
	switch {
	case err == nil:
		p.stats.Produced.Add(1)
		p.stats.ProducedBytes.Add(uint64(len(r.Value)))
		p.lastAck.Store(time.Now().UnixNano())
		if sc != nil {
			sc.seg.acked.Add(1)
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed):
		// Shutting down: the record stays in the spool and is produced (or found in Kafka
		// and skipped) by the next run.
		p.stats.Unflushed.Add(1)
	default:
		aseq, _ := ArchiveSeq(r)
		if rerr := p.spool.reject(aseq, r.Partition, HeaderValue(r, kafka.HeaderRegion), r.Value); rerr != nil {
			p.log.Error("spool: cannot keep rejected record", "err", rerr)
		}
		p.stats.Rejected.Add(1)
		if sc != nil {
			sc.seg.acked.Add(1)
		}
		p.log.Error("archiver: Kafka refused a record for good, kept in "+rejectedName, "topic", r.Topic,
			"partition", r.Partition, "archive_seq", aseq, "err", err)
	}
}
