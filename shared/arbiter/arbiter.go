// Package arbiter does line arbitration: the same exchange event reaches a receiver over
// several redundant lines (gateways), and only its first arrival is kept.
//
// # Event identity
//
// An event belongs to a stream (exchange, kind, instrument) and is identified inside it as
// its venue's adapter states (wire.Identity), read off the record:
//
//   - Ids (no wire.FlagNoSeq): Seq grows along the stream — dense sequences, sparse
//     monotonic ids (ms-based ids, update ids shared by several channels) and trade ids
//     alike. The key is Seq. Sequences restart
//     by the exchange's own rules (Bybit u = 1, OKX seqId < prevSeqId: the gateway flags
//     that record wire.FlagSeqReset); within an epoch ids and exchange times rise together,
//     and that one rule places every record (decideID): a reset record starts an epoch at
//     its exchange time, an id below the top with a later time starts one when its
//     line dropped the reset record, and a record belongs to the newest epoch begun at or
//     before its exchange time. Up to eight past epochs are kept until they age out.
//   - Content with exchange time (FlagNoSeq, TsExchange ≠ 0): Seq is a hash of the event's
//     identifying fields. The key is (TsExchange, hash), ordered by exchange time, so the
//     same content at another time (A→B→A) is another event.
//   - Content only (FlagNoSeq, TsExchange = 0: Kraken's ticker): no order is known but the
//     receiver's clock. A record is a copy of the remembered first arrival of the same key
//     nearest to now − the lag its line last showed (per stream, else per venue), if that is
//     within Options.ContentWindow (250 ms); so A→B→A is two A's once they are more than the
//     window apart. Exact when identical content does not recur within the window and the
//     lines' lag varies by less than it; venues send exchange time for nearly everything.
//
// Records the gateway makes up are not exchange events and never meet exchange ids:
// status records and FlagRefresh snapshots get OutcomeNotEvent and the Merger applies its
// own policy to them.
//
// # Tolerance in time
//
// Each stream remembers its delivered keys for Options.Tolerance (default 10 s) after their
// first arrival, on the receiver's clock. A copy within the tolerance is recognized however
// far apart the ids are; an event that some line carries no later than the tolerance after
// the events around it is delivered, once. Keys older than the tolerance are forgotten from
// the lowest up, and the stream keeps the highest forgotten key as its floor: a record at or
// below the floor is OutcomeLate — dropped and counted, because it may be a copy of a
// forgotten event or an event every line brought too late (a loss, named as such). Nothing
// past the tolerance is ever delivered twice — except on content-only streams, which have
// no order to tell a very late copy from a new event: there a copy more than the tolerance
// late is delivered again.
//
// # Bounded memory
//
// At most Options.MaxStreams streams (beyond, records are delivered and counted in
// Stats.Untracked: nothing is dropped for lack of room) and at most Options.MaxKeys keys
// remembered in all (24 bytes each), allocated as streams fill. A stream that cannot grow
// forgets its oldest key early (Stats.Evictions, per line that caused it): the floor rises
// and the tolerance shrinks for that stream. A content-only stream keeps at most 4,096 keys
// (each record scans them). Default bound: 65,536 streams and 2^21 keys, about 48 MiB of
// keys, plus ~200 bytes per stream and 128 KiB of per-line lag estimates.
//
// Ownership: an Arbiter is owned by one goroutine (the receiver's handler); nothing locks.
// Decide does not allocate in steady state (a stream's key store grows by doubling until it
// holds the tolerance's worth of keys).
package arbiter

import (
	"slices"
	"time"

	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// MaxLines is the most redundant lines an Arbiter tracks counters for.
const MaxLines = 64

// Options bound an Arbiter. Zero fields take the defaults written here.
type Options struct {
	// Tolerance is how long a stream remembers an event after its first arrival: how far
	// behind a line may be and still fill a hole, and how long a copy is recognized.
	// Default 10 s.
	Tolerance time.Duration
	// MaxStreams bounds the streams tracked (default 65536).
	MaxStreams int
	// MaxKeys bounds the keys remembered across all streams (default 2^21).
	MaxKeys int
	// ContentWindow bounds, on content-only streams (no id, no exchange time), how far a
	// copy's arrival may stray from where the line's lag puts it (default 250 ms): the
	// same content twice within it is one event.
	ContentWindow time.Duration
}

// Defaults of Options.
const (
	DefaultTolerance  = 10 * time.Second
	DefaultMaxStreams = 65536
	DefaultMaxKeys    = 1 << 21
	// DefaultContentWindow: see Options.ContentWindow.
	DefaultContentWindow = 250 * time.Millisecond
)

// OptionsFrom returns the bounds a topology's arbitration section sets.
func OptionsFrom(c config.Arbitration) Options {
	return Options{Tolerance: c.Tolerance, MaxKeys: c.MaxKeys}
}

func (o *Options) defaults() {
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.ContentWindow <= 0 {
		o.ContentWindow = DefaultContentWindow
	}
}

// Outcome is the arbiter's verdict on one record.
type Outcome uint8

// Outcomes.
const (
	// OutcomeFirst: the first arrival of an exchange event: deliver it.
	OutcomeFirst Outcome = iota + 1
	// OutcomeDuplicate: a copy of an event already delivered: drop it.
	OutcomeDuplicate
	// OutcomeLate: at or below the stream's floor, beyond the tolerance: dropped and
	// counted. A loss when no line brought the event in time.
	OutcomeLate
	// OutcomeNotEvent: a status record or a gateway refresh snapshot, not an exchange
	// event: the caller applies its own policy.
	OutcomeNotEvent
	// OutcomeUntracked: no room for a new stream: delivered without de-duplication.
	OutcomeUntracked
)

var outcomeNames = [...]string{"", "first", "duplicate", "late", "not_event", "untracked"}

// String returns the outcome's name.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "outcome?"
}

// Stats count what the arbiter decided, per line (the line whose record it was).
type Stats struct {
	Wins       [MaxLines]uint64 // first arrivals delivered from each line
	Duplicates [MaxLines]uint64 // copies dropped
	Late       [MaxLines]uint64 // records at or below a stream's floor (beyond the tolerance): dropped, possibly lost
	Resets     [MaxLines]uint64 // exchange sequence resets (new epochs) first seen on each line
	Evictions  [MaxLines]uint64 // keys forgotten before the tolerance because the key budget was spent
	Untracked  uint64           // records of streams beyond MaxStreams, delivered without de-duplication
	Streams    int              // streams tracked
	Keys       int              // keys remembered now
}

// entry is one remembered key. For id streams a = Seq (the key) and b = the exchange time
// it came with (not part of the key: it places resets); for content streams a = exchange
// time, b = content hash (both the key). at is the first arrival (receiver clock, ns).
type entry struct {
	a, b uint64
	at   int64
}

func (e *entry) less(a, b uint64) bool { return e.a < a || e.a == a && e.b < b }

// keyset is a stream's remembered keys in ascending order (a deque over one slice) and its
// floor, the highest key forgotten.
type keyset struct {
	e                []entry // e[head:] is live, sorted by (a, b)
	head             int
	floorA, floorB   uint64
	hasFloor         bool
	epochTs, epochID uint64
	epoch            bool  // this set is an epoch begun at (epochTs, epochID)
	startAt          int64 // arrival of the record that began it (receiver clock)
	ex               wire.Exchange
}

func (k *keyset) live() []entry { return k.e[k.head:] }

func (k *keyset) belowFloor(a, b uint64) bool {
	return k.hasFloor && (a < k.floorA || a == k.floorA && b <= k.floorB)
}

// find returns the index in live() of the first entry ≥ (a, b).
func (k *keyset) find(a, b uint64) int {
	l := k.live()
	n := len(l)
	// Most keys are new tops or near the top: check the end first.
	if n == 0 || l[n-1].less(a, b) {
		return n
	}
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].less(a, b) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// forget drops the oldest live entry and raises the floor to it.
func (k *keyset) forget() {
	f := k.e[k.head]
	k.floorA, k.floorB, k.hasFloor = f.a, f.b, true
	k.head++
	if k.head == len(k.e) {
		k.e, k.head = k.e[:0], 0
	}
}

// alignset is a content-only stream: keys in order of first arrival, and the lag each
// line showed at its last copy.
type alignset struct {
	keys  []uint64
	at    []int64
	lag   [MaxLines]int64 // the line's lag behind the first arrival at its last copy (ns)
	known uint64          // bit per line: lag is the line's own on this stream
}

type streamKey struct {
	ex         wire.Exchange
	kind       wire.Kind
	instrument wire.Name
}

type stream struct {
	cur    keyset   // the current epoch (the only one of streams never reset)
	past   []keyset // earlier epochs, oldest first, until they age out (at most maxEpochs)
	lateTs uint64   // records older than this exchange time belong to epochs aged out
	align  *alignset
	ex     wire.Exchange
}

// maxContentOnly bounds the keys of one content-only stream (each record scans them):
// beyond, its oldest are forgotten early and counted as evictions.
const maxContentOnly = 4096

// maxEpochs bounds the past epochs a stream keeps: resets closer together than the
// tolerance beyond this make the oldest epoch's stragglers late.
const maxEpochs = 8

// Arbiter decides first arrivals. Create with New.
type Arbiter struct {
	opts    Options
	tol     int64
	window  int64
	index   map[streamKey]int32
	streams []stream
	keys    int   // entries' capacity reserved across streams (the budget in use)
	swept   int64 // when reclaim last swept the streams (receiver clock)
	// lineLag is each line's lag behind the first arrival, per venue, as its last copy on
	// any stream showed: where a content-only stream has no order to go by for a line new
	// to it, this is where its copy is looked for.
	lineLag [MaxLines][256]int64
	Stats   Stats
}

// New returns an Arbiter. Memory is allocated as streams fill, within Options' bounds.
func New(opts Options) *Arbiter {
	opts.defaults()
	return &Arbiter{opts: opts, tol: int64(opts.Tolerance), window: int64(opts.ContentWindow), index: make(map[streamKey]int32, 1024)}
}

// Tolerance returns the arbiter's tolerance.
func (a *Arbiter) Tolerance() time.Duration { return a.opts.Tolerance }

// Offer reports whether the record with header h, arriving on line at nowNs, should be
// delivered: a first arrival, a record of an untracked stream, or not an exchange event
// (status, refresh: the caller applies its own policy). See Decide.
func (a *Arbiter) Offer(line int, h *wire.Header, nowNs int64) bool {
	switch a.Decide(line, h, nowNs) {
	case OutcomeDuplicate, OutcomeLate:
		return false
	}
	return true
}

// Decide classifies the record with header h arriving on line at nowNs (receiver clock,
// ns, non-decreasing) and counts the outcome.
func (a *Arbiter) Decide(line int, h *wire.Header, nowNs int64) Outcome {
	if h.Kind == wire.KindStatus || h.Flags&wire.FlagRefresh != 0 {
		return OutcomeNotEvent
	}
	line &= MaxLines - 1
	s := a.stream(h)
	if s == nil {
		a.Stats.Untracked++
		return OutcomeUntracked
	}
	var o Outcome
	switch {
	case h.Flags&wire.FlagNoSeq == 0:
		o = a.decideID(line, s, h, nowNs)
	case h.TsExchange != 0:
		o = a.decideKey(line, &s.cur, uint64(h.TsExchange), h.Seq, false, nowNs)
	default:
		o = a.decideAlign(line, s, h.Seq, nowNs)
	}
	switch o {
	case OutcomeFirst:
		a.Stats.Wins[line]++
	case OutcomeDuplicate:
		a.Stats.Duplicates[line]++
	case OutcomeLate:
		a.Stats.Late[line]++
	}
	return o
}

func (a *Arbiter) stream(h *wire.Header) *stream {
	k := streamKey{h.Exchange, h.Kind, h.Instrument}
	if i, ok := a.index[k]; ok {
		return &a.streams[i]
	}
	if len(a.streams) >= a.opts.MaxStreams {
		return nil
	}
	a.streams = append(a.streams, stream{ex: h.Exchange, cur: keyset{ex: h.Exchange}})
	a.index[k] = int32(len(a.streams) - 1)
	a.Stats.Streams = len(a.streams)
	return &a.streams[len(a.streams)-1]
}

// decideID places an id record in its epoch and decides it there.
//
// One rule places everything: within an epoch, ids and exchange times rise together. So a
// reset record (FlagSeqReset) starts an epoch at its exchange time, and whatever the epoch
// it falls in holds from that time on moves to the new one; a record whose id is at or
// below the current epoch's top while its exchange time is after the top's starts an epoch
// itself (its line dropped the reset record; the reset record, when a slower line brings
// it, splits the epoch before at its own time); and a record goes to the newest epoch that
// began at or before its exchange time.
func (a *Arbiter) decideID(line int, s *stream, h *wire.Header, now int64) Outcome {
	ts := uint64(max(h.TsExchange, 0))
	if ts != 0 {
		if h.Flags&wire.FlagSeqReset != 0 {
			a.placeReset(line, s, h.Seq, ts, now)
		} else if a.implicitEpoch(&s.cur, h.Seq, ts) {
			a.newEpoch(line, s, len(s.past), h.Seq, ts, now)
		}
	}
	// Past epochs age out once empty and the tolerance has passed since the next began.
	for len(s.past) > 0 {
		a.age(&s.past[0], now)
		next := s.epochAt(1)
		if len(s.past[0].live()) > 0 || now-next.startAt <= a.tol {
			break
		}
		a.dropEpoch(s)
	}
	set := &s.cur
	if ts != 0 && len(s.past) > 0 && s.cur.epoch && ts < s.cur.epochTs || ts != 0 && s.lateTs != 0 && ts < s.lateTs {
		i := s.epochOf(ts)
		if i < 0 || ts < s.lateTs {
			return OutcomeLate // an epoch aged out: beyond the tolerance
		}
		set = s.epochAt(i)
	}
	return a.decideKey(line, set, h.Seq, ts, true, now)
}

// epochOf returns the index (epochAt) of the newest epoch that began at or before ts, or
// -1 when ts is older than every epoch kept.
func (s *stream) epochOf(ts uint64) int {
	for i := len(s.past); i >= 0; i-- {
		if e := s.epochAt(i); !e.epoch || e.epochTs <= ts {
			return i
		}
	}
	return -1
}

// implicitEpoch reports whether an id record starts a new epoch whose reset record this
// line did not bring: an id below the current epoch's top with an exchange time after the
// top's. (The top's own id again with a later time is a subscribe snapshot repeating it.)
func (a *Arbiter) implicitEpoch(cur *keyset, id, ts uint64) bool {
	topID, topTs := cur.floorA, cur.floorB
	if l := cur.live(); len(l) > 0 {
		topID, topTs = l[len(l)-1].a, l[len(l)-1].b
	} else if !cur.hasFloor {
		return false
	}
	return topTs != 0 && id < topID && ts > topTs
}

// placeReset places a reset record: a copy of one already placed changes nothing; else it
// starts an epoch at its exchange time inside the epoch that time falls in.
func (a *Arbiter) placeReset(line int, s *stream, id, ts uint64, now int64) {
	i := s.epochOf(ts)
	if i < 0 {
		if s.lateTs != 0 || len(s.past) == maxEpochs {
			return // older than every epoch kept: decided late
		}
		// Older than every epoch seen, none forgotten: an epoch before the first.
		s.past = slices.Insert(s.past, 0, keyset{epoch: true, epochTs: ts, epochID: id, startAt: now, ex: s.ex})
		a.Stats.Resets[line]++
		return
	}
	e := s.epochAt(i)
	if e.epoch && e.epochTs == ts && e.epochID == id || e.holds(id, ts) {
		return // a copy
	}
	a.newEpoch(line, s, i, id, ts, now)
}

// newEpoch starts an epoch at (id, ts) after epoch i (epochAt), moving what epoch i holds
// from ts on into it; after the current epoch, it becomes the current one.
func (a *Arbiter) newEpoch(line int, s *stream, i int, id, ts uint64, now int64) {
	if len(s.past) == maxEpochs {
		if i == 0 {
			return
		}
		a.dropEpoch(s)
		i--
	}
	a.Stats.Resets[line]++
	ne := keyset{epoch: true, epochTs: ts, epochID: id, startAt: now, ex: s.ex}
	a.split(s.epochAt(i), &ne, ts)
	if i == len(s.past) {
		s.past = append(s.past, s.cur)
		s.cur = ne
		return
	}
	s.past = slices.Insert(s.past, i+1, ne)
}

// split moves from's entries with exchange time ≥ ts into to (which holds none yet).
func (a *Arbiter) split(from, to *keyset, ts uint64) {
	l := from.live()
	n := 0
	for _, e := range l {
		if e.b >= ts && e.b != 0 {
			n++
		}
	}
	if n == 0 {
		return
	}
	to.e, to.head = make([]entry, 0, max(n, 16)), 0
	a.keys += cap(to.e)
	kept := l[:0]
	for _, e := range l {
		if e.b >= ts && e.b != 0 {
			to.e = append(to.e, e)
		} else {
			kept = append(kept, e)
		}
	}
	from.e = from.e[:from.head+len(kept)]
}

// holds reports whether k holds id with exchange time ts.
func (k *keyset) holds(id, ts uint64) bool {
	l := k.live()
	for j := k.find(id, 0); j < len(l) && l[j].a == id; j++ {
		if l[j].b == ts {
			return true
		}
	}
	return false
}

// epochAt returns the stream's epoch i, oldest first: s.past[i], or s.cur for
// i == len(s.past).
func (s *stream) epochAt(i int) *keyset {
	if i == len(s.past) {
		return &s.cur
	}
	return &s.past[i]
}

// dropEpoch forgets a stream's oldest past epoch: its stragglers are late from now on.
func (a *Arbiter) dropEpoch(s *stream) {
	a.release(&s.past[0])
	s.lateTs = s.epochAt(1).epochTs
	s.past = append(s.past[:0], s.past[1:]...)
}

// release gives k's storage back to the key budget.
func (a *Arbiter) release(k *keyset) {
	a.keys -= cap(k.e)
	a.Stats.Keys -= len(k.live())
	k.e, k.head = nil, 0
}

// age forgets k's entries older than the tolerance.
func (a *Arbiter) age(k *keyset, now int64) {
	for k.head < len(k.e) && now-k.e[k.head].at > a.tol {
		k.forget()
		a.Stats.Keys--
	}
}

// decideKey decides key (x, y) in the ordered set k and remembers it when first. With
// idOnly the key is x alone and y (the exchange time) is stored beside it, to place
// epochs: within an epoch an id is one event, whatever time a copy carries (a snapshot a
// venue sends on subscribe repeats the last update id with the time it was sent).
func (a *Arbiter) decideKey(line int, k *keyset, x, y uint64, idOnly bool, now int64) Outcome {
	a.age(k, now)
	kx, ky := x, y
	if idOnly {
		ky = 0
	}
	if k.belowFloor(kx, ky) && !(idOnly && y != 0 && k.floorB != 0 && y > k.floorB) {
		// (An id below the floor with an exchange time after the floor's is no record of
		// this epoch's past: one of a later epoch whose reset has not come yet.)
		return OutcomeLate
	}
	i := k.find(kx, ky)
	l := k.live()
	if i < len(l) && l[i].a == x && (idOnly || l[i].b == y) {
		a.lineLag[line][k.ex] = now - l[i].at
		return OutcomeDuplicate
	}
	if !a.room(k, line, now) {
		// The budget is spent and k has nothing to give back: deliver, unremembered.
		a.Stats.Untracked++
		return OutcomeFirst
	}
	i = k.find(kx, ky) // room may have moved or forgotten entries
	k.e = append(k.e, entry{})
	l = k.e[k.head:]
	copy(l[i+1:], l[i:len(l)-1])
	l[i] = entry{a: x, b: y, at: now}
	a.Stats.Keys++
	return OutcomeFirst
}

// reclaim gives back the key budget that streams no longer need: every stream's keys older
// than the tolerance are forgotten, and storage less than a quarter used shrinks (empty:
// released). A quiet stream ages only when it gets a record, so without this a burst on
// many streams would keep the budget spent for good. O(streams), at most once per eighth
// of the tolerance (the budget being spent is what calls it).
func (a *Arbiter) reclaim(now int64) {
	if a.swept != 0 && now-a.swept < a.tol/8 {
		return
	}
	a.swept = now
	for i := range a.streams {
		s := &a.streams[i]
		a.age(&s.cur, now)
		a.shrink(&s.cur)
		for j := range s.past {
			a.age(&s.past[j], now)
			a.shrink(&s.past[j])
		}
		if al := s.align; al != nil {
			a.ageAlign(al, now)
			if c := cap(al.keys); c > 16 && len(al.keys) < c/4 {
				nc := max(16, 2*len(al.keys))
				nk, na := make([]uint64, len(al.keys), nc), make([]int64, len(al.at), nc)
				copy(nk, al.keys)
				copy(na, al.at)
				al.keys, al.at = nk, na
				a.keys -= c - nc
			}
		}
	}
}

// shrink reallocates k's storage to twice its live keys (at least 16; none when empty) when
// less than a quarter of it is used, giving the rest back to the budget.
func (a *Arbiter) shrink(k *keyset) {
	c, live := cap(k.e), k.live()
	if c <= 16 || len(live) >= c/4 {
		return
	}
	if len(live) == 0 {
		a.keys -= c
		k.e, k.head = nil, 0
		return
	}
	nc := max(16, 2*len(live))
	ne := make([]entry, len(live), nc)
	copy(ne, live)
	k.e, k.head = ne, 0
	a.keys -= c - nc
}

// room makes sure k can take one more entry without reallocating. Amortized O(1): when the
// storage is full it slides the live part to the front if a quarter or more of it has aged
// out, else doubles the storage within the key budget, else (budget spent) forgets the
// oldest sixteenth of k, counted as evictions, and slides. It reports false when k holds
// nothing and cannot grow.
func (a *Arbiter) room(k *keyset, line int, now int64) bool {
	if len(k.e) < cap(k.e) {
		return true
	}
	if k.head == 0 || k.head < cap(k.e)/4 {
		grow := max(cap(k.e), 16)
		if a.keys+grow > a.opts.MaxKeys {
			a.reclaim(now) // other streams may hold storage they no longer need
		}
		if a.keys+grow <= a.opts.MaxKeys {
			live := k.live()
			ne := make([]entry, len(live), cap(k.e)+grow)
			copy(ne, live)
			k.e, k.head = ne, 0
			a.keys += grow
			return true
		}
		if len(k.live()) == 0 {
			return false
		}
		drop := max(1, len(k.live())/16)
		for range drop {
			k.forget()
		}
		a.Stats.Keys -= drop
		a.Stats.Evictions[line] += uint64(drop)
	}
	if k.head > 0 {
		n := copy(k.e, k.e[k.head:])
		k.e, k.head = k.e[:n], 0
	}
	return len(k.e) < cap(k.e)
}

// ageAlign forgets a content-only stream's keys older than the tolerance (first arrivals
// are appended in time order: they age from the front).
func (a *Arbiter) ageAlign(al *alignset, now int64) {
	n := 0
	for n < len(al.keys) && now-al.at[n] > a.tol {
		n++
	}
	if n > 0 {
		al.keys = al.keys[:copy(al.keys, al.keys[n:])]
		al.at = al.at[:copy(al.at, al.at[n:])]
		a.Stats.Keys -= n
	}
}

// decideAlign decides a content-only key by time: its copies are the remembered arrivals
// of the same key, and the one that belongs to this record is the one whose first arrival
// is nearest to now − the lag this line last showed, within Options.ContentWindow.
func (a *Arbiter) decideAlign(line int, s *stream, key uint64, now int64) Outcome {
	al := s.align
	if al == nil {
		al = &alignset{}
		s.align = al
	}
	a.ageAlign(al, now)
	lag, known := al.lag[line], al.known&(1<<line) != 0
	if !known {
		lag = a.lineLag[line][s.ex] // new to this stream: the line's lag on this venue
	}
	want, best, bestD := now-lag, -1, a.window+1
	for p := len(al.keys) - 1; p >= 0; p-- {
		if al.keys[p] != key {
			continue
		}
		d := al.at[p] - want
		if d < 0 {
			d = -d
		}
		if d < bestD {
			best, bestD = p, d
		}
	}
	if best >= 0 {
		al.lag[line] = now - al.at[best]
		al.known |= 1 << line
		a.lineLag[line][s.ex] = al.lag[line]
		return OutcomeDuplicate
	}
	if len(al.keys) == cap(al.keys) {
		grow := max(cap(al.keys), 16)
		if a.keys+grow > a.opts.MaxKeys {
			a.reclaim(now)
		}
		if a.keys+grow > a.opts.MaxKeys || len(al.keys) >= maxContentOnly {
			if len(al.keys) == 0 {
				a.Stats.Untracked++
				return OutcomeFirst
			}
			drop := max(1, len(al.keys)/16)
			al.keys = al.keys[:copy(al.keys, al.keys[drop:])]
			al.at = al.at[:copy(al.at, al.at[drop:])]
			a.Stats.Keys -= drop
			a.Stats.Evictions[line] += uint64(drop)
		} else {
			nk := make([]uint64, len(al.keys), cap(al.keys)+grow)
			copy(nk, al.keys)
			na := make([]int64, len(al.at), cap(al.keys)+grow)
			copy(na, al.at)
			al.keys, al.at = nk, na
			a.keys += grow
		}
	}
	al.keys = append(al.keys, key)
	al.at = append(al.at, now)
	a.Stats.Keys++
	return OutcomeFirst
}
