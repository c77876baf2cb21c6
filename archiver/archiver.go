package archiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/shared/zmtp"
)

// Options tune an Archiver beyond the topology. Zero fields take the defaults written here.
type Options struct {
	// Endpoints overrides gateways' publish endpoints by gateway id (tests).
	Endpoints map[string]string
	// Retransmits overrides gateways' journal retransmit endpoints by gateway id (tests).
	// Only gateways with a journal in the topology are asked for retransmits.
	Retransmits map[string]string
	// RetransmitWait bounds how long the handler holds a line's first live records after a
	// start while the line's restart window is fetched from its journal (the window is
	// archived first). Default 5 s.
	RetransmitWait time.Duration
	// RetransmitAttempts bounds the attempts of one retransmit request (dial, transfer);
	// the pause between them starts at RetransmitBackoff and doubles up to 2 s. Defaults
	// 5 and 100 ms.
	RetransmitAttempts int
	RetransmitBackoff  time.Duration
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
	// IndexRecords is how many archived events each region remembers at least, to tell
	// whether a retransmitted record is archived already (see archiveIndex; 21 to 43 bytes
	// per event). Default: the region's largest gateway journal plus TailRecords × its
	// partition count, at least 4096.
	IndexRecords int
	// IndexSlack is how far apart two lines' receive times of one event are taken to be
	// when the archive index has forgotten older events (see archiveIndex). Default 2 s.
	IndexSlack time.Duration
	// OnReady, when set, is called once recovery is done and the subscriber is about to
	// start (tests).
	OnReady func()
}

func (o *Options) defaults() {
	if o.TailRecords == 0 {
		o.TailRecords = 16384
	}
	positive(&o.LineTimeout, 2*time.Second)
	positive(&o.AlarmAfter, 5*time.Second)
	positive(&o.MaxBufferedRecords, 65536)
	positive(&o.ShutdownTimeout, 10*time.Second)
	positive(&o.StartRetry, time.Second)
	positive(&o.RetransmitWait, 5*time.Second)
	positive(&o.RetransmitAttempts, 5)
	positive(&o.RetransmitBackoff, 100*time.Millisecond)
	positive(&o.IndexSlack, 2*time.Second)
}

// positive sets *v to def when it is not positive (an Options default).
func positive[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Stats are the archiver's counters, readable from any goroutine.
type Stats struct {
	Received          atomic.Uint64 // bus messages received
	Malformed         atomic.Uint64 // messages that are not wire records
	Duplicates        atomic.Uint64 // records dropped by arbitration (copies, covered statuses)
	Accepted          atomic.Uint64 // records written to the spool
	Unroutable        atomic.Uint64 // records whose exchange has no partition: counted, never produced
	SpoolDropped      atomic.Uint64 // records lost: refused because the spool was full (or a write failed)
	SpoolCorruptLost  atomic.Uint64 // records lost: spool entries inside corrupt spans found at start, not in Kafka
	SpoolCorruptBytes atomic.Uint64 // bytes of corrupt spans skipped inside spool segments at start
	SpoolTornBytes    atomic.Uint64 // bytes of torn or corrupt segment tails truncated at start
	Produced          atomic.Uint64 // records acknowledged by Kafka
	ProducedBytes     atomic.Uint64 // value bytes acknowledged by Kafka
	Skipped           atomic.Uint64 // spool entries found in Kafka at start (not produced again)
	Rejected          atomic.Uint64 // records Kafka refused for good, kept in rejected.spool
	Unflushed         atomic.Uint64 // records still unacknowledged at shutdown (kept in the spool)
	Recovered         atomic.Uint64 // spool entries found at start
	TailRecords       atomic.Uint64 // records read from partition tails at start
	Alarms            atomic.Uint64 // times the spool alarm was raised
	Alarm             atomic.Bool   // the spool alarm is up: records wait and Kafka is silent
	SpoolBacklog      atomic.Int64  // records in the spool not yet acknowledged (updated by the monitor)
	SpoolBytes        atomic.Int64  // bytes the spool occupies (updated by the monitor)

	// Retransmits from gateways' journals (see the package documentation).
	RetransmitRequests      atomic.Uint64 // ranges asked for (restart windows and in-run gaps)
	Retransmitted           atomic.Uint64 // records the journals returned
	RetransmitAccepted      atomic.Uint64 // of those, written to the spool (also in Accepted)
	RetransmitArchived      atomic.Uint64 // of those, in the archive already (the region's archive index holds the event)
	RetransmitBeforeTail    atomic.Uint64 // of those, not archived: older than the partition tail read at start (the archive may hold them)
	RetransmitBeyondIndex   atomic.Uint64 // of those, not archived: older than the archive index reaches (the archive may hold them)
	RetransmitStatusDropped atomic.Uint64 // of those, status records the merger's status policy dropped
	RetransmitLost          atomic.Uint64 // records asked for that no journal returned: lost unless another line carried them
	RetransmitFailed        atomic.Uint64 // requests given up after every attempt (journal unreachable)
	RetransmitRetries       atomic.Uint64 // attempts repeated after a failure
	RetransmitSkipped       atomic.Uint64 // records of in-run gaps not asked for (request queue full)
	GatewayRestarts         atomic.Uint64 // gateway sequences seen beginning again
}

// region is one archived region: its lines and their merger, guarded by Archiver.mu.
type region struct {
	name   string
	nameB  []byte
	topic  string
	merger *arbiter.Merger
	lines  int              // gateways of the region (arbitration lines)
	seq    map[int32]uint64 // partition → last archive sequence assigned

	// Set by recover: how far back the seeded tail reaches, for retransmits (beforeTail).
	horizon map[int32]int64   // partition with a partial tail → gateway receive time of its first tail record
	floor   map[stream]uint64 // stream of such a partition → lowest exchange id seeded
	seeded  bool              // recovery found records (archived or spooled)

	index *archiveIndex // events archived lately: what retransmits are checked against
}

// Archiver is the archiver process. New builds it, Run runs it.
//
// Goroutines: Run's caller runs recovery, then bus.Subscriber.Run, whose handler goroutine
// owns the lines' live state and the batch buffer; the regions (mergers, sequence counters)
// are guarded by mu, which the handler holds per bus batch and the retransmitter per chunk
// of retransmitted records. Run also starts the producer, the monitor, the retransmitter
// (when a gateway keeps a journal) and (when configured) the metrics server, and waits for
// them.
type Archiver struct {
	produceLatency produceLatency // Kafka produce request round trips (franz-go hook)
	topo           *config.Topology
	opts           Options
	log            *slog.Logger
	part           *Partitioner
	conn           []kgo.Opt // seeds, TLS, SASL from the topology (shared/kafka)
	eps            []string
	lines          []*line // endpoint → its line
	regs           []*region
	// Stats are live counters.
	Stats Stats

	mu          sync.Mutex // guards the regions (mergers, archive sequences, indexes) and spool writes
	hdr         wire.Header
	batch       []byte
	pending     []pendingEntry // the entries of the batch being written (handler), under mu
	unroutedLog [256]bool
	lastTick    int64
	changed     []int
	spool       *spool
	ready       atomic.Bool
	topics      atomic.Pointer[TopicsReport] // what the start-up check found (metrics)

	anchors map[uint16]mark // gateway number → its last record recovery saw (recover only)
	rt      *retransmitter  // nil when no gateway keeps a journal
	waiting int             // lines whose restart window is not open yet (handler goroutine)
	runCtx  context.Context // Run's context, for the handler's bounded waits
}

// New builds an archiver for every region that has gateways. It opens nothing; Run does.
func New(topo *config.Topology, opts Options, log *slog.Logger) (*Archiver, error) {
	opts.defaults()
	a := &Archiver{topo: topo, opts: opts, log: log.With("process", "archiver"), part: NewPartitioner(&topo.Archiver)}
	conn, err := kafka.ClientOpts(&topo.Archiver)
	if err != nil {
		return nil, fmt.Errorf("archiver: %w", err)
	}
	a.conn = conn
	// Journals of gateways with a curve section are fetched over CURVE with the
	// archiver's keypair (the one its bus subscriber uses) and the gateway's public key.
	var ckey *zmtp.Key
	if c := topo.Archiver.Curve; c != nil {
		secret, err := c.Secret()
		if err != nil {
			return nil, fmt.Errorf("archiver: curve: %w", err)
		}
		ckey = &secret
	}
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
		reg := &region{name: r.Name, nameB: []byte(r.Name), topic: topic, seq: map[int32]uint64{}, lines: len(gws),
			merger:  arbiter.NewMerger(arbiter.New(opts.Arbiter), len(gws), int64(opts.LineTimeout)),
			horizon: map[int32]int64{}, floor: map[stream]uint64{}}
		per := opts.IndexRecords
		if per <= 0 {
			journal := 0
			for _, g := range gws {
				if g.Journal != nil {
					journal = max(journal, g.Journal.Records)
				}
			}
			per = max(4096, journal+max(opts.TailRecords, 1)*int(topo.PartitionCount(r.Name)))
		}
		reg.index = newArchiveIndex(per, opts.IndexSlack)
		a.regs = append(a.regs, reg)
		for i, g := range gws {
			ep := g.Publish
			if o, ok := opts.Endpoints[g.ID]; ok {
				ep = o
			}
			l := &line{id: g.ID, num: g.Num, reg: reg, idx: i}
			if g.Journal != nil {
				l.journal = g.Journal.Retransmit
				if o, ok := opts.Retransmits[g.ID]; ok {
					l.journal = o
				}
				if g.Curve != nil && ckey != nil {
					pub, err := zmtp.ParseKey(g.Curve.PublicKey)
					if err != nil {
						return nil, fmt.Errorf("archiver: gateway %s: curve.public_key: %w", g.ID, err)
					}
					l.fetch.Curve = &zmtp.Curve{Secret: *ckey, Public: zmtp.PublicFromSecret(*ckey), ServerKey: pub}
				}
			}
			a.eps = append(a.eps, ep)
			a.lines = append(a.lines, l)
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

// kafkaOpts returns the base client options: seeds, TLS and SASL, logger and the caller's
// extras.
func (a *Archiver) kafkaOpts() []kgo.Opt {
	opts := append([]kgo.Opt(nil), a.conn...) // seeds, TLS, SASL (shared/kafka)
	opts = append(opts, kgo.WithLogger(kgoLogger{a.log}), kgo.WithHooks(&a.produceLatency))
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
	a.runCtx = ctx
	stopMetrics, err := a.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	if err := a.ensureTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	sp, rec, err := openSpoolSync(a.topo.Archiver.SpoolDir, a.topo.Archiver.SpoolMaxBytes, a.opts.SegmentBytes, a.topo.Archiver.SpoolFsync, a.log)
	if err != nil {
		return err
	}
	a.spool = sp
	defer sp.Close()
	a.Stats.Recovered.Store(uint64(rec.entries))
	a.Stats.SpoolTornBytes.Store(uint64(rec.torn))
	a.Stats.SpoolCorruptBytes.Store(uint64(rec.corrupt))
	skip, err := a.recover(ctx, rec)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	so, err := bus.ReceiverOptions(a.topo, a.topo.Archiver.Curve, a.eps)
	if err != nil {
		return fmt.Errorf("archiver: %w", err)
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
	bg := a.startBackground(newProducer(cl, sp, topics, skip, &a.Stats, a.log), sp)
	// The retransmitter writes to the spool under a.mu like the handler; it stops right
	// after the subscriber, before the spool's readers do.
	stopRetransmitter := a.startRetransmitter()
	err = a.receive(ctx, so)

	// Shut down in reverse: the subscriber is gone; stop the retransmitter and reading the
	// spool, flush what franz-go holds (bounded), close the client; the spool keeps the rest.
	stopRetransmitter()
	bg.stopProducer()
	flushCtx, cancel := context.WithTimeout(context.Background(), a.opts.ShutdownTimeout)
	if ferr := cl.Flush(flushCtx); ferr != nil {
		a.log.Warn("archiver: flush at shutdown incomplete; unacknowledged records stay in the spool", "err", ferr)
	}
	cancel()
	bg.stopMonitor()
	bg.wg.Wait() // the producer exits before Close so that it never produces to a closed client
	cl.Close()
	sp.Trim()
	a.summary()
	if bg.prodErr != nil {
		return bg.prodErr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// serveMetrics binds archiver.metrics first, like the bus (a taken port is a start
// error), and serves it from the start, so recovery shows (/healthz fails until records
// are accepted). stop ends the server and waits for it.
func (a *Archiver) serveMetrics() (stop func(), err error) {
	addr := a.topo.Archiver.Metrics
	if addr == "" {
		return func() {}, nil
	}
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("archiver: metrics: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	reg := a.registry()
	go func() {
		defer close(done)
		if err := reg.ServeListener(sctx, ln, a.health, a.log); err != nil {
			a.log.Error("archiver: metrics server", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}

// background is Run's goroutines besides the subscriber: the producer (reads the spool,
// calls franz-go), the spool monitor and, with spool_fsync interval, the sync loop.
type background struct {
	wg           sync.WaitGroup
	prodErr      error // the producer's, read after wg.Wait
	stopProducer context.CancelFunc
	stopMonitor  context.CancelFunc // and the sync loop
}

func (a *Archiver) startBackground(prod *producer, sp *spool) *background {
	bg := &background{}
	pctx, stopProducer := context.WithCancel(context.Background())
	mctx, stopMonitor := context.WithCancel(context.Background())
	bg.stopProducer, bg.stopMonitor = stopProducer, stopMonitor
	bg.wg.Go(func() { bg.prodErr = prod.run(pctx) })
	bg.wg.Go(func() { a.monitor(mctx, prod) })
	if a.topo.Archiver.SpoolFsync == config.SpoolFsyncInterval {
		bg.wg.Go(func() { sp.syncLoop(mctx, a.topo.Archiver.SpoolFsyncInterval) })
	}
	return bg
}

// startRetransmitter runs the retransmitter, if any; stop ends it, waits for it and
// drains what the handler queued meanwhile.
func (a *Archiver) startRetransmitter() (stop func()) {
	if a.rt == nil {
		return func() {}
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.rt.run(rctx)
	}()
	return func() {
		cancel()
		<-done
		a.rt.drain() // what the handler queued while the retransmitter stopped
	}
}

// receive subscribes to every gateway and handles what arrives until ctx ends.
func (a *Archiver) receive(ctx context.Context, so bus.SubOptions) error {
	sub := bus.NewSubscriber(so, a.log)
	if err := sub.Connect(a.eps...); err != nil {
		return err
	}
	sub.Subscribe("")
	a.ready.Store(true)
	if a.opts.OnReady != nil {
		a.opts.OnReady()
	}
	a.log.Info("archiver: running", "endpoints", len(a.eps), "regions", len(a.regs))
	err := sub.Run(ctx, a.handle)
	sub.Close()
	return err
}

// summary logs the end-of-run counts: what came in, what was archived, and every loss
// counter the archiver keeps (archiver/doc.go "Guarantees").
func (a *Archiver) summary() {
	s := &a.Stats
	a.log.Info("archiver stopped", "received", s.Received.Load(), "accepted", s.Accepted.Load(),
		"produced", s.Produced.Load(), "duplicates", s.Duplicates.Load(), "spool_backlog", s.SpoolBacklog.Load(),
		"retransmitted", s.Retransmitted.Load(), "retransmit_accepted", s.RetransmitAccepted.Load(),
		"lost_spool_full", s.SpoolDropped.Load(), "lost_spool_corrupt", s.SpoolCorruptLost.Load(),
		"lost_retransmit", s.RetransmitLost.Load(), "rejected", s.Rejected.Load(), "unroutable", s.Unroutable.Load())
	for _, l := range a.Lines() {
		var late, evicted uint64
		for i := 0; i < l.Lines; i++ {
			late += l.Arb.Late[i]
			evicted += l.Arb.Evictions[i]
		}
		a.log.Info("archiver stopped: region", "region", l.Region, "real_gaps", l.Merge.RealGaps,
			"arbiter_late", late, "arbiter_evictions", evicted, "failovers", l.Merge.Failovers)
	}
}

// ensureTopics creates or checks the topics (EnsureTopicsDurable), retrying while Kafka is
// unreachable; a partition or durability mismatch fails at once.
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
			d := Durability{ReplicationFactor: a.topo.Archiver.ReplicationFactor, MinInsyncReplicas: a.topo.Archiver.MinISR()}
			rep, err := EnsureTopicsDurable(actx, kadm.NewClient(cl), a.Topics(), d)
			if err == nil {
				for _, w := range rep.Warnings {
					a.log.Warn("archiver: weaker durability than the cluster allows: "+w, "brokers", rep.Brokers)
				}
				a.topics.Store(&rep)
			}
			return err
		}()
		if err == nil || errors.Is(err, ErrPartitionMismatch) || errors.Is(err, ErrDurability) || ctx.Err() != nil {
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
	// seed offers a recovered record to its region's arbiter and notes it for retransmits;
	// partial says its partition's tail does not reach back to the log start, first that it
	// is the first record of that tail.
	seed := func(r *region, value []byte, partial, first bool) {
		if r == nil || wire.ReadHeader(value, &h) != nil {
			return
		}
		r.merger.Arb.Offer(0, &h, now)
		r.index.add(&h)
		a.noteSeed(r, &h, partial, first)
	}
	last, err := a.seedTails(ctx, topics, parts, func(region string, value []byte, partial, first bool) {
		seed(byName[region], value, partial, first)
	})
	if err != nil {
		return nil, err
	}
	a.countSpoolLost(rec, last)
	pending := 0
	err = a.spool.scan(func(e *entry) {
		if e.aseq <= last[seqKey{string(e.region), e.partition}] {
			// In Kafka already (maybe before the tail): an anchor, not a seed.
			if r := byName[string(e.region)]; r != nil && wire.ReadHeader(e.record, &h) == nil {
				r.index.add(&h)
				a.noteArchived(r, &h)
			}
			return
		}
		pending++
		seed(byName[string(e.region)], e.record, false, false)
	})
	if err != nil {
		return nil, err
	}
	for _, r := range a.regs {
		r.merger.Arb.Stats = arbiter.Stats{Streams: r.merger.Arb.Stats.Streams}
	}
	for _, seqs := range []map[seqKey]uint64{last, rec.maxSeq} {
		for k, v := range seqs {
			if r := byName[k.region]; r != nil {
				r.seq[k.partition] = max(r.seq[k.partition], v)
			}
		}
	}
	a.log.Info("archiver: recovered", "tail_records", a.Stats.TailRecords.Load(), "spool_entries", rec.entries,
		"spool_pending", pending, "spool_torn_bytes", rec.torn)
	a.lineAnchors()
	for _, l := range a.lines {
		if l.journal != "" {
			a.rt = newRetransmitter(a, len(a.lines))
			break
		}
	}
	return last, nil
}

// seedTails reads the partition tails (readTails), handing each record to seed, and
// retries from scratch (the arbiters' recovery state reset) until it succeeds or ctx
// ends. It returns the last archive sequence of each partition.
func (a *Archiver) seedTails(ctx context.Context, topics map[string]string, parts map[string]int32,
	seed func(region string, value []byte, partial, first bool)) (map[seqKey]uint64, error) {
	for attempt := 0; ; attempt++ {
		n := uint64(0)
		a.anchors = map[uint16]mark{}
		for _, r := range a.regs {
			clear(r.horizon)
			clear(r.floor)
			r.seeded = false
			r.index = newArchiveIndex(r.index.perGen, time.Duration(r.index.slack))
		}
		last, err := readTails(ctx, a.adminOpts(), topics, parts, a.opts.TailRecords, func(region string, r *kgo.Record, partial, first bool) {
			n++
			seed(region, r.Value, partial, first)
		})
		if err == nil {
			a.Stats.TailRecords.Store(n)
			return last, nil
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
}

// countSpoolLost counts the spool entries lost to corruption that Kafka does not hold
// either (above its last archive sequence): SpoolCorruptLost.
func (a *Archiver) countSpoolLost(rec *spoolRecovery, last map[seqKey]uint64) {
	var lost uint64
	for _, g := range rec.lost {
		from := max(g.from, last[g.key]+1) // at or below Kafka's last sequence: produced before the damage
		if from <= g.to {
			lost += g.to - from + 1
		}
	}
	if lost > 0 {
		a.Stats.SpoolCorruptLost.Store(lost)
		a.log.Error("archiver: spool entries lost to corruption (not in Kafka either)", "records", lost, "corrupt_bytes", rec.corrupt)
	}
}

// handle processes one bus batch on the subscriber's handler goroutine: arbitrate, map to
// a partition, append to the batch buffer, then one spool write. It never blocks on Kafka.
//
// While a line waits for its first live record after a start, openWindows runs first (it
// may wait, without holding a.mu, for the line's restart window to be archived).
func (a *Archiver) handle(batch []bus.Message) {
	if a.waiting > 0 {
		a.openWindows(batch)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now().UnixNano()
	buf := a.batch[:0]
	for i := range batch {
		m := &batch[i]
		a.Stats.Received.Add(1)
		if m.Endpoint < 0 || m.Endpoint >= len(a.lines) {
			continue
		}
		if err := wire.ReadHeader(m.Payload, &a.hdr); err != nil {
			a.Stats.Malformed.Add(1)
			continue
		}
		rec := m.Payload[:a.hdr.Length]
		l := a.lines[m.Endpoint]
		if l.journal != "" && a.rt != nil {
			a.follow(l, &a.hdr)
		}
		if !l.reg.merger.Offer(l.idx, &a.hdr, now) {
			a.Stats.Duplicates.Add(1)
			continue
		}
		buf, a.pending, _ = a.route(l.reg, &a.hdr, rec, buf, a.pending)
	}
	a.batch = buf
	a.writeSpool(buf, a.pending)
	a.pending = a.pending[:0]
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

// pendingEntry is an entry appended to a spool batch and not written yet: what writeSpool
// needs to note it in the region's index once written, or to give its archive sequence
// back when the spool refuses the batch (so that refused records leave no hole in the
// partition's archive sequence).
type pendingEntry struct {
	reg  *region
	part int32
	key  wire.Header // the fields archiveIndex keys on (a copy of the record's header)
}

// route maps an accepted record to its exchange's partition, gives it the partition's next
// archive sequence, appends its spool entry to buf and notes it in pend. A record whose
// exchange has no partition is counted (and its exchange logged once) and route reports
// false. Called under a.mu.
func (a *Archiver) route(r *region, h *wire.Header, rec, buf []byte, pend []pendingEntry) ([]byte, []pendingEntry, bool) {
	p, ok := a.part.Partition(h.Exchange)
	if !ok {
		a.Stats.Unroutable.Add(1)
		if !a.unroutedLog[h.Exchange] {
			a.unroutedLog[h.Exchange] = true
			a.log.Error("archiver: exchange has no partition; its records are counted and not archived",
				"exchange", h.Exchange.String(), "region", r.name, "err", ErrUnroutable)
		}
		return buf, pend, false
	}
	r.seq[p]++
	return appendEntry(buf, r.seq[p], p, r.nameB, rec), append(pend, pendingEntry{r, p, *h}), true
}

// writeSpool writes the entries of pend (appended to entries by route) with one spool write
// and counts them as accepted and notes their events in their regions' indexes. When the
// spool refuses them they are lost — the arbiter has marked them seen, so no other line's
// copy will replace them, though a retransmit still may (the index does not hold them) —
// and counted in Stats.SpoolDropped, and their archive sequences are given back: the
// partition's sequence stays without holes. Called under a.mu, which keeps each
// partition's archive sequences in spool order. It reports whether the entries were
// written.
func (a *Archiver) writeSpool(entries []byte, pend []pendingEntry) bool {
	n := len(pend)
	if n == 0 {
		return true
	}
	if err := a.spool.Write(entries, n); err != nil {
		for i := range pend {
			pend[i].reg.seq[pend[i].part]--
		}
		if a.Stats.SpoolDropped.Add(uint64(n)) == uint64(n) || !errors.Is(err, ErrSpoolFull) {
			a.log.Error("archiver: spool refused records: LOST (counted in spool_dropped_total; logged once when full)", "records", n, "err", err)
		}
		return false
	}
	for i := range pend {
		pend[i].reg.index.add(&pend[i].key)
	}
	a.Stats.Accepted.Add(uint64(n))
	return true
}

// monitor updates the spool gauges and raises or clears the alarm every 100 ms.
func (a *Archiver) monitor(ctx context.Context, p *producer) {
	clock.Every(ctx, 100*time.Millisecond, func() {
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
	})
}

// LineStats is a snapshot of one region's arbitration.
type LineStats struct {
	Region string
	Merge  arbiter.MergeStats
	Arb    arbiter.Stats
	Lines  int // the region's lines (gateways)
}

// Lines returns a snapshot of every region's merger and arbiter counters.
func (a *Archiver) Lines() []LineStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]LineStats, 0, len(a.regs))
	for _, r := range a.regs {
		out = append(out, LineStats{Region: r.name, Merge: r.merger.Stats, Arb: r.merger.Arb.Stats, Lines: r.lines})
	}
	return out
}
