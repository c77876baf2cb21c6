// Package journal is a gateway's bounded memory of what it published, and the retransmit
// protocol a receiver uses to fetch a range of it back by gateway sequence number (the
// archiver after a restart, or any receiver that saw a gap it cannot cover otherwise).
//
// The journal is a ring: an index of the last Records entries and one byte arena holding
// their encoded records; appending past either bound evicts the oldest. Memory is fixed at
// New: Records × 16 bytes of index plus ArenaBytes.
//
// # Retransmit protocol (TCP or unix socket, little-endian)
//
//	request:  u64 from, u64 to                      (inclusive gateway sequence range)
//	response: repeated { u32 length, record bytes } then u32 0,
//	          then u64 first, u64 last              (what the journal holds now)
//
// Records older than the journal holds are simply absent: the client compares the range it
// asked for with what it got. One request per connection.
package journal

import (
	"encoding/binary"
	"sync"
)

// Journal keeps the last published records. Append is called by the publishing goroutine;
// Range by retransmit servers; a mutex orders them (appends are a copy, so it is short).
type Journal struct {
	mu    sync.Mutex
	index []entry // ring of entries, oldest at head
	head  int     // index of the oldest entry
	n     int     // entries held
	arena []byte  // ring of record bytes
	wpos  int     // next write offset in arena
}

type entry struct {
	seq       uint64
	off, size int32
}

// New returns a journal of at most records entries and arenaBytes of record bytes.
func New(records, arenaBytes int) *Journal {
	return &Journal{index: make([]entry, records), arena: make([]byte, arenaBytes)}
}

// Append stores the record published under gateway sequence seq (a copy). A record larger
// than the arena is not kept.
//
// The live bytes run circularly from the oldest entry to wpos; a record is written at wpos,
// or at 0 when it does not fit before the arena's end, after evicting the oldest entries
// it would overwrite (only the oldest can be in the way: entries sit in ring order).
func (j *Journal) Append(seq uint64, rec []byte) {
	size := len(rec)
	if size > len(j.arena) || len(j.index) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	off := j.wpos
	if off+size > len(j.arena) {
		// Wrap to 0. Entries of the previous lap still sitting past wpos are the oldest;
		// they go first, or the next lap would run into the newest ones.
		for j.n > 0 && int(j.index[j.head].off) >= j.wpos {
			j.head = (j.head + 1) % len(j.index)
			j.n--
		}
		off = 0
	}
	for j.n > 0 && (j.n == len(j.index) || j.overlaps(off, size)) {
		j.head = (j.head + 1) % len(j.index)
		j.n--
	}
	copy(j.arena[off:], rec)
	j.index[(j.head+j.n)%len(j.index)] = entry{seq: seq, off: int32(off), size: int32(size)}
	j.n++
	j.wpos = off + size
}

// overlaps reports whether [off, off+size) overlaps the oldest entry's bytes.
func (j *Journal) overlaps(off, size int) bool {
	e := j.index[j.head]
	return off < int(e.off)+int(e.size) && int(e.off) < off+size
}

// Bounds returns the first and last sequence held (0, 0 when empty).
func (j *Journal) Bounds() (first, last uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.n == 0 {
		return 0, 0
	}
	return j.index[j.head].seq, j.index[(j.head+j.n-1)%len(j.index)].seq
}

// Range calls f for every record held with from <= seq <= to, in order. f must not
// retain the slice. It holds the journal's lock: keep f short (copy, or write to a
// buffered writer).
func (j *Journal) Range(from, to uint64, f func(seq uint64, rec []byte) bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := 0; i < j.n; i++ {
		e := j.index[(j.head+i)%len(j.index)]
		if e.seq < from {
			continue
		}
		if e.seq > to || !f(e.seq, j.arena[e.off:int(e.off)+int(e.size)]) {
			return
		}
	}
}

var le = binary.LittleEndian
