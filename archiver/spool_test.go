package archiver

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tickline/tickline/internal/testkit"
)

func TestSpoolOrderTornTailAndBound(t *testing.T) {
	dir := t.TempDir()
	sp, rec, err := openSpool(dir, 1<<20, minSegBytes, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	if rec.entries != 0 {
		t.Fatalf("fresh spool recovered %d entries", rec.entries)
	}
	record := make([]byte, 100)
	var buf []byte
	const n = 200 // ~25 KiB: several 4 KiB segments
	for i := 1; i <= n; i++ {
		record[0] = byte(i)
		buf = appendEntry(buf[:0], uint64(i), int32(i%2), []byte("korea"), record)
		if err := sp.Write(buf, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Read back in order across segments.
	var got []uint64
	readEach(t, sp, func(e *entry, seg *segment) {
		got = append(got, e.aseq)
		if e.record[0] != byte(e.aseq) || string(e.region) != "korea" || e.partition != int32(e.aseq%2) {
			t.Fatalf("entry %d corrupted: %+v", e.aseq, *e)
		}
		if e.aseq <= 100 {
			seg.acked.Add(1) // acknowledge the first half
		}
	})
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("read order: position %d holds %d", i, s)
		}
	}
	if len(got) != n {
		t.Fatalf("read %d entries, want %d", len(got), n)
	}
	before := sp.Bytes()
	sp.Trim()
	if sp.Bytes() >= before {
		t.Errorf("Trim freed nothing (%d bytes)", before)
	}
	if b := sp.Backlog(); b != 100 {
		t.Errorf("backlog %d, want 100", b)
	}
	sp.Close()

	// A torn write at the end of the last segment is cut on reopen.
	names, _ := filepath.Glob(filepath.Join(dir, "seg-*.spool"))
	last := names[len(names)-1]
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	full := appendEntry(nil, 999, 0, []byte("korea"), record)
	f.Write(full[:len(full)/2])
	f.Close()
	sp, rec, err = openSpool(dir, 1<<20, minSegBytes, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if rec.torn != int64(len(full)/2) {
		t.Errorf("torn bytes %d, want %d", rec.torn, len(full)/2)
	}
	if rec.maxSeq[seqKey{"korea", 0}] != 200 || rec.maxSeq[seqKey{"korea", 1}] != 199 {
		t.Errorf("recovered max sequences %v", rec.maxSeq)
	}
	// Every entry not trimmed is still there, in order (the trimmed prefix is gone).
	var first, count uint64
	if err := sp.scan(func(e *entry) {
		if count == 0 {
			first = e.aseq
		} else if e.aseq != first+count {
			t.Fatalf("scan: %d after %d entries from %d", e.aseq, count, first)
		}
		count++
	}); err != nil {
		t.Fatal(err)
	}
	if first+count-1 != n || first > 101 {
		t.Errorf("after reopen: entries %d..%d", first, first+count-1)
	}

	// The bound refuses a batch that does not fit, whole.
	big := appendEntry(nil, 1000, 0, []byte("korea"), make([]byte, 1<<20))
	if err := sp.Write(big, 1); !errors.Is(err, ErrSpoolFull) {
		t.Errorf("oversize batch: err = %v, want ErrSpoolFull", err)
	}
}

// TestHandleDoesNotAllocate: the handler path (header, arbitration, partition, spool entry,
// one write per batch) allocates nothing per message in steady state.
func TestHandleDoesNotAllocate(t *testing.T) {
	a, round, batchLen := handleRig(t, 1<<30)
	round() // first sight of the stream allocates its arbiter state
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Fatalf("%v allocations per batch of %d", n, batchLen)
	}
	if a.Stats.Accepted.Load() != 102*64 { // first round, AllocsPerRun's warm-up, 100 runs
		t.Fatalf("accepted %d", a.Stats.Accepted.Load())
	}
}

// readEach reads sp from its start and calls f with each entry (reused between calls) and
// the segment holding it; a read error or an entry that does not parse fails the test.
func readEach(t *testing.T, sp *spool, f func(e *entry, seg *segment)) {
	t.Helper()
	var c cursor
	var e entry
	for {
		b, seg, err := sp.read(&c)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			return
		}
		for off := 0; off < len(b); {
			k, err := parseEntry(b[off:], &e)
			if err != nil || k == 0 {
				t.Fatalf("entry at %d: %v", off, err)
			}
			f(&e, seg)
			off += k
		}
	}
}
