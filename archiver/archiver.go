package archiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// Options tune an Archiver beyond the topology. Zero fields take the defaults written here.
type Options struct {
	// Endpoints overrides gateways' publish endpoints by gateway id (tests).
	Endpoints map[string]string
	// TailRecords is how many records of each partition's tail are read at start to seed
	// the arbiter. Default 16384; below 1 reads only the last record (whose archive
	// sequence the restart always needs).
	TailRecords int
	// LineTimeout declares a silent line down (default 2 s).
	LineTimeout time.Duration
	// AlarmAfter raises the spool alarm when records wait and Kafka has acknowledged
	// nothing for this long. Default 5 s.
	AlarmAfter time.Duration
	// SegmentBytes is the spool segment size. Default min(64 MiB, spool_max_bytes/8).
	SegmentBytes int64
	// MaxBufferedRecords bounds the records franz-go holds (produced, not yet
	// acknowledged); beyond it Produce blocks the producer goroutine and the spool absorbs
	// the difference. Default 65536.
	MaxBufferedRecords int
	// ShutdownTimeout bounds the final flush on a clean stop; what is not acknowledged
	// by then stays in the spool. Default 10 s.
	ShutdownTimeout time.Duration
	// StartRetry is the pause between attempts to reach Kafka at start. Default 1 s.
	StartRetry time.Duration
	// KafkaOpts are appended to every franz-go client's options (tests: kgo.Dialer).
	KafkaOpts []kgo.Opt
	// Arbiter bounds the arbiters' memory.
	Arbiter arbiter.Options
	// OnReady, when set, is called once recovery is done and the subscriber is about to
	// start (tests).
	OnReady func()
}

func (o *Options) defaults() {
	if o.TailRecords == 0 {
		o.TailRecords = 16384
	}
	if o.LineTimeout <= 0 {
		o.LineTimeout = 2 * time.Second
	}
	if o.AlarmAfter <= 0 {
		o.AlarmAfter = 5 * time.Second
	}
	if o.MaxBufferedRecords <= 0 {
		o.MaxBufferedRecords = 65536
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.StartRetry <= 0 {
		o.StartRetry = time.Second
	}
}

// Stats are the archiver's counters, readable from any goroutine.
type Stats struct {
	Received      atomic.Uint64 // bus messages received
	Malformed     atomic.Uint64 // messages that are not wire records
	Duplicates    atomic.Uint64 // records dropped by arbitration (copies, covered statuses)
	Accepted      atomic.Uint64 // records written to the spool
	Unroutable    atomic.Uint64 // records whose exchange has no partition: counted, never produced
	SpoolDropped  atomic.Uint64 // records refused because the spool was full (or failed)
	Produced      atomic.Uint64 // records acknowledged by Kafka
	ProducedBytes atomic.Uint64 // value bytes acknowledged by Kafka
	Skipped       atomic.Uint64 // spool entries found in Kafka at start (not produced again)
	Rejected      atomic.Uint64 // records Kafka refused for good, kept in rejected.spool
	Unflushed     atomic.Uint64 // records still unacknowledged at shutdown (kept in the spool)
	Recovered     atomic.Uint64 // spool entries found at start
	TailRecords   atomic.Uint64 // records read from partition tails at start
	Alarms        atomic.Uint64 // times the spool alarm was raised
	Alarm         atomic.Bool   // the spool alarm is up: records wait and Kafka is silent
	SpoolBacklog  atomic.Int64  // records in the spool not yet acknowledged (updated by the monitor)
	SpoolBytes    atomic.Int64  // bytes the spool occupies (updated by the monitor)
}

// region is one archived region: its lines and their merger, owned by the handler goroutine.
type region struct {
	name   string
	nameB  []byte
	topic  string
	merger *arbiter.Merger
	seq    map[int32]uint64 // partition → last archive sequence assigned
}

// Archiver is the archiver process. New builds it, Run runs it.
//
// Goroutines: Run's caller runs recovery, then bus.Subscriber.Run, whose handler goroutine
// owns the regions (mergers, sequence counters) and the batch buffer; Run also starts the
// producer, the monitor and (when configured) the metrics server, and waits for them.
type Archiver struct {
	topo  *config.Topology
	opts  Options
	log   *slog.Logger
	part  *Partitioner
	eps   []string
	epReg []*region // endpoint → its region
	epLn  []int     // endpoint → line within its region
	regs  []*region
	// Stats are live counters.
	Stats Stats

	mu          sync.Mutex // guards the mergers against Snapshot readers
	hdr         wire.Header
	batch       []byte
	unroutedLog [256]bool
	lastTick    int64
	changed     []int
	spool       *spool
	ready       atomic.Bool
}

// New builds an archiver for every region that has gateways. It opens nothing; Run does.
func New(topo *config.Topology, opts Options, log *slog.Logger) (*Archiver, error) {
	opts.defaults()
	a := &Archiver{topo: topo, opts: opts, log: log.With("process", "archiver"), part: NewPartitioner(&topo.Archiver)}
	for _, r := range topo.Regions {
		gws := topo.GatewaysIn(r.Name)
		if len(gws) == 0 {
			continue
		}
		topic, ok := topo.Archiver.Topics[r.Name]
		if !ok {
			return nil, fmt.Errorf("archiver: region %q has gateways but no topic", r.Name)
		}
		if len(r.Name) > maxRegionLen {
			return nil, fmt.Errorf("archiver: region name %q longer than %d bytes", r.Name, maxRegionLen)
		}
		if len(gws) > arbiter.MaxLines {
			return nil, fmt.Errorf("archiver: region %q has %d gateways, at most %d lines", r.Name, len(gws), arbiter.MaxLines)
		}
		reg := &region{name: r.Name, nameB: []byte(r.Name), topic: topic, seq: map[int32]uint64{},
			merger: arbiter.NewMerger(arbiter.New(opts.Arbiter), len(gws), int64(opts.LineTimeout))}
		a.regs = append(a.regs, reg)
		for line, g := range gws {
			ep := g.Publish
			if o, ok := opts.Endpoints[g.ID]; ok {
				ep = o
			}
			a.eps = append(a.eps, ep)
			a.epReg = append(a.epReg, reg)
			a.epLn = append(a.epLn, line)
		}
	}
	if len(a.regs) == 0 {
		return nil, errors.New("archiver: no region has gateways")
	}
	return a, nil
}

// Topics returns the topics the archiver writes with the partition count each needs.
func (a *Archiver) Topics() []TopicSpec {
	var out []TopicSpec
	for _, r := range a.regs {
		out = append(out, TopicSpec{Topic: r.topic, Partitions: a.topo.PartitionCount(r.name)})
	}
	return out
}

// Ready reports whether recovery is done and records are being accepted.
func (a *Archiver) Ready() bool { return a.ready.Load() }

// kafkaOpts returns the base client options: seeds, logger and the caller's extras.
func (a *Archiver) kafkaOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(a.topo.Archiver.Seeds...), kgo.WithLogger(kgoLogger{a.log})}
	return append(opts, a.opts.KafkaOpts...)
}

// adminOpts are kafkaOpts for the short-lived start-up clients: franz-go's metadata
// minimum age (5 s) would otherwise delay seeing a topic just created.
func (a *Archiver) adminOpts() []kgo.Opt {
	return append(a.kafkaOpts(), kgo.MetadataMinAge(100*time.Millisecond))
}

// producerOpts returns the producer settings documented in the package comment.
func (a *Archiver) producerOpts() ([]kgo.Opt, error) {
	codec, err := compression(a.topo.Archiver.Compression)
	if err != nil {
		return nil, err
	}
	return append(a.kafkaOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()), // acks=all; idempotence is franz-go's default and stays on
		kgo.ProducerLinger(a.topo.Archiver.Linger),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(a.opts.MaxBufferedRecords),
		kgo.RecordPartitioner(a.part),
		kgo.UnknownTopicRetries(-1), // a vanished topic stalls (alarm) instead of failing records
		kgo.ProducerOnDataLossDetected(func(topic string, p int32) {
			a.log.Error("archiver: Kafka reports data loss", "topic", topic, "partition", p)
		}),
	), nil
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("archiver: unknown compression %q", name)
}

// Run checks the topics, recovers, then archives until ctx ends. It returns after every
// goroutine it started has exited. A partition count mismatch (ErrPartitionMismatch) is
// returned at once; while Kafka is unreachable at start, Run retries until ctx ends.
func (a *Archiver) Run(ctx context.Context) error {
	if err := a.ensureTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	sp, rec, err := openSpool(a.topo.Archiver.SpoolDir, a.topo.Archiver.SpoolMaxBytes, a.opts.SegmentBytes, a.log)
	if err != nil {
		return err
	}
	a.spool = sp
	defer sp.Close()
	a.Stats.Recovered.Store(uint64(rec.entries))
	skip, err := a.recover(ctx, rec)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	popts, err := a.producerOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(popts...)
	if err != nil {
		return fmt.Errorf("archiver: kafka client: %w", err)
	}
	topics := map[string]string{}
	for _, r := range a.regs {
		topics[r.name] = r.topic
	}
	prod := newProducer(cl, sp, topics, skip, &a.Stats, a.log)

	var wg sync.WaitGroup
	pctx, stopProducer := context.WithCancel(context.Background())
	var prodErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		prodErr = prod.run(pctx)
	}()
	mctx, stopMonitor := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.monitor(mctx, prod)
	}()
	var srv *http.Server
	if addr := a.topo.Archiver.Metrics; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			a.log.Error("archiver: metrics listener", "addr", addr, "err", err)
		} else {
			srv = &http.Server{Handler: a.metricsHandler(), ReadHeaderTimeout: 5 * time.Second}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = srv.Serve(ln)
			}()
		}
	}

	sub := bus.NewSubscriber(bus.SubOptions{MaxMessageBytes: a.topo.Bus.MaxMessageBytes}, a.log)
	err = sub.Connect(a.eps...)
	if err == nil {
		sub.Subscribe("")
		a.ready.Store(true)
		if a.opts.OnReady != nil {
			a.opts.OnReady()
		}
		a.log.Info("archiver: running", "endpoints", len(a.eps), "regions", len(a.regs))
		err = sub.Run(ctx, a.handle)
		sub.Close()
	}

	// Shut down in reverse: the subscriber is gone; stop reading the spool, flush what
	// franz-go holds (bounded), close the client; the spool keeps the rest.
	stopProducer()
	flushCtx, cancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	if ferr := cl.Flush(flushCtx); ferr != nil {
		a.log.Warn("archiver: flush at shutdown incomplete; unacknowledged records stay in the spool", "err", ferr)
	}
	cancel()
	stopMonitor()
	if srv != nil {
		srv.Close()
	}
	wg.Wait() // the producer exits before Close so that it never produces to a closed client
	cl.Close()
	sp.Trim()
	if prodErr != nil {
		return prodErr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ensureTopics creates or checks the topics, retrying while Kafka is unreachable.
func (a *Archiver) ensureTopics(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := func() error {
			cl, err := kgo.NewClient(a.adminOpts()...)
			if err != nil {
				return fmt.Errorf("archiver: kafka client: %w", err)
			}
			defer cl.Close()
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return EnsureTopics(actx, kadm.NewClient(cl), a.Topics(), a.topo.Archiver.ReplicationFactor)
		}()
		if err == nil || errors.Is(err, ErrPartitionMismatch) || ctx.Err() != nil {
			return err
		}
		a.log.Warn("archiver: Kafka not ready at start, retrying", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(a.opts.StartRetry):
		}
	}
}

// recover reads the partition tails and the spool, seeds the arbiters with both, continues
// the archive sequences after the highest seen, and returns what the producer must skip.
func (a *Archiver) recover(ctx context.Context, rec *spoolRecovery) (map[seqKey]uint64, error) {
	topics := map[string]string{}
	parts := map[string]int32{}
	byName := map[string]*region{}
	for _, r := range a.regs {
		topics[r.name] = r.topic
		parts[r.topic] = a.topo.PartitionCount(r.name)
		byName[r.name] = r
	}
	now := time.Now().UnixNano()
	var h wire.Header
	seed := func(r *region, value []byte) {
		if r == nil || wire.ReadHeader(value, &h) != nil {
			return
		}
		r.merger.Arb.Offer(0, &h, now)
	}
	var last map[seqKey]uint64
	for attempt := 0; ; attempt++ {
		var err error
		n := uint64(0)
		last, err = readTails(ctx, a.adminOpts(), topics, parts, a.opts.TailRecords, func(region string, r *kgo.Record) {
			n++
			seed(byName[region], r.Value)
		})
		if err == nil {
			a.Stats.TailRecords.Store(n)
			break
		}
		if ctx.Err() != nil {
			return nil, err
		}
		a.log.Warn("archiver: reading partition tails, retrying", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(a.opts.StartRetry):
		}
	}
	pending := 0
	err := a.spool.scan(func(e *entry) {
		if e.aseq <= last[seqKey{string(e.region), e.partition}] {
			return
		}
		pending++
		seed(byName[string(e.region)], e.record)
	})
	if err != nil {
		return nil, err
	}
	for _, r := range a.regs {
		r.merger.Arb.Stats = arbiter.Stats{Streams: r.merger.Arb.Stats.Streams}
	}
	for k, v := range last {
		if r := byName[k.region]; r != nil {
			r.seq[k.partition] = max(r.seq[k.partition], v)
		}
	}
	for k, v := range rec.maxSeq {
		if r := byName[k.region]; r != nil {
			r.seq[k.partition] = max(r.seq[k.partition], v)
		}
	}
	a.log.Info("archiver: recovered", "tail_records", a.Stats.TailRecords.Load(), "spool_entries", rec.entries,
		"spool_pending", pending, "spool_torn_bytes", rec.torn)
	return last, nil
}

// handle processes one bus batch on the subscriber's handler goroutine: arbitrate, map to
// a partition, append to the batch buffer, then one spool write. It never blocks on Kafka.
func (a *Archiver) handle(batch []bus.Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now().UnixNano()
	buf := a.batch[:0]
	n := 0
	for i := range batch {
		m := &batch[i]
		a.Stats.Received.Add(1)
		if m.Endpoint < 0 || m.Endpoint >= len(a.epReg) {
			continue
		}
		if err := wire.ReadHeader(m.Payload, &a.hdr); err != nil {
			a.Stats.Malformed.Add(1)
			continue
		}
		rec := m.Payload[:a.hdr.Length]
		r := a.epReg[m.Endpoint]
		if !r.merger.Offer(a.epLn[m.Endpoint], &a.hdr, now) {
			a.Stats.Duplicates.Add(1)
			continue
		}
		p, ok := a.part.Partition(a.hdr.Exchange)
		if !ok {
			a.Stats.Unroutable.Add(1)
			if !a.unroutedLog[a.hdr.Exchange] {
				a.unroutedLog[a.hdr.Exchange] = true
				a.log.Error("archiver: exchange has no partition; its records are counted and not archived",
					"exchange", a.hdr.Exchange.String(), "region", r.name, "err", ErrUnroutable)
			}
			continue
		}
		r.seq[p]++
		buf = appendEntry(buf, r.seq[p], p, r.nameB, rec)
		n++
	}
	a.batch = buf
	if n > 0 {
		if err := a.spool.Write(buf, n); err != nil {
			a.Stats.SpoolDropped.Add(uint64(n))
			if !errors.Is(err, ErrSpoolFull) {
				a.log.Error("archiver: spool write failed", "records", n, "err", err)
			}
		} else {
			a.Stats.Accepted.Add(uint64(n))
		}
	}
	if now-a.lastTick > int64(100*time.Millisecond) {
		a.lastTick = now
		for _, r := range a.regs {
			a.changed = r.merger.Tick(now, a.changed[:0])
			for _, line := range a.changed {
				a.log.Warn("archiver: line state changed", "region", r.name, "line", line, "down", r.merger.Down(line))
			}
		}
	}
}

// monitor updates the spool gauges and raises or clears the alarm every 100 ms.
func (a *Archiver) monitor(ctx context.Context, p *producer) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		backlog := a.spool.Backlog()
		a.Stats.SpoolBacklog.Store(backlog)
		a.Stats.SpoolBytes.Store(a.spool.Bytes())
		silent := time.Since(time.Unix(0, p.lastAck.Load()))
		alarm := backlog > 0 && silent > a.opts.AlarmAfter
		if alarm && !a.Stats.Alarm.Load() {
			a.Stats.Alarms.Add(1)
			a.log.Error("archiver: SPOOL ALARM: Kafka has acknowledged nothing while records wait",
				"silent", silent.Round(time.Millisecond), "backlog_records", backlog, "spool_bytes", a.Stats.SpoolBytes.Load())
		}
		if !alarm && a.Stats.Alarm.Load() {
			a.log.Info("archiver: spool alarm cleared", "backlog_records", backlog)
		}
		a.Stats.Alarm.Store(alarm)
	}
}

// LineStats is a snapshot of one region's arbitration.
type LineStats struct {
	Region string
	Merge  arbiter.MergeStats
	Arb    arbiter.Stats
}

// Lines returns a snapshot of every region's merger and arbiter counters.
func (a *Archiver) Lines() []LineStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]LineStats, 0, len(a.regs))
	for _, r := range a.regs {
		out = append(out, LineStats{Region: r.name, Merge: r.merger.Stats, Arb: r.merger.Arb.Stats})
	}
	return out
}
