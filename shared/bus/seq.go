package bus

// seqDirect is how many sources (gateway ids 0..seqDirect-1) SeqTracker tracks in a
// fixed array; larger ids go to a map.
const seqDirect = 256

// SeqTracker turns per-gateway sequence numbers into drop counts. The bus never tells a
// receiver that the publisher dropped messages for it; every gateway stamps a
// sequence number that rises by one per record, so a receiver detects loss as a gap.
//
// Observe does not allocate for sources below 256 (the whole state is an array) and
// allocates only the first time a larger source is seen. The zero value is ready to
// use. Not safe for concurrent use: one goroutine (the receiver that owns the stream)
// owns a SeqTracker.
type SeqTracker struct {
	last  [seqDirect]uint64 // last sequence seen; 0 = none yet (sequences start at 1)
	more  map[uint16]uint64
	stats SeqStats
}

// SeqStats are a SeqTracker's running totals.
type SeqStats struct {
	Gaps    uint64 // gaps seen
	Missing uint64 // sequence numbers skipped over by gaps
	Resets  uint64 // sequence went backwards or repeated (gateway restart, duplicate)
}

// Observe records seq from source and returns how many sequence numbers were skipped
// since the previous one from that source: 0 when seq is the next one, or the first
// seen. A sequence that does not advance (repeat, or a restarted gateway counting from
// 1 again) returns 0, is counted in SeqStats.Resets and becomes the new baseline.
// Sequence 0 is treated as "not sequenced" and ignored.
func (t *SeqTracker) Observe(source uint16, seq uint64) (gap uint64) {
	if seq == 0 {
		return 0
	}
	var last uint64
	if source < seqDirect {
		last = t.last[source]
		t.last[source] = seq
	} else {
		if t.more == nil {
			t.more = make(map[uint16]uint64)
		}
		last = t.more[source]
		t.more[source] = seq
	}
	switch {
	case last == 0 || seq == last+1:
		return 0
	case seq <= last:
		t.stats.Resets++
		return 0
	default:
		gap = seq - last - 1
		t.stats.Gaps++
		t.stats.Missing += gap
		return gap
	}
}

// Stats returns the running totals.
func (t *SeqTracker) Stats() SeqStats { return t.stats }
