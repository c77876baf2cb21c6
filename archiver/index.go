package archiver

import (
	"encoding/binary"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// archiveIndex remembers the exchange events a region has archived most recently — every
// record written to the spool in this run, and what recovery found in the partition tails
// and the spool — so that a record retransmitted from a gateway's journal is checked
// against the archive itself, not against the arbiter's windows: the arbiter answers "has a
// line delivered this lately?" within its tolerance, the index answers "is it in the
// archive?" for as far back as it reaches.
//
// An event is keyed by what every line carries alike: exchange, kind, instrument, Seq and
// the identity flags (FlagNoSeq, FlagRefresh, FlagSeqReset), and for content keys and
// refreshes also SeqFirst and exchange time — an exchange id is one event whatever time a
// copy carries (a venue's snapshot on subscribe repeats the last id with its send time; the
// exactly-once run archived such repeats twice when the time was part of the key). The
// cost: within the index's reach, an id an exchange reuses after a sequence reset is taken
// for the earlier epoch's event on the retransmit path (counted as archived). Hashed to 64
// bits (a false "archived already" needs two events to collide: about n²/2⁶⁵
// for n events remembered). Gateway fields (number, sequence, receive time) and
// FlagBookInvalid are not part of it: two lines' copies of one event share the key.
// Content-only events without an exchange time that repeat identically share a key too:
// the index cannot tell them apart, and drops the retransmitted repeat as archived already.
//
// Memory is fixed at newArchiveIndex: two generations of perGen keys in open-addressed
// tables at most 3/4 full (8 bytes a slot, so between 21 and 43 bytes per remembered
// key). Inserts go to the current generation; when it is full, the previous one is
// forgotten and the current one becomes the previous. The index therefore remembers at
// least the perGen most recent events and at most 2×perGen. What it forgot is described by
// its horizon, the latest gateway receive time among forgotten keys: a retransmitted record
// received before horizon+slack that the index does not hold may still be in the archive
// (another line's copy, received up to slack earlier, may be among the forgotten), and is
// not archived again (RetransmitBeyondIndex). The slack trades the two failures: a line
// lagging more than slack behind another can have a record archived twice once the index
// has forgotten the other copy; a record received less than slack after the horizon is
// not archived (counted) although the archive may lack it. The default sizing (the
// region's largest journal plus the tails recovery reads) keeps a full restart window in one
// generation, so the horizon only moves once that many records were archived in the run.
//
// Owned by whoever holds Archiver.mu; no allocation after newArchiveIndex.
type archiveIndex struct {
	gens    [2]keySet
	cur     int   // generation receiving inserts
	perGen  int   // keys per generation
	slack   int64 // ns: how far apart two lines' receive times of one event are taken to be
	horizon int64 // latest TsRecv among forgotten keys (0: nothing forgotten)
}

type keySet struct {
	slots []uint64 // 0 = empty
	mask  uint64
	n     int
	maxTs int64 // latest TsRecv inserted
}

// newArchiveIndex returns an index remembering at least perGen events, with the receive-time
// slack of reaches.
func newArchiveIndex(perGen int, slack time.Duration) *archiveIndex {
	perGen = max(perGen, 64)
	size := 1
	for size*3 < perGen*4 { // at most 3/4 full
		size <<= 1
	}
	x := &archiveIndex{perGen: perGen, slack: int64(slack)}
	for i := range x.gens {
		x.gens[i] = keySet{slots: make([]uint64, size), mask: uint64(size - 1)}
	}
	return x
}

// identityFlags are the flags that are part of an event's identity.
const identityFlags = wire.FlagNoSeq | wire.FlagRefresh | wire.FlagSeqReset

// eventKey hashes an event's identity (see archiveIndex); never 0.
func eventKey(h *wire.Header) uint64 {
	x := uint64(h.Exchange) | uint64(h.Kind)<<8 | uint64(h.Flags&identityFlags)<<16
	x = mix64(x ^ h.Seq*0x9e3779b97f4a7c15)
	if h.Flags&wire.FlagNoSeq != 0 || h.Flags&wire.FlagRefresh != 0 {
		// Content keys (and refreshes) are keyed with their exchange time; an id is one
		// event whatever time or first id a copy carries (a venue's subscribe snapshot
		// repeats the last id with its send time).
		x = mix64(x ^ h.SeqFirst)
		x = mix64(x ^ uint64(h.TsExchange))
	}
	x = mix64(x ^ binary.LittleEndian.Uint64(h.Instrument[0:8]))
	x = mix64(x ^ binary.LittleEndian.Uint64(h.Instrument[8:16]))
	if x == 0 {
		x = 1
	}
	return x
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (s *keySet) has(k uint64) bool {
	for i := k & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// add inserts k; it reports false when k was there already.
func (s *keySet) add(k uint64, ts int64) bool {
	s.maxTs = max(s.maxTs, ts)
	for i := k & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			s.n++
			return true
		}
	}
}

func (s *keySet) reset() {
	clear(s.slots)
	s.n, s.maxTs = 0, 0
}

// add remembers the event of an archived record (not a status record).
func (x *archiveIndex) add(h *wire.Header) {
	if h.Kind == wire.KindStatus {
		return
	}
	k := eventKey(h)
	cur := &x.gens[x.cur]
	if !cur.add(k, h.TsRecv) || cur.n < x.perGen {
		return
	}
	prev := &x.gens[1-x.cur]
	if prev.n > 0 {
		x.horizon = max(x.horizon, prev.maxTs)
	}
	prev.reset()
	x.cur = 1 - x.cur
}

// has reports whether the record's event is among those remembered.
func (x *archiveIndex) has(h *wire.Header) bool {
	k := eventKey(h)
	return x.gens[x.cur].has(k) || x.gens[1-x.cur].has(k)
}

// reaches reports whether the index reaches back to the record's receive time: if it does
// not hold the event, the archive does not either (within this run and what recovery read).
func (x *archiveIndex) reaches(h *wire.Header) bool {
	return x.horizon == 0 || h.TsRecv > x.horizon+x.slack
}
