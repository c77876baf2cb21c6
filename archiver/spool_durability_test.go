package archiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
)

// writeEntries writes n entries in batches of one: entry i (1..n) goes to partition i%2 with
// that partition's next archive sequence, (i+1)/2, and a record whose first byte is i. It
// returns the offset of each entry in the (single) segment.
func writeEntries(t *testing.T, sp *spool, n int) []int64 {
	t.Helper()
	record := make([]byte, 100)
	var offs []int64
	off := headerBytes
	for i := 1; i <= n; i++ {
		record[0] = byte(i)
		b := appendEntry(nil, uint64(i+1)/2, int32(i%2), []byte("korea"), record)
		if err := sp.Write(b, 1); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
		off += int64(len(b))
	}
	return offs
}

// TestSpoolCorruptSpanSkippedAndCounted: bytes damaged in the middle of a segment do not cut
// the rest of it: recovery re-synchronises on the next valid entry, keeps every entry after
// the damage, counts the skipped bytes and reports the archive sequences the span held (from
// the gap it leaves). Before: everything after the damage was truncated with a log line.
func TestSpoolCorruptSpanSkippedAndCounted(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := openSpool(dir, 1<<24, 1<<20, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	offs := writeEntries(t, sp, n)
	sp.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "seg-*.spool"))
	if len(names) != 1 {
		t.Fatalf("%d segments, want 1", len(names))
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	// Damage entries 40 and 41 (partitions 0 and 1): a run of bytes across their bodies.
	for i := offs[39] + 20; i < offs[40]+30; i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(names[0], data, 0o644); err != nil {
		t.Fatal(err)
	}

	sp, rec, err := openSpool(dir, 1<<24, 1<<20, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if rec.entries != n-2 {
		t.Errorf("recovered %d entries, want %d", rec.entries, n-2)
	}
	if want := offs[41] - offs[39]; rec.corrupt != want || rec.torn != 0 {
		t.Errorf("corrupt %d bytes, torn %d; want %d and 0", rec.corrupt, rec.torn, want)
	}
	// Entry 40 was partition 0's sequence 20, entry 41 partition 1's 21.
	wantLost := map[seqRange]bool{{seqKey{"korea", 0}, 20, 20}: true, {seqKey{"korea", 1}, 21, 21}: true}
	if len(rec.lost) != 2 || !wantLost[rec.lost[0]] || !wantLost[rec.lost[1]] {
		t.Errorf("lost ranges %v, want partition 0's 20 and partition 1's 21", rec.lost)
	}
	var got []int
	if err := sp.scan(func(e *entry) { got = append(got, int(e.record[0])) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n-2 || got[38] != 39 || got[39] != 42 || got[len(got)-1] != n {
		t.Errorf("entries after recovery: %d, around the damage %v", len(got), got[37:41])
	}
	// The reader goes through the rewritten segment without error.
	read := 0
	readEach(t, sp, func(*entry, *segment) { read++ })
	if read != n-2 {
		t.Errorf("read %d entries, want %d", read, n-2)
	}
}

// TestSpoolFsyncPolicies: "batch" syncs every write before it returns, "interval" syncs
// pending writes within the interval, "none" never; every policy but none syncs a segment
// when it is sealed.
func TestSpoolFsyncPolicies(t *testing.T) {
	for _, policy := range []string{config.SpoolFsyncNone, config.SpoolFsyncInterval, config.SpoolFsyncBatch} {
		t.Run(policy, func(t *testing.T) {
			sp, _, err := openSpoolSync(t.TempDir(), 1<<24, 1<<20, policy, testkit.Log(t))
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			writeEntries(t, sp, 10)
			switch policy {
			case config.SpoolFsyncNone:
				if n := sp.syncs.Load(); n != 0 {
					t.Errorf("%d fsyncs", n)
				}
			case config.SpoolFsyncBatch:
				if n := sp.syncs.Load(); n != 10 {
					t.Errorf("%d fsyncs after 10 writes, want 10", n)
				}
			case config.SpoolFsyncInterval:
				if n := sp.syncs.Load(); n != 0 {
					t.Errorf("%d fsyncs before the loop runs", n)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); sp.syncLoop(ctx, time.Millisecond) }()
				testkit.Poll(t, 5*time.Second, "interval fsync", func() bool { return sp.syncs.Load() == 1 })
				cancel()
				<-done
				sp.mu.Lock()
				dirty := sp.dirty
				sp.mu.Unlock()
				if dirty || sp.syncs.Load() != 1 {
					t.Errorf("after the loop: dirty %v, %d fsyncs; want clean, 1 (nothing written since)", dirty, sp.syncs.Load())
				}
			}
		})
	}
}

// TestArchiveSpoolFullCountedNoHoles: Kafka is unreachable and the spool fills. Records the
// spool refuses are lost, and counted as such (spool_dropped_total equals the events missing
// from the archive, read back from Kafka); they take no archive sequence, so each partition's
// archived sequence has no hole. Before: their sequences were consumed, leaving holes.
func TestArchiveSpoolFullCountedNoHoles(t *testing.T) {
	_, seeds, gate := newKafka(t)
	gws := []gw{{"gw-a", 1, "korea"}}
	lines, eps := gatewayEndpoints(t, gws)
	topo := parseTopo(t, topoYAML(gws, seeds, spoolDir(t), "ticks."))
	topo.Archiver.SpoolMaxBytes = 64 << 10 // below the config minimum: a test-sized bound
	a, stop := startArchiver(t, topo, Options{Endpoints: eps, SegmentBytes: 8 << 10})
	lines[0].waitSubscribed(1)
	gate.SetDown(true)
	var want []event
	for from := uint64(0); a.Stats.SpoolDropped.Load() == 0 || len(want) < 3*1000; from += 10 {
		if from > 100000 {
			t.Fatal("the spool never filled")
		}
		evs := events(from, 10)
		publishAll(lines, evs)
		want = append(want, evs...)
		testkit.Poll(t, 10*time.Second, "records handled", func() bool {
			return a.Stats.Accepted.Load()+a.Stats.SpoolDropped.Load() == uint64(len(want))
		})
	}
	gate.SetDown(false)
	testkit.Poll(t, 30*time.Second, "spool drained", func() bool {
		return a.Stats.Produced.Load() == a.Stats.Accepted.Load() && a.Stats.SpoolBacklog.Load() == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := consumeAll(t, seeds, "ticks.korea")
	seen := map[event]int{}
	for p, recs := range got {
		for i, r := range recs {
			if aseq, _ := ArchiveSeq(r); aseq != uint64(i+1) {
				t.Fatalf("partition %d offset %d: archive sequence %d, want %d (a hole)", p, i, aseq, i+1)
			}
			seen[eventOf(t, r)]++
		}
	}
	missing := 0
	for _, e := range want {
		switch seen[e] {
		case 0:
			missing++
		case 1:
		default:
			t.Errorf("%v archived %d times", e, seen[e])
		}
	}
	if dropped := a.Stats.SpoolDropped.Load(); missing == 0 || uint64(missing) != dropped {
		t.Errorf("%d events missing from the archive, spool_dropped_total %d: want equal and > 0", missing, dropped)
	}
	t.Logf("published %d, archived %d, spool refused %d", len(want), len(want)-missing, missing)
}

// TestArchiveSpoolCorruptionLostCounted: the archiver stops with records still in the spool
// (Kafka unreachable); a span of the spool is damaged before the restart. The restart
// archives every record the damage spared and counts exactly the ones it destroyed as lost
// (the oracle: published events minus those read back from Kafka).
func TestArchiveSpoolCorruptionLostCounted(t *testing.T) {
	_, seeds, gate := newKafka(t)
	gws := koreaA
	lines, eps := gatewayEndpoints(t, gws)
	topo := parseTopo(t, topoYAML(gws, seeds, spoolDir(t), "ticks."))
	a, stop := startSubscribed(t, topo, Options{Endpoints: eps}, lines...)
	gate.SetDown(true)
	want := events(0, 100)
	publishAll(lines, want)
	testkit.Poll(t, 10*time.Second, "spooled", func() bool { return a.Stats.Accepted.Load() == uint64(len(want)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(topo.Archiver.SpoolDir, "seg-*.spool"))
	var damaged string
	for _, name := range names {
		if st, _ := os.Stat(name); st.Size() > 20000 {
			damaged = name
		}
	}
	if damaged == "" {
		t.Fatalf("no segment holds the records: %v", names)
	}
	data, _ := os.ReadFile(damaged)
	for i := 10000; i < 10100; i++ { // a span inside the segment, well before its end
		data[i] ^= 0xff
	}
	if err := os.WriteFile(damaged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gate.SetDown(false)
	a, stop = startArchiver(t, topo, Options{Endpoints: eps})
	testkit.Poll(t, 20*time.Second, "spool drained", func() bool {
		return a.Stats.Recovered.Load() > 0 && a.Stats.Produced.Load() == a.Stats.Recovered.Load()
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	seen := map[event]int{}
	for _, recs := range consumeAll(t, seeds, "ticks.korea") {
		for _, r := range recs {
			seen[eventOf(t, r)]++
		}
	}
	missing := 0
	for _, e := range want {
		if seen[e] == 0 {
			missing++
		}
	}
	lost := a.Stats.SpoolCorruptLost.Load()
	if missing == 0 || missing > 3 || uint64(missing) != lost || a.Stats.SpoolCorruptBytes.Load() == 0 {
		t.Errorf("%d events missing, spool_corrupt_lost_total %d, corrupt bytes %d: want 1..3 missing, all counted",
			missing, lost, a.Stats.SpoolCorruptBytes.Load())
	}
	var b strings.Builder
	a.WriteMetrics(&b)
	if !strings.Contains(b.String(), fmt.Sprintf("tickline_archiver_spool_corrupt_lost_total %d\n", lost)) {
		t.Errorf("metrics lack the corrupt-lost count")
	}
}
