package replay

import (
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// TestReplayEachEventOnce archives the same exchange events in both regions (korea through
// gateway 1, global through gateway 3), each region missing some the other has, and checks
// against the union of what was archived (the oracle): by default every event is written
// exactly once whichever region holds it; with AllCopies every archived record is written.
func TestReplayEachEventOnce(t *testing.T) {
	seeds, topo := newArchive(t, "dup.")
	const n = 2000
	var korea, global [][]byte
	type key struct {
		ex   wire.Exchange
		kind wire.Kind
		seq  uint64
	}
	union := map[key]bool{}
	copies := 0
	for i := 1; i <= n; i++ {
		at := time.Duration(i) * 500 * time.Microsecond
		for _, s := range []struct {
			ex   wire.Exchange
			kind wire.Kind
		}{{wire.Binance, wire.KindTrade}, {wire.OKX, wire.KindTrade}} {
			k := key{s.ex, s.kind, uint64(i)}
			if i%7 != 0 { // korea lost every 7th event
				korea = append(korea, rec(s.ex, s.kind, "BTC-USDT", uint64(i), at, 1))
				union[k] = true
				copies++
			}
			if i%11 != 0 { // global lost every 11th
				global = append(global, rec(s.ex, s.kind, "BTC-USDT", uint64(i), at, 3))
				union[k] = true
				copies++
			}
		}
	}
	archive(t, seeds, "dup.korea", "korea", korea)
	archive(t, seeds, "dup.global", "global", global)

	var once collected
	r := runReplay(t, topo, Options{}, once.sink())
	got := map[key]int{}
	for _, v := range once.values {
		var h wire.Header
		if err := wire.ReadHeader(archived(t, v), &h); err != nil {
			t.Fatal(err)
		}
		got[key{h.Exchange, h.Kind, h.Seq}]++
	}
	for k := range union {
		if got[k] != 1 {
			t.Fatalf("event %v written %d times, want once", k, got[k])
		}
	}
	if len(once.values) != len(union) {
		t.Fatalf("wrote %d records for %d events", len(once.values), len(union))
	}
	once.checkMergeOrder(t)
	if d := r.Stats.Duplicates.Load(); d != int64(copies-len(union)) {
		t.Errorf("Duplicates = %d, want %d", d, copies-len(union))
	}

	var all collected
	runReplay(t, topo, Options{AllCopies: true}, all.sink())
	if len(all.values) != copies {
		t.Fatalf("AllCopies wrote %d records, want every copy: %d", len(all.values), copies)
	}
	for _, v := range all.values {
		archived(t, v) // FlagReplay on every record
	}
}
