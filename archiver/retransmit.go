package archiver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/wire"
)

// Retransmit: what a line's gateway published while the archiver did not hear it (the
// archiver was dead, or the bus dropped it) comes back from the gateway's journal. The
// package documentation ("Retransmit") states the policy; this file implements it.

// Retransmit limits that are not options.
const (
	retransmitAttemptTimeout = 30 * time.Second // one fetch: dial, request, transfer (the server's own bound)
	retransmitMaxBackoff     = 2 * time.Second  // cap of the pause between attempts
	retransmitChunkBytes     = 256 << 10        // records archived per a.mu hold (and spool write)
	retransmitChunkRecords   = 4096
	retransmitGapQueue       = 256 // in-run gap requests waiting; beyond, a gap is counted and skipped
)

// errRestarted: the journal holds a different record under the anchor's gateway sequence:
// the gateway restarted and numbers from 1 again.
var errRestarted = errors.New("archiver: gateway restarted (journal record differs from the archived one)")

// errBadRecord: a retransmitted record is not a record of the line's gateway in the range asked.
var errBadRecord = errors.New("archiver: retransmitted record outside the request")

// mark identifies one record a gateway published: its gateway sequence plus fields that
// tell two incarnations of the gateway apart when they reuse a sequence number.
type mark struct {
	gwSeq  uint64
	tsRecv int64
	seq    uint64
	ex     wire.Exchange
	kind   wire.Kind
}

func markOf(h *wire.Header) mark {
	return mark{gwSeq: h.GatewaySeq, tsRecv: h.TsRecv, seq: h.Seq, ex: h.Exchange, kind: h.Kind}
}

// line is one gateway line of a region.
type line struct {
	id      string
	num     uint16 // the gateway number its records carry
	reg     *region
	idx     int                  // its line number in the region's merger
	journal string               // the gateway's retransmit endpoint; "" = it keeps no journal
	fetch   journal.FetchOptions // CURVE keys for it when the gateway has a curve section

	// Set by recover before the subscriber starts, then owned by the handler goroutine.
	anchor  mark // last record of this gateway in the archive tail or the spool (gwSeq 0: none)
	waiting bool // the line's first live record opens its restart window
	last    mark // the line's last live record (gwSeq 0: none yet)
}

// fetchReq asks for a line's records after a known one, up to to (inclusive).
type fetchReq struct {
	ln    *line
	after mark   // the line's last record the archiver has; gwSeq 0 = from the journal's 1
	to    uint64 // the gateway sequence before the live record that showed what is missing
	// held: the range is "whatever the journal still holds" (a line with no archived
	// record to start after): records evicted before the journal's first are not counted
	// as lost.
	held bool
	done chan struct{} // closed once handled; nil when nobody waits (in-run gaps)
}

func (q *fetchReq) wanted() uint64 { return q.to - q.after.gwSeq }

// retransmitter is the goroutine that serves fetch requests one at a time, restart windows
// first, and archives what the journals return through the region's merger in chunks, each
// under Archiver.mu. It owns its chunk buffers.
type retransmitter struct {
	a       *Archiver
	log     *slog.Logger
	windows chan *fetchReq // restart windows: at most one per line, never full
	gaps    chan *fetchReq // in-run gaps, bounded
	chunk   []byte         // fetched records waiting to be archived, back to back
	records int            // records in chunk
	entries []byte         // spool entries of a chunk
	pending []pendingEntry // their pending notes
	inChunk keySet         // events accepted from the chunk being archived (not in the index until written)
	hdr     wire.Header
	skipLog bool // a skipped gap was logged (later ones are counted only)
}

func newRetransmitter(a *Archiver, lines int) *retransmitter {
	return &retransmitter{a: a, log: a.log, windows: make(chan *fetchReq, lines), gaps: make(chan *fetchReq, retransmitGapQueue),
		inChunk: keySet{slots: make([]uint64, 2*retransmitChunkRecords), mask: 2*retransmitChunkRecords - 1}}
}

// run serves requests until ctx ends; what is queued then is counted as lost (drain).
func (rt *retransmitter) run(ctx context.Context) {
	for {
		var q *fetchReq
		select {
		case q = <-rt.windows:
		default:
			select {
			case <-ctx.Done():
				rt.drain()
				return
			case q = <-rt.windows:
			case q = <-rt.gaps:
			}
		}
		rt.serve(ctx, q)
		if q.done != nil {
			close(q.done)
		}
	}
}

// drain counts the requests still queued as lost and releases their waiters. Called by
// run when it stops, and by Archiver.Run once the handler has stopped too.
func (rt *retransmitter) drain() {
	for {
		var q *fetchReq
		select {
		case q = <-rt.windows:
		case q = <-rt.gaps:
		default:
			return
		}
		rt.lost(q, q.wanted(), "archiver: shutting down with a retransmit not started; its records are not archived")
		if q.done != nil {
			close(q.done)
		}
	}
}

// window queues a restart window (handler goroutine).
func (rt *retransmitter) window(q *fetchReq) {
	q.done = make(chan struct{})
	rt.windows <- q // capacity is the number of lines: one window per line per run
}

// gap queues an in-run gap without blocking (handler goroutine); a full queue skips it.
func (rt *retransmitter) gap(q *fetchReq) {
	select {
	case rt.gaps <- q:
	default:
		rt.a.Stats.RetransmitSkipped.Add(q.wanted())
		if !rt.skipLog {
			rt.skipLog = true
			rt.log.Warn("archiver: retransmit queue full; gaps are left to the other lines (counted in retransmit_skipped_total, logged once)",
				"gateway", q.ln.id, "from", q.after.gwSeq+1, "to", q.to)
		}
	}
}

func (rt *retransmitter) lost(q *fetchReq, n uint64, msg string, args ...any) {
	if n == 0 {
		return
	}
	rt.a.Stats.RetransmitLost.Add(n)
	rt.log.Error(msg, append([]any{"gateway", q.ln.id, "region", q.ln.reg.name, "from", q.after.gwSeq + 1, "to", q.to, "records", n}, args...)...)
}

// serve fetches one request, retrying with backoff, and archives what arrives.
//
// When the request starts after a known record (after.gwSeq > 0), the fetch starts at that
// record itself: if the journal holds a different record under that number, the gateway
// has restarted since, and the request becomes "from 1" (its new incarnation). Records the
// journal does not return are counted as lost (RetransmitLost) with an error log: evicted
// from the ring, never journaled, or unreachable after every attempt.
func (rt *retransmitter) serve(ctx context.Context, q *fetchReq) {
	a := rt.a
	a.Stats.RetransmitRequests.Add(1)
	start := time.Now()
	l := q.ln
	next := q.after.gwSeq // the anchor itself first: same incarnation?
	probe := next > 0
	if !probe {
		next = 1
	}
	got := uint64(0)
	var first, last uint64
	var err error
	for attempt := 1; ; attempt++ {
		fctx, cancel := context.WithTimeout(ctx, retransmitAttemptTimeout)
		first, last, err = journal.FetchWith(fctx, l.journal, next, q.to, l.fetch, func(rec []byte) error {
			h := &rt.hdr
			if wire.ReadHeader(rec, h) != nil || int(h.Length) != len(rec) || h.GatewayID != l.num ||
				h.GatewaySeq < next || h.GatewaySeq > q.to {
				return errBadRecord
			}
			if probe {
				probe = false
				if h.GatewaySeq == q.after.gwSeq {
					if markOf(h) != q.after {
						return errRestarted
					}
					next++
					return nil
				}
				// The anchor is no longer held: the incarnation cannot be checked; the gateway
				// sequence is taken to go on (a restart would have shown a lower number live).
			}
			next = h.GatewaySeq + 1
			got++
			rt.add(l, rec)
			return nil
		})
		cancel()
		rt.flush(l)
		if errors.Is(err, errRestarted) {
			a.Stats.GatewayRestarts.Add(1)
			rt.log.Warn("archiver: gateway restarted while the archiver could not hear it: what it published after its last archived record, before the restart, is gone with its journal; fetching its new journal from 1",
				"gateway", l.id, "last_archived_gateway_seq", q.after.gwSeq)
			q.after, next, got = mark{}, 1, 0
			attempt = 0
			continue
		}
		if err == nil || ctx.Err() != nil || attempt >= a.opts.RetransmitAttempts {
			break
		}
		a.Stats.RetransmitRetries.Add(1)
		d := min(a.opts.RetransmitBackoff<<min(attempt-1, 16), retransmitMaxBackoff)
		rt.log.Warn("archiver: retransmit failed, retrying", "gateway", l.id, "endpoint", l.journal, "attempt", attempt, "retry_in", d, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	rt.account(ctx, q, got, first, last, err, time.Since(start))
}

// account counts and logs what a served request left missing: got records arrived, the
// journal held first..last, err is the last attempt's.
func (rt *retransmitter) account(ctx context.Context, q *fetchReq, got, first, last uint64, err error, took time.Duration) {
	a, l := rt.a, q.ln
	missing := q.wanted() - got
	switch {
	case err != nil && ctx.Err() != nil:
		rt.lost(q, missing, "archiver: shutting down during a retransmit; the rest is not archived", "received", got)
	case err != nil:
		a.Stats.RetransmitFailed.Add(1)
		rt.lost(q, missing, "archiver: retransmit failed for good; records lost unless another line carried them",
			"endpoint", l.journal, "attempts", a.opts.RetransmitAttempts, "received", got, "err", err)
	default:
		if q.held && first > 1 {
			missing -= min(missing, first-1) // never expected: before what the journal holds
		}
		rt.lost(q, missing, "archiver: the gateway's journal no longer holds part of the range; records lost unless another line carried them",
			"received", got, "journal_first", first, "journal_last", last)
		level := slog.LevelDebug // in-run gaps can be frequent
		if q.done != nil {
			level = slog.LevelInfo // a restart window: once per line and run
		}
		rt.log.Log(ctx, level, "archiver: retransmitted", "gateway", l.id, "from", q.after.gwSeq+1, "to", q.to, "records", got,
			"took", took.Round(time.Millisecond))
	}
}

// add copies a fetched record into the chunk and archives the chunk when it is full.
func (rt *retransmitter) add(l *line, rec []byte) {
	rt.chunk = append(rt.chunk, rec...)
	rt.records++
	if len(rt.chunk) >= retransmitChunkBytes || rt.records >= retransmitChunkRecords {
		rt.flush(l)
	}
}

func (rt *retransmitter) flush(l *line) {
	if rt.records == 0 {
		return
	}
	rt.inChunk.reset()
	rt.entries, rt.pending = rt.a.archiveRetransmit(l, rt.chunk, rt.entries[:0], rt.pending[:0], &rt.inChunk)
	rt.chunk, rt.records = rt.chunk[:0], 0
}

// archiveRetransmit decides, under a.mu, for each record of a chunk of line l's
// retransmitted records (wire records back to back, checked when fetched) whether it goes
// into the archive, and writes those that do to the spool. entries and pend are scratch
// space; they are returned. inChunk (empty, room for the chunk's records) holds the events
// accepted from this chunk until they are written and in the index: a journal holding one
// event twice yields it once.
//
// Whether an exchange event is archived already is asked of the archive (the region's
// archiveIndex: what this run archived and what recovery read back), not of the arbiter,
// whose windows answer a different question (has a line delivered it lately?) and forget:
// a sparse-id stream's window is milliseconds wide, a content key lives 30 s. Outcomes,
// each counted:
//
//   - in the index: archived already (RetransmitArchived);
//   - older than the partition tail recovery read, or than the index reaches, and not in
//     it: the archive may hold it, it is not archived twice (RetransmitBeforeTail,
//     RetransmitBeyondIndex);
//   - otherwise archived (RetransmitAccepted). The merger is told (OfferRetransmit), so
//     that a copy a slower line delivers later is a duplicate; its verdict is not used.
//
// Status records are not exchange events: the merger's status policy decides them
// (RetransmitStatusDropped when it drops them).
func (a *Archiver) archiveRetransmit(l *line, chunk, entries []byte, pend []pendingEntry, inChunk *keySet) ([]byte, []pendingEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now().UnixNano()
	r := l.reg
	var h wire.Header
	for off := 0; off < len(chunk); {
		if wire.ReadHeader(chunk[off:], &h) != nil {
			break // not reached: add stored whole, checked records
		}
		rec := chunk[off : off+int(h.Length)]
		off += int(h.Length)
		a.Stats.Retransmitted.Add(1)
		switch {
		case h.Kind == wire.KindStatus:
			if !r.merger.OfferRetransmit(l.idx, &h, now) {
				a.Stats.RetransmitStatusDropped.Add(1)
				continue
			}
		case r.index.has(&h) || inChunk.has(eventKey(&h)):
			a.Stats.RetransmitArchived.Add(1)
			continue
		case r.beforeTail(a.part, &h):
			a.Stats.RetransmitBeforeTail.Add(1)
			continue
		case !r.index.reaches(&h):
			a.Stats.RetransmitBeyondIndex.Add(1)
			continue
		default:
			r.merger.OfferRetransmit(l.idx, &h, now)
			inChunk.add(eventKey(&h), 0)
		}
		entries, pend, _ = a.route(r, &h, rec, entries, pend)
	}
	if a.writeSpool(entries, pend) {
		a.Stats.RetransmitAccepted.Add(uint64(len(pend)))
	}
	return entries, pend
}

// stream is an arbiter stream: exchange, kind, instrument.
type stream struct {
	ex   wire.Exchange
	kind wire.Kind
	inst wire.Name
}

// beforeTail reports whether a retransmitted record may predate what recovery seeded the
// arbiter with, so that the arbiter cannot tell whether it is archived already: its
// partition's tail did not reach back to the log start, and the record is older than the
// tail. For a stream with exchange ids seeded from that tail, older means an id below the
// lowest seeded one (a stream lives in one partition, and the tail is a suffix of it);
// otherwise a gateway receive time before the tail's first record. Such records are
// dropped (RetransmitBeforeTail): an archive would rather miss an event the live run
// already missed than hold one twice. Called under a.mu.
func (r *region) beforeTail(part *Partitioner, h *wire.Header) bool {
	p, ok := part.Partition(h.Exchange)
	if !ok {
		return false
	}
	hz, ok := r.horizon[p]
	if !ok {
		return false
	}
	if h.Kind != wire.KindStatus && h.Flags&wire.FlagNoSeq == 0 && h.Seq != 0 {
		if f, ok := r.floor[stream{h.Exchange, h.Kind, h.Instrument}]; ok {
			return h.Seq < f
		}
	}
	return h.TsRecv < hz
}

// noteArchived notes a record recovery found archived or spooled: its gateway's anchor is
// the record with the highest gateway sequence.
func (a *Archiver) noteArchived(r *region, h *wire.Header) {
	r.seeded = true
	if h.GatewaySeq > a.anchors[h.GatewayID].gwSeq {
		a.anchors[h.GatewayID] = markOf(h)
	}
}

// noteSeed records what recovery seeds: each gateway's last record (the anchor of its
// restart window) and, for partitions whose tail is partial, the horizon and stream floors.
func (a *Archiver) noteSeed(r *region, h *wire.Header, partial bool, first bool) {
	a.noteArchived(r, h)
	p, ok := a.part.Partition(h.Exchange)
	if !ok {
		return
	}
	if partial && first {
		r.horizon[p] = h.TsRecv
	}
	if _, ok := r.horizon[p]; !ok || h.Kind == wire.KindStatus || h.Flags&wire.FlagNoSeq != 0 || h.Seq == 0 {
		return
	}
	k := stream{h.Exchange, h.Kind, h.Instrument}
	if f, ok := r.floor[k]; !ok || h.Seq < f {
		r.floor[k] = h.Seq
	}
}

// openWindows runs on the handler goroutine before a batch is arbitrated while some line
// still waits for its first live record. That record's gateway sequence F closes the line's
// restart window (anchor, F): the window is queued, and the handler waits, up to
// Options.RetransmitWait, for it to be archived, so that the window precedes the line's live
// records. Past the wait, live records go on and the window lands when it arrives.
func (a *Archiver) openWindows(batch []bus.Message) {
	var waits []chan struct{}
	var h wire.Header
	for i := range batch {
		m := &batch[i]
		if m.Endpoint < 0 || m.Endpoint >= len(a.lines) {
			continue
		}
		l := a.lines[m.Endpoint]
		if !l.waiting || wire.ReadHeader(m.Payload, &h) != nil || h.GatewaySeq == 0 {
			continue
		}
		l.waiting = false
		a.waiting--
		f := h.GatewaySeq
		q := &fetchReq{ln: l, after: l.anchor, to: f - 1, held: l.anchor.gwSeq == 0}
		switch {
		case q.held:
			if f == 1 {
				continue
			}
		case f == l.anchor.gwSeq+1:
			a.log.Info("archiver: line resumes right after its last archived record", "gateway", l.id, "gateway_seq", f)
			continue
		case f <= l.anchor.gwSeq:
			a.Stats.GatewayRestarts.Add(1)
			a.log.Warn("archiver: gateway restarted while the archiver was down (its sequence began again): what it published after its last archived record, before the restart, is gone with its journal",
				"gateway", l.id, "last_archived_gateway_seq", l.anchor.gwSeq, "first_live_gateway_seq", f)
			if f == 1 {
				continue
			}
			q.after = mark{}
		}
		a.log.Info("archiver: restart window", "gateway", l.id, "from", q.after.gwSeq+1, "to", q.to)
		a.rt.window(q)
		waits = append(waits, q.done)
	}
	if len(waits) == 0 {
		return
	}
	t := time.NewTimer(a.opts.RetransmitWait)
	defer t.Stop()
	for _, d := range waits {
		select {
		case <-d:
		case <-a.runCtx.Done():
			return
		case <-t.C:
			a.log.Warn("archiver: restart window still being fetched; archiving live records meanwhile (the window lands after them)",
				"waited", a.opts.RetransmitWait)
			return
		}
	}
}

// follow tracks a journaled line's gateway sequence on the handler goroutine and queues a
// retransmit of what the line missed in the run: a jump (records dropped on the way), or a
// sequence that began again (the gateway restarted; its new incarnation published the
// numbers below this one before the line reconnected).
func (a *Archiver) follow(l *line, h *wire.Header) {
	if h.GatewaySeq == 0 {
		return
	}
	prev := l.last
	l.last = markOf(h)
	switch {
	case prev.gwSeq == 0 || h.GatewaySeq == prev.gwSeq+1:
	case h.GatewaySeq > prev.gwSeq+1:
		a.rt.gap(&fetchReq{ln: l, after: prev, to: h.GatewaySeq - 1})
	default:
		a.Stats.GatewayRestarts.Add(1)
		a.log.Warn("archiver: gateway restarted (its sequence began again); fetching what its new incarnation published before the line reconnected",
			"gateway", l.id, "last_gateway_seq", prev.gwSeq, "gateway_seq", h.GatewaySeq)
		if h.GatewaySeq > 1 {
			a.rt.gap(&fetchReq{ln: l, to: h.GatewaySeq - 1})
		}
	}
}

// lineAnchors sets each journaled line's restart anchor from what recovery saw, and logs it.
// A line with no record of its own in the archive tail or the spool — its region's archive
// is empty (a first start, or an archiver started after the gateways: backfill), or it lost
// every race the tail shows — gets a window over whatever its journal holds: what the
// archive holds is dropped by the archive index, what is older than a partial tail by
// beforeTail, the rest is archived.
func (a *Archiver) lineAnchors() {
	for _, l := range a.lines {
		if l.journal == "" {
			continue
		}
		l.anchor = a.anchors[l.num]
		l.waiting = true
		a.waiting++
		if l.anchor.gwSeq == 0 {
			a.log.Info("archiver: no archived record of this gateway in the partition tails or the spool; its window is whatever its journal holds (backfill)",
				"gateway", l.id, "archive_empty", !l.reg.seeded)
			continue
		}
		a.log.Info("archiver: restart anchor", "gateway", l.id, "last_archived_gateway_seq", l.anchor.gwSeq)
	}
}
