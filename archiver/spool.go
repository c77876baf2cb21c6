package archiver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/clock"
	"github.com/tickline/tickline/shared/config"
)

// Spool errors.
var (
	// ErrSpoolFull: writing would exceed the spool's byte bound; the batch was refused.
	ErrSpoolFull = errors.New("archiver: spool full")
	// ErrSpoolClosed: the spool was closed.
	ErrSpoolClosed = errors.New("archiver: spool closed")
)

const (
	spoolMagic      = "TLSPOOL1"
	entryFrame      = 8                // u32 length + u32 CRC-32C
	entryFixed      = 8 + 4 + 1        // aseq + partition + region length
	maxEntryBody    = 1 << 30          // anything longer is corruption
	segPrefix       = "seg-"           // segment file name prefix
	segSuffix       = ".spool"         // segment file name suffix
	rejectedName    = "rejected.spool" // records Kafka refused for good
	defaultSegBytes = int64(64 << 20)  // default segment size
	minSegBytes     = int64(4 << 10)   // smallest segment accepted (tests)
	readChunkBytes  = 256 << 10        // producer read size
	maxRegionLen    = 255              // u8 length
	headerBytes     = int64(len(spoolMagic))
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one decoded spool entry. Region and Record alias the buffer it was read from.
type entry struct {
	aseq      uint64
	partition int32
	region    []byte
	record    []byte
}

// appendEntry appends one framed entry to dst.
func appendEntry(dst []byte, aseq uint64, partition int32, region, record []byte) []byte {
	n := entryFixed + len(region) + len(record)
	off := len(dst)
	dst = slices.Grow(dst, entryFrame+n)[:off+entryFrame+n]
	b := dst[off:]
	body := b[entryFrame:]
	binary.LittleEndian.PutUint64(body[0:], aseq)
	binary.LittleEndian.PutUint32(body[8:], uint32(partition))
	body[12] = byte(len(region))
	copy(body[13:], region)
	copy(body[13+len(region):], record)
	binary.LittleEndian.PutUint32(b[0:], uint32(n))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(body, castagnoli))
	return dst
}

// parseEntry decodes the entry at the start of b. It returns the entry's framed size, 0 when
// b holds only part of an entry, or an error when the bytes are not a valid entry.
func parseEntry(b []byte, e *entry) (int, error) {
	if len(b) < entryFrame {
		return 0, nil
	}
	n := int(binary.LittleEndian.Uint32(b[0:]))
	if n < entryFixed || n > maxEntryBody {
		return 0, fmt.Errorf("spool entry length %d", n)
	}
	if len(b) < entryFrame+n {
		return 0, nil
	}
	body := b[entryFrame : entryFrame+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, errors.New("spool entry checksum mismatch")
	}
	rl := int(body[12])
	if entryFixed+rl > n {
		return 0, fmt.Errorf("spool entry region length %d", rl)
	}
	e.aseq = binary.LittleEndian.Uint64(body[0:])
	e.partition = int32(binary.LittleEndian.Uint32(body[8:]))
	e.region = body[13 : 13+rl]
	e.record = body[13+rl:]
	return entryFrame + n, nil
}

// segCtx is stored in each produced record's Context so that the acknowledgement finds the
// segment the record came from without a map lookup. It is never canceled.
type segCtx struct {
	context.Context
	seg *segment
}

// segment is one spool file.
type segment struct {
	id   uint64
	path string
	ctx  *segCtx

	size    atomic.Int64 // committed bytes: the reader reads up to here
	acked   atomic.Int64 // entries acknowledged by Kafka, skipped or rejected
	entries atomic.Int64 // entries committed
	sealed  atomic.Bool  // no more writes
	readAll bool         // the reader passed its end after it was sealed (guarded by spool.mu)

	rf *os.File // read handle, owned by the reader goroutine
}

// spool is the archiver's bounded disk journal: every accepted record is appended to it
// (Write, by the handler or the retransmitter) and read back in order by the producer
// goroutine (read); acknowledged segments are deleted (Trim). See the package
// documentation for the format.
//
// Concurrency: Write is called under Archiver.mu (one writer at a time, which keeps each
// partition's archive sequences in order); read and Trim by one other goroutine (the
// producer, which owns the segments' read handles); Backlog and Bytes by any. mu guards
// the segment list, the write file and the totals.
type spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	fsync    string // config.SpoolFsync*: none, interval, batch
	log      *slog.Logger
	syncs    atomic.Uint64 // fsync calls on segment files

	mu     sync.Mutex
	segs   []*segment // oldest first; the last one is written to
	wf     *os.File   // the last segment, open for writing
	total  int64      // bytes of all segment files
	nextID uint64
	closed bool
	dirty  bool // written since the last fsync (fsync interval)

	ready chan struct{} // poked (non-blocking) after each Write

	rejMu sync.Mutex // guards rej
	rej   *os.File
}

// spoolRecovery is what openSpool found in the segments left by a previous run.
type spoolRecovery struct {
	entries int64             // valid entries
	torn    int64             // bytes truncated (torn or corrupt tails: no valid entry after them)
	corrupt int64             // bytes skipped inside segments (corrupt spans with valid entries after them)
	lost    []seqRange        // archive sequences the corrupt spans held (known from the gaps they leave)
	maxSeq  map[seqKey]uint64 // highest archive sequence per (region, partition)
}

// seqRange is a run of archive sequences of one partition, from..to inclusive.
type seqRange struct {
	key      seqKey
	from, to uint64
}

// seqKey names a partition of a region's topic.
type seqKey struct {
	region    string
	partition int32
}

// openSpool opens (creating) the spool in dir, bounded to maxBytes on disk, with segments
// of about segBytes. Segments left by a previous run are checked entry by entry, torn tails
// are truncated, and they are queued for reading before anything written now.
func openSpool(dir string, maxBytes, segBytes int64, log *slog.Logger) (*spool, *spoolRecovery, error) {
	return openSpoolSync(dir, maxBytes, segBytes, config.SpoolFsyncNone, log)
}

// openSpoolSync is openSpool with an fsync policy (config.SpoolFsync*): "batch" syncs in
// Write, "interval" when syncLoop runs, every policy but "none" when a segment is sealed.
func openSpoolSync(dir string, maxBytes, segBytes int64, fsync string, log *slog.Logger) (*spool, *spoolRecovery, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("spool dir: %w", err)
	}
	if segBytes <= 0 {
		segBytes = min(defaultSegBytes, max(maxBytes/8, minSegBytes))
	}
	segBytes = max(segBytes, minSegBytes)
	s := &spool{dir: dir, maxBytes: maxBytes, segBytes: segBytes, fsync: fsync, log: log, ready: make(chan struct{}, 1)}
	names, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"+segSuffix))
	if err != nil {
		return nil, nil, fmt.Errorf("spool dir: %w", err)
	}
	rec := &spoolRecovery{maxSeq: map[seqKey]uint64{}}
	type found struct {
		id   uint64
		path string
	}
	var fs []found
	for _, p := range names {
		idText := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), segPrefix), segSuffix)
		id, err := strconv.ParseUint(idText, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("spool: unexpected file %s", p)
		}
		fs = append(fs, found{id, p})
	}
	slices.SortFunc(fs, func(a, b found) int { return int64cmp(int64(a.id), int64(b.id)) })
	for _, f := range fs {
		seg, err := s.recoverSegment(f.id, f.path, rec)
		if err != nil {
			return nil, nil, err
		}
		if seg == nil {
			continue
		}
		s.segs = append(s.segs, seg)
		s.total += seg.size.Load()
		s.nextID = f.id + 1
	}
	if err := s.rotateLocked(); err != nil {
		return nil, nil, err
	}
	return s, rec, nil
}

func int64cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// recoverSegment validates a segment left by a previous run entry by entry. A torn or
// corrupt tail (nothing valid after it: the process died inside a write) is truncated.
// A corrupt span followed by valid entries (a damaged disk block, a stray write) is skipped:
// the framing re-synchronises on the next offset holding a whole entry whose CRC-32C
// matches, the segment is rewritten without the span, its bytes are counted in
// rec.corrupt and the archive sequences it held — the gaps it leaves in each partition's
// sequence, found across segments — in rec.lost. It returns nil (and removes the file) when the segment holds no
// entry.
func (s *spool) recoverSegment(id uint64, path string, rec *spoolRecovery) (*segment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spool recovery: %w", err)
	}
	valid := int64(0) // end of the last valid entry
	var n int64
	var kept []byte // the segment without its corrupt spans (nil while there is none)
	if len(data) >= len(spoolMagic) && string(data[:len(spoolMagic)]) == spoolMagic {
		valid = headerBytes
		var e entry
		for off := int(headerBytes); off < len(data); {
			k, err := parseEntry(data[off:], &e)
			if k == 0 && err == nil {
				break // a partial entry: torn tail
			}
			if err != nil {
				next := resync(data[off+1:])
				if next < 0 {
					break // nothing valid after it: torn or corrupt tail
				}
				skip := 1 + next
				if kept == nil {
					kept = append([]byte(nil), data[:off]...)
				}
				rec.corrupt += int64(skip)
				s.log.Error("spool: corrupt span inside a segment skipped; the records it held are lost (counted)",
					"segment", path, "offset", off, "bytes", skip)
				off += skip
				continue
			}
			key := seqKey{string(e.region), e.partition}
			if last, ok := rec.maxSeq[key]; ok && e.aseq > last+1 {
				// Each partition's entries are consecutive in the spool: a jump is what a
				// corrupt span (here or at the end of an earlier segment) held.
				rec.lost = append(rec.lost, seqRange{key, last + 1, e.aseq - 1})
			}
			rec.maxSeq[key] = max(rec.maxSeq[key], e.aseq)
			if kept != nil {
				kept = append(kept, data[off:off+k]...)
			}
			off += k
			valid = int64(off)
			n++
		}
	}
	if kept != nil {
		tail := int64(len(data)) - valid
		if tail > 0 {
			rec.torn += tail
			s.log.Warn("spool: truncating torn or corrupt tail", "segment", path, "dropped_bytes", tail)
		}
		if err := rewriteFile(path, kept); err != nil {
			return nil, fmt.Errorf("spool recovery: %w", err)
		}
		valid = int64(len(kept))
	} else if valid < int64(len(data)) {
		rec.torn += int64(len(data)) - valid
		s.log.Warn("spool: truncating torn or corrupt tail", "segment", path, "valid_bytes", valid, "dropped_bytes", int64(len(data))-valid)
		if err := os.Truncate(path, valid); err != nil {
			return nil, fmt.Errorf("spool recovery: %w", err)
		}
	}
	if n == 0 {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("spool recovery: %w", err)
		}
		return nil, nil
	}
	rec.entries += n
	seg := s.newSegment(id, path)
	seg.size.Store(valid)
	seg.entries.Store(n)
	seg.sealed.Store(true)
	return seg, nil
}

// resync returns the offset in b of the first whole, valid entry (length in bounds,
// CRC-32C matching, region length consistent), or -1. A random span passes for an entry
// with probability about 2^-32 per offset tried.
func resync(b []byte) int {
	var e entry
	for off := 0; off+entryFrame+entryFixed <= len(b); off++ {
		if k, err := parseEntry(b[off:], &e); err == nil && k > 0 {
			return off
		}
	}
	return -1
}

// rewriteFile replaces path with data (written to a temporary file, synced, renamed).
func rewriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (s *spool) newSegment(id uint64, path string) *segment {
	seg := &segment{id: id, path: path}
	seg.ctx = &segCtx{Context: context.Background(), seg: seg}
	return seg
}

// rotateLocked seals the current write segment and starts a new one.
func (s *spool) rotateLocked() error {
	if s.wf != nil {
		if s.fsync != config.SpoolFsyncNone {
			if err := s.wf.Sync(); err != nil {
				return fmt.Errorf("spool: syncing segment: %w", err)
			}
			s.syncs.Add(1)
			s.dirty = false
		}
		s.segs[len(s.segs)-1].sealed.Store(true)
		if err := s.wf.Close(); err != nil {
			return fmt.Errorf("spool: closing segment: %w", err)
		}
		s.wf = nil
	}
	id := s.nextID
	s.nextID++
	path := filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segPrefix, id, segSuffix))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if _, err := f.Write([]byte(spoolMagic)); err != nil {
		f.Close()
		return fmt.Errorf("spool: new segment: %w", err)
	}
	if s.fsync != config.SpoolFsyncNone {
		if err := syncDir(s.dir); err != nil {
			f.Close()
			return fmt.Errorf("spool: new segment: %w", err)
		}
	}
	seg := s.newSegment(id, path)
	seg.size.Store(headerBytes)
	s.segs = append(s.segs, seg)
	s.total += headerBytes
	s.wf = f
	return nil
}

// Write appends a batch of n framed entries (built with appendEntry) with one write call
// and wakes the reader. It fails with ErrSpoolFull, writing nothing, when the spool would
// exceed its bound. Called under Archiver.mu.
func (s *spool) Write(batch []byte, n int) error {
	if n == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSpoolClosed
	}
	if s.total+int64(len(batch)) > s.maxBytes {
		return ErrSpoolFull
	}
	seg := s.segs[len(s.segs)-1]
	if seg.size.Load() > headerBytes && seg.size.Load()+int64(len(batch)) > s.segBytes {
		if err := s.rotateLocked(); err != nil {
			return err
		}
		seg = s.segs[len(s.segs)-1]
	}
	_, err := s.wf.Write(batch)
	if err == nil && s.fsync == config.SpoolFsyncBatch {
		if err = s.wf.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
		s.syncs.Add(1)
	}
	if err != nil {
		// Cut a partial (or not durable) write so the segment stays a sequence of whole
		// entries, all of them accepted.
		_ = s.wf.Truncate(seg.size.Load())
		_, _ = s.wf.Seek(seg.size.Load(), io.SeekStart)
		return fmt.Errorf("spool write: %w", err)
	}
	s.dirty = s.fsync == config.SpoolFsyncInterval
	s.total += int64(len(batch))
	seg.entries.Add(int64(n))
	seg.size.Add(int64(len(batch)))
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return nil
}

// cursor is the reader's position.
type cursor struct {
	seg *segment
	off int64
}

// read returns whole entries after c (at most about readChunkBytes, more when one entry is
// larger) in a newly allocated buffer that the caller may keep, with the segment they
// belong to, and advances c. It returns nil when nothing new is committed. Called by one
// goroutine (the producer).
func (s *spool) read(c *cursor) ([]byte, *segment, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, nil, ErrSpoolClosed
		}
		if c.seg == nil {
			c.seg, c.off = s.segs[0], headerBytes
		}
		seg := c.seg
		size := seg.size.Load()
		if c.off >= size {
			if !seg.sealed.Load() {
				s.mu.Unlock()
				return nil, nil, nil
			}
			// Sealed and read to the end: move to the next segment.
			seg.readAll = true
			i := slices.Index(s.segs, seg)
			next := s.segs[i+1] // a sealed segment always has a successor
			s.mu.Unlock()
			if seg.rf != nil {
				seg.rf.Close()
				seg.rf = nil
			}
			c.seg, c.off = next, headerBytes
			continue
		}
		s.mu.Unlock()
		if seg.rf == nil {
			f, err := os.Open(seg.path)
			if err != nil {
				return nil, nil, fmt.Errorf("spool read: %w", err)
			}
			seg.rf = f
		}
		want := min(size-c.off, readChunkBytes)
		buf := make([]byte, want)
		if _, err := seg.rf.ReadAt(buf, c.off); err != nil {
			return nil, nil, fmt.Errorf("spool read %s at %d: %w", seg.path, c.off, err)
		}
		// Keep whole entries only; a single entry larger than the chunk is read whole.
		var e entry
		used := 0
		for {
			k, err := parseEntry(buf[used:], &e)
			if err != nil {
				return nil, nil, fmt.Errorf("spool read %s at %d: %w", seg.path, c.off+int64(used), err)
			}
			if k == 0 {
				break
			}
			used += k
		}
		if used == 0 {
			n := int64(binary.LittleEndian.Uint32(buf)) + entryFrame
			if n > size-c.off {
				// A length beyond what the segment holds: corrupt (checked before allocating).
				return nil, nil, fmt.Errorf("spool read %s at %d: entry of %d bytes but %d left in the segment (corrupt)", seg.path, c.off, n, size-c.off)
			}
			buf = make([]byte, n)
			if _, err := seg.rf.ReadAt(buf, c.off); err != nil {
				return nil, nil, fmt.Errorf("spool read %s at %d: %w", seg.path, c.off, err)
			}
			used = int(n)
		}
		c.off += int64(used)
		return buf[:used:used], seg, nil
	}
}

// Ready is poked after each Write; the reader waits on it when read returns nothing.
func (s *spool) Ready() <-chan struct{} { return s.ready }

// Trim deletes the oldest segments that are sealed, fully read and fully acknowledged.
func (s *spool) Trim() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.segs) > 1 {
		seg := s.segs[0]
		if !seg.sealed.Load() || !seg.readAll || seg.acked.Load() < seg.entries.Load() {
			return
		}
		if seg.rf != nil { // the reader has moved on; it does not touch this handle again
			seg.rf.Close()
			seg.rf = nil
		}
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("spool: removing segment", "segment", seg.path, "err", err)
			return
		}
		s.total -= seg.size.Load()
		s.segs = s.segs[1:]
	}
}

// Backlog returns the entries written but not yet acknowledged (or skipped, or rejected).
func (s *spool) Backlog() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, seg := range s.segs {
		n += seg.entries.Load() - seg.acked.Load()
	}
	return n
}

// Bytes returns the bytes the spool occupies on disk.
func (s *spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// scan calls fn for every entry in the spool, oldest first (recovery; before the reader
// starts). The entry aliases a buffer valid during the call.
func (s *spool) scan(fn func(e *entry)) error {
	s.mu.Lock()
	segs := slices.Clone(s.segs)
	s.mu.Unlock()
	var e entry
	for _, seg := range segs {
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return fmt.Errorf("spool scan: %w", err)
		}
		data = data[:min(int64(len(data)), seg.size.Load())]
		for off := int(headerBytes); off < len(data); {
			k, err := parseEntry(data[off:], &e)
			if err != nil || k == 0 {
				return fmt.Errorf("spool scan %s at %d: %v", seg.path, off, err)
			}
			fn(&e)
			off += k
		}
	}
	return nil
}

// reject appends an entry Kafka refused for good to rejected.spool (same entry format,
// no magic), where an operator can inspect or re-produce it.
func (s *spool) reject(aseq uint64, partition int32, region, record []byte) error {
	s.rejMu.Lock()
	defer s.rejMu.Unlock()
	if s.rej == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, rejectedName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("spool reject: %w", err)
		}
		s.rej = f
	}
	if _, err := s.rej.Write(appendEntry(nil, aseq, partition, region, record)); err != nil {
		return fmt.Errorf("spool reject: %w", err)
	}
	return nil
}

// Close closes the files. Entries not acknowledged stay on disk for the next run.
// Idempotent.
func (s *spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.wf != nil {
		err = s.wf.Close()
	}
	for _, seg := range s.segs {
		if seg.rf != nil {
			seg.rf.Close()
			seg.rf = nil
		}
	}
	s.mu.Unlock()
	s.rejMu.Lock()
	if s.rej != nil {
		s.rej.Close()
	}
	s.rejMu.Unlock()
	return err
}

// syncLoop fsyncs the segment being written every interval while writes are pending (fsync
// policy "interval"), until ctx ends. The fsync runs without s.mu: writers are not held up;
// a segment sealed meanwhile was synced by rotateLocked.
func (s *spool) syncLoop(ctx context.Context, interval time.Duration) {
	clock.Every(ctx, interval, func() {
		s.mu.Lock()
		f := s.wf
		dirty := s.dirty && f != nil && !s.closed
		s.dirty = false
		s.mu.Unlock()
		if !dirty {
			return
		}
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			s.log.Error("spool: fsync failed; records written since the last fsync would not survive a power loss", "err", err)
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
			return
		}
		s.syncs.Add(1)
	})
}

// syncDir fsyncs a directory, so that a file created in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
