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
//	response: repeated { u32 length, record bytes }, then either
//	            u32 0,          u64 first, u64 last            (the range is done)
//	          or
//	            u32 0xFFFFFFFF, u64 next, u64 first, u64 last  (cut at the server's limits:
//	                                                            ask again from next)
//	          first, last: what the journal holds now
//
// Records older than the journal holds are simply absent: the client compares the range it
// asked for with what it got. One request per connection; Fetch follows cuts itself.
//
// # Limits (ServerOptions)
//
// A retransmit client is untrusted: the server copies at most 64 KiB / 512 records under
// the journal's lock at a time and writes them without it, so a client that does not read
// never stalls Append (and so never the gateway's publishing). One response is cut at
// MaxRecords / MaxBytes, connections beyond MaxConns are closed on accept, the request must
// arrive within ReadTimeout, each chunk be taken within WriteTimeout and the whole response
// within RequestTimeout; every refusal is counted in ServerStats.
//
// # Security (ServerOptions.Curve, FetchOptions.Curve)
//
// Without CURVE the endpoint has no authentication: bind it where only receivers can reach
// it. With CURVE every connection first completes a CurveZMQ handshake (shared/zmtp; client
// DEALER, server ROUTER) in which the server admits only allow-listed client keys and the
// client only the server's key; the request and response above then travel unchanged inside
// sealed ZMTP frames of at most FrameBytes (zmtp.Conn).
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
// retain the slice. It holds the journal's lock for the whole walk, so f must not block
// (no I/O): the retransmit server uses AppendRange, which copies bounded chunks instead.
func (j *Journal) Range(from, to uint64, f func(seq uint64, rec []byte) bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := j.search(from); i < j.n; i++ {
		e := j.index[(j.head+i)%len(j.index)]
		if e.seq > to || !f(e.seq, j.arena[e.off:int(e.off)+int(e.size)]) {
			return
		}
	}
}

// search returns the position (0 = oldest) of the first entry with seq >= from, or j.n.
// Sequences are appended in increasing order, so this is a binary search: a request never
// walks the ring under the lock. Call with j.mu held.
func (j *Journal) search(from uint64) int {
	lo, hi := 0, j.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if j.index[(j.head+m)%len(j.index)].seq < from {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// AppendRange appends to dst the records held with from <= seq <= to, in order, each framed
// as in the retransmit response (u32 length, then the record bytes), and stops before
// maxRecords records or before dst would grow past maxBytes (one record is always copied
// when any is in range, whatever its size, so a chunk always makes progress). It returns
// dst, the number of records appended, and more: whether it stopped at a limit with records
// of the range left, to be asked for from next (the sequence after the last one copied).
//
// The lock is held only for the copy: the caller writes dst to a peer without it, so a
// peer that does not read never blocks Append (DESIGN: never lock across I/O).
// Sequences must have been appended in increasing order (the gateway's sequence is).
func (j *Journal) AppendRange(dst []byte, from, to uint64, maxRecords, maxBytes int) (out []byte, n int, next uint64, more bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	next = from
	for i := j.search(from); i < j.n; i++ {
		e := j.index[(j.head+i)%len(j.index)]
		if e.seq > to {
			return dst, n, next, false
		}
		if n >= maxRecords || (n > 0 && len(dst)+4+int(e.size) > maxBytes) {
			return dst, n, next, true
		}
		dst = le.AppendUint32(dst, uint32(e.size))
		dst = append(dst, j.arena[e.off:int(e.off)+int(e.size)]...)
		n++
		if e.seq == ^uint64(0) {
			return dst, n, e.seq, false
		}
		next = e.seq + 1
	}
	return dst, n, next, false
}

var le = binary.LittleEndian
