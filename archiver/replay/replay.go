// Package replay reads the archive back from Kafka: the topics of the chosen regions, the
// partitions of the chosen exchanges, a time range found with offsets-for-times, merged
// across partitions and regions in time order (event time, then gateway receive time),
// arbitrated so that each exchange event is written once (the live receivers' arbiter),
// paced at a speed factor or as fast as possible, and written to a Sink: the ZeroMQ bus in
// the wire format (a strategy connects to it unchanged), JSON lines, CSV or Parquet. Every
// record written carries wire.FlagReplay.
//
// # Goroutines and ownership
//
// Run fetches (franz-go fetches in the background), merges, arbitrates, paces and writes on
// its own goroutine; it owns the per-partition queues and the merger and calls the Sink
// from that goroutine only. A progress goroutine (Options.Progress) and the metrics server
// (Options.Metrics, see Register and ControlHandler) read counters. Pause, Resume, SetSpeed
// and SeekTo may be called from any goroutine (a signal handler, the HTTP control).
//
// # Memory
//
// Bounded whatever the range: selected records are copied out of the fetch buffers into
// per-partition queues of about Options.MaxPartitionBytes; a full partition's fetching is
// paused until the merge has taken half, a finished one for good; fetches are bounded by
// Options.FetchMaxBytes. A slow sink stops the merge and, through the paused partitions,
// the fetching.
//
// # Order
//
// Within a partition records keep their archive order (the order the archiver received
// them: an exchange's instruments can be out of exchange-time order by tens of ms), unless
// Options.Reorder orders them by event time within that window (the out-of-order ones go
// through a heap per partition). Across partitions the merge is a k-way merge on (event
// time, gateway receive time, partition index): the event time is the record's exact
// exchange time in ns (kafka.EventTime; the Kafka timestamp is the same value in ms), so
// records within one millisecond keep their true order too. A record is emitted only when
// every partition that is not finished has a record queued (and, with Reorder, one a window
// later), so the merge never emits a record before an earlier one that has not been fetched
// yet (Follow relaxes this at the live edge). Steps back in time are counted
// (Stats.Inversions). OrderPublish instead keeps each gateway's publish order.
//
// # Time range
//
// [From, To) in ns. The start offset of each partition is the first offset whose Kafka
// timestamp is at or after From's millisecond (kadm ListOffsetsAfterMilli), the end the
// first at or after To's (rounded up), bounded by the partition's end when Run starts;
// records outside [From, To) by their exact event time are filtered. A record written
// after the first record at or after To but carrying an earlier time (an exchange
// timestamp out of order) is not replayed.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// Order is how Run merges partitions and regions.
type Order uint8

// Merge orders.
const (
	// OrderEvent merges by exchange event time (receive time when the exchange gives
	// none): the market as it happened, for analysis.
	OrderEvent Order = 0
	// OrderPublish merges records of one gateway in its publish order (gateway sequence)
	// and records of different gateways by gateway receive time: what a subscriber of that
	// gateway saw live, so that a strategy replayed on it makes the same decisions
	// (replay equivalence). Pacing still follows receive time.
	OrderPublish Order = 1
)

// ErrNoTopics: the selection names no topic to replay.
var ErrNoTopics = errors.New("replay: nothing selected")

// Options select and pace a replay. Zero fields select everything, unbounded, at max speed.
type Options struct {
	// Regions whose topics are replayed; empty = every region with a topic.
	Regions []string
	// Topics replays these topics directly (their region is looked up in the topology,
	// "" when it has none); combined with Regions.
	Topics []string
	// Exchanges to replay (their partitions only); empty = all.
	Exchanges []wire.Exchange
	// Instruments (canonical BASE-QUOTE) to replay; empty = all.
	Instruments []string
	// Kinds to replay; empty = all.
	Kinds []wire.Kind
	// From and To bound event times, ns since the Unix epoch: [From, To). 0 = unbounded.
	From, To int64
	// Speed is the pace factor (1 = real time, 10 = ten times faster); 0 = as fast as
	// possible (config.ParseSpeed's "max").
	Speed float64
	// Order is the merge order across partitions (default OrderEvent).
	Order Order
	// Reorder (OrderEvent only) puts each partition's records in event-time order too: a
	// record is held until its partition has queued one Reorder later in event time (or
	// finished, or filled its queue), so records out of archive order by up to Reorder are
	// written in exact event order. Larger disorder still shows as inversions
	// (Stats.Inversions). 0 keeps each partition's archive order.
	Reorder time.Duration
	// AllCopies keeps every archived copy of an event. By default the merged records are
	// arbitrated across regions and gateways with the live receivers' arbiter
	// (shared/arbiter, topology arbitration section): each exchange event once, from the
	// line whose copy comes first in the merge; the other copies count in
	// Stats.Duplicates.
	AllCopies bool
	// Follow keeps reading after the end of the archive: new records are replayed as the
	// archiver writes them (a live tail), until ctx ends or, with To, every partition has
	// passed To. At the live edge a partition that has nothing new does not hold the others
	// back (records are merged as they come; a late one counts in Stats.Inversions).
	Follow bool
	// KafkaOpts are appended to the franz-go client's options.
	KafkaOpts []kgo.Opt
	// Progress, when set, receives a progress bar (every 200 ms, and a final line).
	Progress io.Writer
	// MaxPartitionBytes bounds the record bytes queued per partition (copied out of the
	// fetch buffers); beyond it the partition's fetching pauses until the merge has taken
	// half. Default 1 MiB. With FetchMaxBytes it bounds the replay's memory whatever the
	// range: about partitions × 2 × MaxPartitionBytes + brokers × FetchMaxBytes (× the
	// compression ratio, decompressed).
	MaxPartitionBytes int
	// FetchMaxBytes bounds one fetch response (franz-go FetchMaxBytes, compressed bytes);
	// the per-partition limit is half of it. Default 256 KiB: on loopback Kafka it was
	// both the fastest and the smallest of 256 KiB, 1 MiB and 4 MiB (1M records: 1.37M
	// records/s and 81 MB peak RSS, against 0.99M/s and 121 MB at 1 MiB).
	FetchMaxBytes int32
	// Metrics is the host:port Run serves Prometheus /metrics (tickline_replay_*) and
	// /healthz on until it returns; empty = none. Port 0 picks a free port (MetricsAddr).
	Metrics string
}

// Stats count what a replay did. Readable from any goroutine.
type Stats struct {
	Total     atomic.Int64 // records in the selected offset ranges (known after start)
	Read      atomic.Int64 // records read from Kafka
	Written   atomic.Int64 // records written to the sink
	Bytes     atomic.Int64 // value bytes written to the sink
	Filtered  atomic.Int64 // records read but not selected (time, instrument, kind, exchange)
	Malformed atomic.Int64 // values that are not wire records
	// Duplicates counts records dropped by arbitration: copies of an event already
	// written (another region or gateway archived it too), and late copies.
	Duplicates atomic.Int64
	// Inversions counts records written with an earlier merge time than the record before
	// them (see Order: within a partition the archive order is kept); MaxInversionNs is
	// the largest step back.
	Inversions     atomic.Int64
	MaxInversionNs atomic.Int64
}

// Replayer replays one selection. Create with New, run with Run.
type Replayer struct {
	topo *config.Topology
	opts Options
	sink Sink
	log  *slog.Logger
	// Stats are live counters.
	Stats Stats

	merger *arbiter.Merger // nil with AllCopies; owned by Run's goroutine
	lineOf map[uint16]int  // gateway id → merger line

	insts    map[wire.Name]bool
	kinds    [256]bool
	exs      [256]bool
	pause    atomic.Pointer[chan struct{}] // non-nil while paused; closed by Resume
	pmu      sync.Mutex                    // serializes Pause and Resume
	paused   atomic.Int64                  // ns spent paused in finished pauses
	pausedAt atomic.Int64                  // when the current pause began (unix ns), 0 if none
	// Runtime control (SetSpeed, SeekTo): ctl wakes Run's goroutine from a pause or a pacing
	// wait; speed holds math.Float64bits of the pace factor; seek the requested position.
	ctl   chan struct{}
	speed atomic.Uint64
	seek  atomic.Pointer[int64]

	// Read by /metrics and /healthz; written by Run's goroutine.
	planned     atomic.Bool            // Stats.Total is known
	lastTime    atomic.Int64           // event time of the last record written, ns
	failed      atomic.Pointer[error]  // the error Run returns, once a step failed
	metricsAddr atomic.Pointer[string] // where /metrics is served
}

// New checks the selection against the topology. It connects to nothing; Run does.
func New(topo *config.Topology, opts Options, sink Sink, log *slog.Logger) (*Replayer, error) {
	if opts.MaxPartitionBytes <= 0 {
		opts.MaxPartitionBytes = 1 << 20
	}
	if opts.FetchMaxBytes <= 0 {
		opts.FetchMaxBytes = 256 << 10
	}
	if opts.Speed < 0 || math.IsNaN(opts.Speed) || math.IsInf(opts.Speed, 0) {
		return nil, fmt.Errorf("replay: speed %v", opts.Speed)
	}
	if opts.Reorder < 0 || opts.Reorder > 0 && opts.Order != OrderEvent {
		return nil, fmt.Errorf("replay: reorder %v: a window ≥ 0, for event order only (publish order is exact per gateway)", opts.Reorder)
	}
	if opts.To != 0 && opts.From >= opts.To {
		return nil, fmt.Errorf("replay: empty time range [%s, %s)", FormatTime(opts.From), FormatTime(opts.To))
	}
	r := &Replayer{topo: topo, opts: opts, sink: sink, log: log.With("process", "replay"), ctl: make(chan struct{}, 1)}
	r.speed.Store(math.Float64bits(opts.Speed))
	if !opts.AllCopies {
		r.merger = arbiter.NewMerger(arbiter.New(arbiter.OptionsFrom(topo.Arbitration)), arbiter.MaxLines, 0)
		r.lineOf = map[uint16]int{}
		for i, g := range topo.Gateways {
			if i < arbiter.MaxLines {
				r.lineOf[g.Num] = i
			}
		}
	}
	if len(opts.Instruments) > 0 {
		r.insts = map[wire.Name]bool{}
		for _, s := range opts.Instruments {
			var n wire.Name
			if err := n.SetString(s); err != nil {
				return nil, fmt.Errorf("replay: instrument %q: %w", s, err)
			}
			r.insts[n] = true
		}
	}
	for _, k := range opts.Kinds {
		r.kinds[k] = true
	}
	for _, ex := range opts.Exchanges {
		if _, ok := topo.Archiver.Partition(ex); !ok {
			return nil, fmt.Errorf("replay: exchange %s has no partition in archiver.partitions", ex)
		}
		r.exs[ex] = true
	}
	for _, reg := range opts.Regions {
		if _, ok := topo.Archiver.Topics[reg]; !ok {
			return nil, fmt.Errorf("replay: region %q has no topic in archiver.topics", reg)
		}
	}
	return r, nil
}

// Pause stops emitting records (fetching continues up to MaxPartitionBytes) until Resume. Paced
// replays resume at the same point of archive time, shifted by the pause. Safe from any
// goroutine; idempotent.
func (r *Replayer) Pause() {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	defer r.wake()
	if r.pause.Load() == nil {
		ch := make(chan struct{})
		r.pausedAt.Store(time.Now().UnixNano())
		r.pause.Store(&ch)
	}
}

// Resume undoes Pause. Safe from any goroutine; idempotent.
func (r *Replayer) Resume() {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	if ch := r.pause.Load(); ch != nil {
		r.paused.Add(time.Now().UnixNano() - r.pausedAt.Swap(0))
		r.pause.Store(nil)
		close(*ch)
	}
}

// PausedFor returns the time spent paused so far, the current pause included.
func (r *Replayer) PausedFor() time.Duration {
	r.pmu.Lock()
	defer r.pmu.Unlock()
	d := r.paused.Load()
	if at := r.pausedAt.Load(); at != 0 {
		d += time.Now().UnixNano() - at
	}
	return time.Duration(d)
}

// SetSpeed changes the pace factor while the replay runs (0 = as fast as possible): the
// next record is written at once and the schedule restarts from it. Safe from any
// goroutine.
func (r *Replayer) SetSpeed(speed float64) error {
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return fmt.Errorf("replay: speed %v: want a factor > 0, or 0 for max", speed)
	}
	r.speed.Store(math.Float64bits(speed))
	r.wake()
	return nil
}

// Speed returns the current pace factor (0 = max).
func (r *Replayer) Speed() float64 { return math.Float64frombits(r.speed.Load()) }

// SeekTo moves the replay to event time t (ns; within [From, To) when those are set): Run
// drops what it has queued, finds each partition's offset for t again and goes on from
// there, with a fresh arbiter. A pause stays in force. Safe from any goroutine.
func (r *Replayer) SeekTo(t int64) error {
	if t < r.opts.From || r.opts.To > 0 && t >= r.opts.To {
		return fmt.Errorf("replay: seek to %s: outside the range [%s, %s)", FormatTime(t), FormatTime(r.opts.From), FormatTime(r.opts.To))
	}
	r.seek.Store(&t)
	r.wake()
	return nil
}

// wake tells Run's goroutine that a control changed.
func (r *Replayer) wake() {
	select {
	case r.ctl <- struct{}{}:
	default:
	}
}

// Paused reports whether the replay is paused.
func (r *Replayer) Paused() bool { return r.pause.Load() != nil }

// part is one partition's queue, owned by Run's goroutine. Selected records are copied
// out of franz-go's fetch buffers into buf (the values, FIFO) and q (their merge keys), so
// what a partition holds is bounded by Options.MaxPartitionBytes whatever the range, and
// the fetched batches are garbage as soon as they have been copied.
type part struct {
	topic     string
	region    string
	partition int32
	idx       int
	start     int64 // first offset to read
	end       int64 // exclusive end offset
	next      int64 // next offset expected from a fetch (earlier ones are re-deliveries)
	hwm       int64 // the partition's high watermark last seen (Follow: caught up at next ≥ hwm)
	done      bool  // every record below end has been read
	paused    bool  // fetching paused (queue full)
	q         []queued
	head      int    // first entry of q not yet written
	live      int    // entries of q[head:] not yet written
	buf       []byte // values of q[head:], in order, from buf[bufHead:]
	bufHead   int
	maxT      int64 // latest merge time queued
	reorder   int64 // Options.Reorder in ns; 0 = archive order
	// With reorder, entries that arrive in key order (the usual case) stay in the queue's
	// order: fh is the first of them not yet written. Entries that arrive earlier than the
	// last in-order one ("side" entries, the exchange's disorder) go to heap, a min-heap of
	// their indices in q. The next entry is the lesser of the two.
	fh           int
	lastT, lastR int64 // key (merge time, receive time) of the last in-order entry
	heap         []int
}

// queued is a selected record's merge key and where its value is in part.buf.
type queued struct {
	t      int64 // event time (receive time with OrderPublish), ns
	recv   int64 // gateway receive time, ns
	gwSeq  uint64
	offset int64
	at, n  int // value at buf[at:at+n]
	gw     uint16
	gone   bool // written (with reorder, entries leave out of queue order)
	side   bool // with reorder: arrived out of key order, in part.heap
}

// span is the bytes the queue holds: from its oldest unwritten value to the newest.
func (p *part) span() int { return len(p.buf) - p.bufHead }

// push copies value into the queue. It may move queued values (compaction), so a value
// returned by pop is valid only until the next push.
func (p *part) push(q queued, value []byte) {
	if p.head == len(p.q) {
		p.q, p.head, p.fh, p.buf, p.bufHead = p.q[:0], 0, 0, p.buf[:0], 0
	}
	if len(p.q) == cap(p.q) && p.head > len(p.q)/2 {
		n := copy(p.q, p.q[p.head:])
		for i := range p.heap {
			p.heap[i] -= p.head
		}
		p.q, p.fh, p.head = p.q[:n], max(p.fh, p.head)-p.head, 0
	}
	if len(p.buf)+len(value) > cap(p.buf) && p.bufHead > len(p.buf)/2 {
		n := copy(p.buf, p.buf[p.bufHead:])
		for i := range p.q[p.head:] {
			p.q[p.head+i].at -= p.bufHead
		}
		p.buf, p.bufHead = p.buf[:n], 0
	}
	q.at, q.n = len(p.buf), len(value)
	if p.reorder > 0 {
		if q.t < p.lastT || q.t == p.lastT && q.recv < p.lastR {
			q.side = true
		} else {
			p.lastT, p.lastR = q.t, q.recv
		}
	}
	p.buf = append(p.buf, value...)
	p.q = append(p.q, q)
	p.live++
	p.maxT = max(p.maxT, q.t)
	if q.side {
		p.heap = append(p.heap, len(p.q)-1)
		p.up(len(p.heap) - 1)
	}
}

// top returns the index in q of the entry to write next: the oldest, or with reorder the
// earliest by (merge time, receive time, offset).
func (p *part) top() int {
	if p.reorder == 0 {
		return p.head
	}
	p.fh = max(p.fh, p.head)
	for p.fh < len(p.q) && (p.q[p.fh].gone || p.q[p.fh].side) {
		p.fh++
	}
	if len(p.heap) == 0 || p.fh < len(p.q) && p.key(p.fh, p.heap[0]) {
		return p.fh
	}
	return p.heap[0]
}

// ready reports whether the top entry may be written: without reorder always; with it once
// the partition has queued a record reorder later (no earlier one can still come within
// the window), or nothing more can come soon: finished, caught up when following, or its
// fetching paused because the queue filled — then records are released until it resumes
// (a window wider than the queue holds costs order, counted as inversions, not progress).
func (p *part) ready(full int, caughtUp bool) bool {
	return p.reorder == 0 || p.done || caughtUp || p.paused || p.span() >= full || p.q[p.top()].t+p.reorder <= p.maxT
}

// pop removes the top entry and returns it with its value (valid until the next push).
func (p *part) pop() (queued, []byte) {
	i := p.top()
	if p.q[i].side {
		last := len(p.heap) - 1
		p.heap[0] = p.heap[last]
		p.heap = p.heap[:last]
		p.down(0)
	}
	q := p.q[i]
	p.q[i].gone = true
	p.live--
	for p.head < len(p.q) && p.q[p.head].gone {
		p.bufHead = p.q[p.head].at + p.q[p.head].n
		p.head++
	}
	return q, p.buf[q.at : q.at+q.n : q.at+q.n]
}

// before orders two heap positions of one partition for reorder.
func (p *part) before(i, j int) bool { return p.key(p.heap[i], p.heap[j]) }

// key orders two entries of q for reorder: merge time, receive time, offset.
func (p *part) key(i, j int) bool {
	a, b := &p.q[i], &p.q[j]
	if a.t != b.t {
		return a.t < b.t
	}
	if a.recv != b.recv {
		return a.recv < b.recv
	}
	return a.offset < b.offset
}

func (p *part) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !p.before(i, parent) {
			return
		}
		p.heap[i], p.heap[parent] = p.heap[parent], p.heap[i]
		i = parent
	}
}

func (p *part) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(p.heap) {
			return
		}
		m := l
		if r := l + 1; r < len(p.heap) && p.before(r, l) {
			m = r
		}
		if !p.before(m, i) {
			return
		}
		p.heap[i], p.heap[m] = p.heap[m], p.heap[i]
		i = m
	}
}

// less orders queue heads: event time, receive time, partition index — or, with
// OrderPublish, gateway sequence within one gateway and receive time across gateways.
func less(a *queued, ai int, b *queued, bi int) bool {
	if a.gw != 0 && a.gw == b.gw && a.gwSeq != b.gwSeq && a.t == a.recv && b.t == b.recv {
		return a.gwSeq < b.gwSeq // OrderPublish within one gateway: exactly its publish order
	}
	if a.t != b.t {
		return a.t < b.t
	}
	if a.recv != b.recv {
		return a.recv < b.recv
	}
	return ai < bi
}

// selection returns topic → region for the selected topics.
func (r *Replayer) selection() map[string]string {
	out := map[string]string{}
	regions := r.opts.Regions
	if len(regions) == 0 && len(r.opts.Topics) == 0 {
		for reg := range r.topo.Archiver.Topics {
			regions = append(regions, reg)
		}
	}
	for _, reg := range regions {
		out[r.topo.Archiver.Topics[reg]] = reg
	}
	for _, t := range r.opts.Topics {
		reg := ""
		for rn, tn := range r.topo.Archiver.Topics {
			if tn == t {
				reg = rn
			}
		}
		out[t] = reg
	}
	return out
}

// wantPartition reports whether a partition is selected by the exchange filter.
func (r *Replayer) wantPartition(p int32) bool {
	if len(r.opts.Exchanges) == 0 {
		return true
	}
	for _, ex := range r.opts.Exchanges {
		if n, _ := r.topo.Archiver.Partition(ex); n == p {
			return true
		}
	}
	return false
}

// Run replays the selection to the sink, closes the sink, and returns when everything
// selected has been written, ctx ends (nil is returned then, the sink is still closed) or
// a step fails. With Options.Metrics it serves /metrics and /healthz until it returns
// (closing the sink included); failing to listen there is an error before anything else.
func (r *Replayer) Run(ctx context.Context) (err error) {
	stopMetrics, err := r.serveMetrics()
	if err != nil {
		r.sink.Close()
		return err
	}
	defer stopMetrics()
	defer func() {
		if err != nil {
			// /healthz reports it while the sink closes; a copy, as err may change below.
			failed := err
			r.failed.Store(&failed)
		}
		if cerr := r.sink.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("replay: closing output: %w", cerr)
		}
	}()
	sel := r.selection()
	if len(sel) == 0 {
		return ErrNoTopics
	}
	topics := make([]string, 0, len(sel))
	for t := range sel {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	conn, err := kafka.ClientOpts(&r.topo.Archiver) // seeds, TLS, SASL: the archiver's own settings
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	base := append(append(conn, kgo.MetadataMinAge(time.Second)), r.opts.KafkaOpts...)
	stopProgress := func() {}
	defer func() { stopProgress() }()
	from := r.opts.From
	for seeks := 0; ; seeks++ {
		parts, offsets, err := r.plan(ctx, base, topics, sel, from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		total := rangeTotal(parts)
		if seeks == 0 {
			r.Stats.Total.Store(total)
			r.planned.Store(true)
			r.log.Info("replay: starting", "topics", topics, "partitions", len(parts), "records_in_range", total,
				"from", FormatTime(r.opts.From), "to", FormatTime(r.opts.To), "follow", r.opts.Follow)
			stopProgress = r.startProgress()
		} else {
			// Progress goes on from what is done, towards the new position's range.
			r.Stats.Total.Store(r.processed() + total)
			r.log.Info("replay: seeked", "to", FormatTime(from), "records_in_range", total)
		}
		if len(parts) == 0 || total == 0 && !r.opts.Follow {
			return nil
		}
		cl, err := r.consumer(base, offsets)
		if err != nil {
			return err
		}
		err = r.merge(ctx, cl, parts)
		cl.Close()
		if !errors.Is(err, errSeek) {
			return err
		}
		from = *r.seek.Swap(nil)
		if r.merger != nil { // what was seen before the seek is not a copy of what comes
			r.merger = arbiter.NewMerger(arbiter.New(arbiter.OptionsFrom(r.topo.Arbitration)), arbiter.MaxLines, 0)
		}
	}
}

// rangeTotal counts the records in the planned ranges (those of partitions with an end).
func rangeTotal(parts []*part) int64 {
	var total int64
	for _, p := range parts {
		if !p.done && p.end != math.MaxInt64 {
			total += p.end - p.start
		}
	}
	return total
}

// consumer returns the client that fetches the planned offsets.
func (r *Replayer) consumer(base []kgo.Opt, offsets map[string]map[int32]kgo.Offset) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(base, kgo.ConsumePartitions(offsets),
		// A fetch of partitions at their log end waits this long and delays a partition
		// resumed meanwhile: keep it short (it costs nothing while records are there).
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxBytes(r.opts.FetchMaxBytes), kgo.FetchMaxPartitionBytes(max(r.opts.FetchMaxBytes/2, 16<<10)))...)
	if err != nil {
		return nil, fmt.Errorf("replay: kafka client: %w", err)
	}
	return cl, nil
}

// errSeek ends merge when SeekTo was called: Run plans again from the new position.
var errSeek = errors.New("replay: seek")

// processed counts the records read and settled: written, filtered, dropped by
// arbitration or malformed (not those read ahead and still queued).
func (r *Replayer) processed() int64 {
	return r.Stats.Written.Load() + r.Stats.Filtered.Load() + r.Stats.Duplicates.Load() + r.Stats.Malformed.Load()
}

// plan lists the partitions of the selected topics and their offset ranges.
func (r *Replayer) plan(ctx context.Context, base []kgo.Opt, topics []string, sel map[string]string, fromNs int64) ([]*part, map[string]map[int32]kgo.Offset, error) {
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if topics, err = r.existing(ctx, adm, topics); err != nil || len(topics) == 0 {
		return nil, nil, err
	}
	o, err := r.listOffsets(ctx, adm, topics, fromNs)
	if err != nil {
		return nil, nil, err
	}
	var parts []*part
	from := map[string]map[int32]kgo.Offset{}
	for _, t := range topics {
		for _, e := range o.ends[t] {
			if !r.wantPartition(e.Partition) {
				continue
			}
			p := o.part(t, sel[t], e, r.opts.Follow)
			if from[t] == nil {
				from[t] = map[int32]kgo.Offset{}
			}
			from[t][e.Partition] = kgo.NewOffset().At(p.start)
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b *part) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	for i, p := range parts {
		p.idx = i
		if p.done {
			delete(from[p.topic], p.partition)
		}
	}
	for t, m := range from {
		if len(m) == 0 {
			delete(from, t)
		}
	}
	return parts, from, nil
}

// existing returns the topics that exist. A topic that does not is an error when the
// selection named it, and skipped when it was implied ("all regions").
func (r *Replayer) existing(ctx context.Context, adm *kadm.Client, topics []string) ([]string, error) {
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("replay: listing topics %v: %w", topics, err)
	}
	explicit := len(r.opts.Regions) > 0 || len(r.opts.Topics) > 0
	var out []string
	for _, t := range topics {
		td, ok := details[t]
		if ok && td.Err == nil {
			out = append(out, t)
			continue
		}
		if explicit {
			err := td.Err
			if err == nil {
				err = kerr.UnknownTopicOrPartition
			}
			return nil, fmt.Errorf("replay: topic %q: %w", t, err)
		}
		r.log.Warn("replay: topic does not exist, skipped", "topic", t)
	}
	return out, nil
}

// rangeOffsets are the offsets that bound a plan: each partition's end, the start (its
// first offset, or the first at the From time) and the stop (the first at the To time,
// when To is set).
type rangeOffsets struct{ ends, starts, stops kadm.ListedOffsets }

// listOffsets lists the offsets that bound the range [fromNs, To) in topics.
func (r *Replayer) listOffsets(ctx context.Context, adm *kadm.Client, topics []string, fromNs int64) (rangeOffsets, error) {
	var o rangeOffsets
	list := func(dst *kadm.ListedOffsets, what string, f func() (kadm.ListedOffsets, error)) error {
		l, err := f()
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return fmt.Errorf("replay: listing %s offsets of %v: %w", what, topics, err)
		}
		*dst = l
		return nil
	}
	if err := list(&o.ends, "end", func() (kadm.ListedOffsets, error) { return adm.ListEndOffsets(ctx, topics...) }); err != nil {
		return o, err
	}
	var err error
	if fromNs > 0 {
		err = list(&o.starts, "from-time", func() (kadm.ListedOffsets, error) {
			return adm.ListOffsetsAfterMilli(ctx, fromNs/1e6, topics...)
		})
	} else {
		err = list(&o.starts, "start", func() (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, topics...) })
	}
	if err != nil || r.opts.To <= 0 {
		return o, err
	}
	ms := (r.opts.To + 1e6 - 1) / 1e6
	return o, list(&o.stops, "to-time", func() (kadm.ListedOffsets, error) { return adm.ListOffsetsAfterMilli(ctx, ms, topics...) })
}

// part makes the queue of the partition whose end is e, with its range: from the start
// offset (the end when there is none) to the stop offset, or without end when follow.
func (o *rangeOffsets) part(topic, region string, e kadm.ListedOffset, follow bool) *part {
	p := &part{topic: topic, region: region, partition: e.Partition, end: e.Offset, hwm: e.Offset}
	s, ok := o.starts.Lookup(topic, e.Partition)
	start := s.Offset
	if !ok || start < 0 {
		start = e.Offset
	}
	if st, ok := o.stops.Lookup(topic, e.Partition); ok && st.Offset >= 0 && st.Offset < p.end {
		p.end = st.Offset
	} else if follow {
		p.end = math.MaxInt64 // no end yet: read what the archiver writes
	}
	p.start, p.done = start, start >= p.end
	return p
}

// merge runs the k-way merge until every partition is done.
func (r *Replayer) merge(ctx context.Context, cl *kgo.Client, parts []*part) error {
	byTP := map[string]map[int32]*part{}
	for _, p := range parts {
		if byTP[p.topic] == nil {
			byTP[p.topic] = map[int32]*part{}
		}
		byTP[p.topic][p.partition] = p
		p.next = p.start
		p.reorder = int64(r.opts.Reorder)
	}
	m := merging{parts: parts, byTP: byTP, pacer: pacer{speed: r.opts.Speed}}
	for {
		// Fetch until every unfinished partition has a record queued; full partitions are
		// paused meanwhile, so what is queued stays bounded.
		for r.needFetch(parts) {
			if r.seek.Load() != nil {
				return errSeek
			}
			r.resumeDrained(cl, parts)
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err := r.takeFetches(fetches, &m); err != nil {
				return err
			}
			r.pauseFull(cl, parts)
		}
		best := earliest(parts)
		if best < 0 {
			if !r.opts.Follow || allDone(parts) {
				return nil // every partition done and drained
			}
			// Follow, every partition caught up: wait for new records (or a control).
			if err := r.idlePoll(ctx, cl, &m); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			continue
		}
		if err := r.emit(ctx, parts[best], &m); err != nil {
			if errors.Is(err, errInterrupted) {
				return nil
			}
			return err
		}
	}
}

// merging is merge's state, owned by Run's goroutine.
type merging struct {
	parts []*part
	byTP  map[string]map[int32]*part
	h     wire.Header // the header of the record at hand
	pacer pacer
	lastT int64 // merge time of the latest record written
}

// takeFetches queues the records fetched; a fetch error fails the replay.
func (r *Replayer) takeFetches(fetches kgo.Fetches, m *merging) error {
	var fetchErr error
	fetches.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			fetchErr = fmt.Errorf("replay: fetching %s/%d: %w", t, p, err)
		}
	})
	if fetchErr != nil {
		return fetchErr
	}
	fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
		p := m.byTP[ftp.Topic][ftp.Partition]
		if p == nil {
			return
		}
		if ftp.HighWatermark > 0 {
			p.hwm = ftp.HighWatermark
		}
		for _, rec := range ftp.Records {
			r.take(p, rec, &m.h)
		}
	})
	return nil
}

// earliest returns the index of the partition whose head comes first, -1 when every
// queue is empty.
func earliest(parts []*part) int {
	best := -1
	for i, p := range parts {
		if p.live == 0 {
			continue
		}
		if best < 0 || less(&p.q[p.top()], i, &parts[best].q[parts[best].top()], best) {
			best = i
		}
	}
	return best
}

// errInterrupted: ctx ended while emit waited for a record's time.
var errInterrupted = errors.New("replay: interrupted")

// emit takes bp's head, arbitrates it, waits for its time and writes it. It returns the
// sink's error, errSeek, or errInterrupted when ctx ended during the wait.
func (r *Replayer) emit(ctx context.Context, bp *part, m *merging) error {
	h := &m.h
	q, value := bp.pop()
	if err := wire.ReadHeader(value, h); err != nil {
		return fmt.Errorf("replay: %w", err) // checked when queued: cannot happen
	}
	if r.merger != nil && !r.merger.Offer(r.line(h.GatewayID), h, h.TsRecv) {
		r.Stats.Duplicates.Add(1)
		return nil
	}
	if err := r.hold(ctx, &m.pacer, q.t); err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err // errSeek
	}
	if q.t < m.lastT {
		r.Stats.Inversions.Add(1)
		if d := m.lastT - q.t; d > r.Stats.MaxInversionNs.Load() {
			r.Stats.MaxInversionNs.Store(d)
		}
	} else {
		m.lastT = q.t
	}
	// The value is Run's own copy: mark it as coming from the archive.
	h.Flags |= wire.FlagReplay
	wire.SetFlags(value, h.Flags)
	if err := r.sink.Write(value, h); err != nil {
		return fmt.Errorf("replay: writing record %s/%d@%d: %w", bp.topic, bp.partition, q.offset, err)
	}
	r.Stats.Written.Add(1)
	r.Stats.Bytes.Add(int64(q.n))
	r.lastTime.Store(kafka.EventTime(h))
	return nil
}

// line returns the merger line of a gateway: its index in the topology, or the next free
// line for a gateway the topology does not name (lines beyond arbiter.MaxLines share).
func (r *Replayer) line(gw uint16) int {
	l, ok := r.lineOf[gw]
	if !ok {
		l = len(r.lineOf) % arbiter.MaxLines
		r.lineOf[gw] = l
	}
	return l
}

// hold waits until the record with merge time t may be written: not paused, due by the
// pace. It applies speed changes and returns errSeek when a seek is pending, ctx.Err()
// when ctx ended.
func (r *Replayer) hold(ctx context.Context, pc *pacer, t int64) error {
	for {
		if r.seek.Load() != nil {
			return errSeek
		}
		if sp := r.Speed(); sp != pc.speed {
			pc.speed, pc.started = sp, false // the schedule restarts at this record
		}
		if ch := r.pause.Load(); ch != nil {
			t0 := time.Now()
			select {
			case <-*ch:
			case <-r.ctl:
			case <-ctx.Done():
				return ctx.Err()
			}
			pc.shift(time.Since(t0))
			continue
		}
		switch pc.wait(ctx, t, r.ctl) {
		case waitDue:
			return nil
		case waitDone:
			return ctx.Err()
		}
		// waitWoken: a control changed; look again.
	}
}

// idlePoll (Follow) waits for new records while every partition is caught up, waking for
// a control (SeekTo) too.
func (r *Replayer) idlePoll(ctx context.Context, cl *kgo.Client, m *merging) error {
	pctx, cancel := context.WithCancel(ctx)
	woke := make(chan struct{})
	go func() {
		defer close(woke)
		select {
		case <-r.ctl:
			cancel()
			r.wake() // hold sees it too
		case <-pctx.Done():
		}
	}()
	fetches := cl.PollFetches(pctx)
	cancel()
	<-woke // the helper has exited
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.seek.Load() != nil {
		return errSeek
	}
	return r.takeFetches(fetches, m)
}

func allDone(parts []*part) bool {
	for _, p := range parts {
		if !p.done || p.live > 0 {
			return false
		}
	}
	return true
}

// take queues one fetched record of p if it is in range and selected. A record below
// p.next was delivered before (a fetch re-issued after a pause) and is skipped; one at or
// beyond p.end finishes the partition.
func (r *Replayer) take(p *part, rec *kgo.Record, h *wire.Header) {
	if p.done || rec.Offset < p.next {
		return
	}
	if rec.Offset >= p.end {
		p.done = true
		return
	}
	p.next = rec.Offset + 1
	r.Stats.Read.Add(1)
	if p.next == p.end {
		p.done = true
	}
	q, ev, ok := r.selectRecord(rec.Value, h)
	if ok {
		q.offset = rec.Offset
		p.push(q, rec.Value)
	}
	if r.opts.Follow && r.opts.To > 0 && ev >= r.opts.To {
		p.done = true // following with an end: this partition has passed it
	}
}

// selectRecord applies the filters and computes the merge key. ev is the record's event
// time (-1 when malformed).
func (r *Replayer) selectRecord(v []byte, h *wire.Header) (q queued, ev int64, ok bool) {
	if err := wire.ReadHeader(v, h); err != nil || int(h.Length) != len(v) {
		r.Stats.Malformed.Add(1)
		return queued{}, -1, false
	}
	t := kafka.EventTime(h)
	switch {
	case t < r.opts.From, r.opts.To > 0 && t >= r.opts.To,
		r.insts != nil && !r.insts[h.Instrument],
		len(r.opts.Kinds) > 0 && !r.kinds[h.Kind],
		len(r.opts.Exchanges) > 0 && !r.exs[h.Exchange]:
		r.Stats.Filtered.Add(1)
		return queued{}, t, false
	}
	ev = t
	if r.opts.Order == OrderPublish {
		t = h.TsRecv // the merge key becomes publish order (see OrderPublish)
	}
	return queued{t: t, recv: h.TsRecv, gw: h.GatewayID, gwSeq: h.GatewaySeq}, ev, true
}

// needFetch: an unfinished partition has nothing queued, so the merge cannot know what
// comes first. Following, a partition caught up with its high watermark does not count.
func (r *Replayer) needFetch(parts []*part) bool {
	for _, p := range parts {
		caughtUp := r.opts.Follow && p.next >= p.hwm
		if p.done || caughtUp && p.live == 0 {
			continue
		}
		if p.live == 0 || !p.ready(r.opts.MaxPartitionBytes, caughtUp) {
			return true
		}
	}
	return false
}

// pauseFull pauses fetching of partitions whose queue reached MaxPartitionBytes, and of
// finished ones.
func (r *Replayer) pauseFull(cl *kgo.Client, parts []*part) {
	for _, p := range parts {
		// A finished partition is paused for good: a fetch of it alone would wait
		// FetchMaxWait at the log end while the others need records.
		if !p.paused && (p.done || p.span() >= r.opts.MaxPartitionBytes) {
			p.paused = true
			cl.PauseFetchPartitions(map[string][]int32{p.topic: {p.partition}})
		}
	}
}

// resumeDrained resumes fetching of paused partitions drained below half of
// MaxPartitionBytes.
func (r *Replayer) resumeDrained(cl *kgo.Client, parts []*part) {
	for _, p := range parts {
		if p.paused && !p.done && p.span() < r.opts.MaxPartitionBytes/2 {
			p.paused = false
			cl.ResumeFetchPartitions(map[string][]int32{p.topic: {p.partition}})
		}
	}
}

// pacer spaces records by their event time divided by the speed factor.
type pacer struct {
	speed   float64 // 0 = max
	started bool
	base    int64     // event time of the first record
	wall    time.Time // when it was written
}

// shift moves the schedule later by d (a pause).
func (p *pacer) shift(d time.Duration) { p.wall = p.wall.Add(d) }

// Results of pacer.wait.
const (
	waitDue   = iota // the record is due
	waitDone         // ctx ended
	waitWoken        // wake fired first
)

// wait sleeps until the record with event time t is due, ctx ends or wake fires.
func (p *pacer) wait(ctx context.Context, t int64, wake <-chan struct{}) int {
	if p.speed <= 0 {
		return waitDue
	}
	if !p.started {
		p.started, p.base, p.wall = true, t, time.Now()
		return waitDue
	}
	due := p.wall.Add(time.Duration(float64(t-p.base) / p.speed))
	d := time.Until(due)
	if d < 500*time.Microsecond {
		return waitDue // records closer than the timer's resolution go out in a burst
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return waitDue
	case <-ctx.Done():
		return waitDone
	case <-wake:
		return waitWoken
	}
}

// startProgress starts the progress goroutine; the returned function stops it, waits for
// it and prints the final line.
func (r *Replayer) startProgress() func() {
	w := r.opts.Progress
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				r.drawProgress(w, start, true)
				return
			case <-t.C:
				r.drawProgress(w, start, false)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// drawProgress writes one progress line: bar and percent of the range settled (written,
// filtered or dropped as a copy — not records merely read ahead), records written, their
// rate, the ETA, and the paused state.
func (r *Replayer) drawProgress(w io.Writer, start time.Time, final bool) {
	total, written := r.Stats.Total.Load(), r.Stats.Written.Load()
	done := r.processed()
	frac := r.progress()
	const width = 30
	var b []byte
	b = append(b, "\rreplay ["...)
	n := int(frac * width)
	for i := 0; i < width; i++ {
		if i < n {
			b = append(b, '#')
		} else {
			b = append(b, '.')
		}
	}
	b = append(b, "] "...)
	b = strconv.AppendFloat(b, frac*100, 'f', 1, 64)
	b = append(b, "% "...)
	b = strconv.AppendInt(b, written, 10)
	b = append(b, " written, "...)
	b = strconv.AppendInt(b, done, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, total, 10)
	b = append(b, " done, "...)
	// Rate over the time not paused.
	el := (time.Since(start) - r.PausedFor()).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(written) / el
	}
	b = strconv.AppendFloat(b, rate, 'f', 0, 64)
	b = append(b, " rec/s"...)
	switch {
	case r.opts.Follow && frac >= 1:
		b = append(b, ", following"...)
	case !final && done > 0 && el > 0 && total > done:
		eta := time.Duration(float64(total-done) / (float64(done) / el) * float64(time.Second))
		b = append(b, ", ETA "...)
		b = append(b, eta.Round(time.Second).String()...)
	}
	if r.Paused() {
		b = append(b, " [paused]"...)
	}
	b = append(b, "   "...)
	if final {
		b = append(b, '\n')
	}
	w.Write(b)
}
