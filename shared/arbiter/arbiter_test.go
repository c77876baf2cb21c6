package arbiter

import (
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

func hdr(ex wire.Exchange, kind wire.Kind, inst string, seq uint64) *wire.Header {
	h := &wire.Header{Exchange: ex, Kind: kind, Seq: seq}
	h.Instrument.SetString(inst)
	return h
}

func content(ex wire.Exchange, kind wire.Kind, inst string, key uint64, ts int64) *wire.Header {
	h := hdr(ex, kind, inst, key)
	h.Flags, h.TsExchange = wire.FlagNoSeq, ts
	return h
}

const ms = int64(time.Millisecond)

func TestFirstArrivalWins(t *testing.T) {
	a := New(Options{})
	now := int64(1)
	for seq := uint64(1); seq <= 100; seq++ {
		if !a.Offer(0, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq), now) {
			t.Fatalf("line 0 seq %d not delivered", seq)
		}
	}
	for seq := uint64(1); seq <= 100; seq++ {
		if a.Offer(1, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq), now) {
			t.Fatalf("line 1 duplicate seq %d delivered", seq)
		}
	}
	// Same ids on another instrument, kind or exchange are other events.
	if !a.Offer(1, hdr(wire.Binance, wire.KindTrade, "ETH-USDT", 5), now) ||
		!a.Offer(1, hdr(wire.Binance, wire.KindBBO, "BTC-USDT", 5), now) ||
		!a.Offer(1, hdr(wire.OKX, wire.KindTrade, "BTC-USDT", 5), now) {
		t.Fatal("distinct event treated as duplicate")
	}
	if a.Stats.Wins[0] != 100 || a.Stats.Duplicates[1] != 100 || a.Stats.Wins[1] != 3 {
		t.Fatalf("stats wins %v dups %v", a.Stats.Wins[:2], a.Stats.Duplicates[:2])
	}
}

func TestStatusAndRefreshAreNotEvents(t *testing.T) {
	a := New(Options{})
	st := hdr(wire.Binance, wire.KindStatus, "BTC-USDT", 1)
	rf := hdr(wire.Coinbase, wire.KindBookSnapshot, "BTC-USD", 7)
	rf.Flags = wire.FlagRefresh
	for line := 0; line < 2; line++ {
		if a.Decide(line, st, 0) != OutcomeNotEvent || a.Decide(line, rf, 0) != OutcomeNotEvent {
			t.Fatal("status and refresh records must reach the caller's policy")
		}
	}
	if a.Stats.Streams != 0 {
		t.Fatalf("gateway-made records created %d streams", a.Stats.Streams)
	}
}

// TestLateBeyondTolerance: a record below the floor (its neighbours were first delivered
// more than the tolerance ago) is late, counted, never delivered — whether it is a copy of
// a forgotten event or a first arrival.
func TestLateBeyondTolerance(t *testing.T) {
	a := New(Options{Tolerance: time.Second})
	h := func(seq uint64) *wire.Header { return hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq) }
	for i := uint64(1); i <= 10; i++ {
		if i != 5 {
			a.Offer(0, h(i), int64(i)*ms)
		}
	}
	now := 3 * int64(time.Second)
	a.Offer(0, h(11), now) // ages out 1..10
	if o := a.Decide(1, h(3), now); o != OutcomeLate {
		t.Fatalf("copy past the tolerance: %v", o)
	}
	if o := a.Decide(1, h(5), now); o != OutcomeLate {
		t.Fatalf("event every line brought too late: %v", o)
	}
	if a.Stats.Late[1] != 2 {
		t.Fatalf("late %d, want 2", a.Stats.Late[1])
	}
	if o := a.Decide(1, h(11), now+1); o != OutcomeDuplicate {
		t.Fatalf("copy within the tolerance: %v", o)
	}
}

// Regression (issue 9.1): sparse ids (Upbit sequential_id, Coinone ms×1000+counter,
// Bithumb ms×10000) made an 8192-id window 1–8 ms wide; a record only the slower line
// carried, a few ms late, was dropped as Old and counted as a duplicate.
func TestRegressionSparseIDLateCopy(t *testing.T) {
	a := New(Options{})
	id := func(msAt int64, n uint64) uint64 { return uint64(1_693_560_450_000+msAt)*1000 + n }
	for m := int64(0); m < 50; m++ { // line 0 carries every ms but 20
		if m != 20 {
			a.Offer(0, hdr(wire.Upbit, wire.KindTrade, "BTC-KRW", id(m, 1)), m*ms)
		}
	}
	// Line 1 is 40 ms behind and is the only one with ms 20.
	if !a.Offer(1, hdr(wire.Upbit, wire.KindTrade, "BTC-KRW", id(20, 1)), 60*ms) {
		t.Fatal("sparse-id record carried only by the slower line was dropped")
	}
	if a.Offer(1, hdr(wire.Upbit, wire.KindTrade, "BTC-KRW", id(21, 1)), 61*ms) {
		t.Fatal("copy delivered twice")
	}
	if a.Stats.Late[1] != 0 || a.Stats.Duplicates[1] != 1 {
		t.Fatalf("late %d dups %d", a.Stats.Late[1], a.Stats.Duplicates[1])
	}
}

// resetHdr is a Bybit/OKX id record with exchange time; reset marks FlagSeqReset.
func resetHdr(seq uint64, ts int64, reset bool) *wire.Header {
	h := hdr(wire.Bybit, wire.KindBookDelta, "BTC-USDT", seq)
	h.TsExchange = ts
	if reset {
		h.Flags |= wire.FlagSeqReset
	}
	return h
}

// Regression (issue 9.3): Bybit u restarting at 1 with top 10000 dropped all 10000 new
// events; the slower line's copies of both epochs must be copies, never new.
func TestRegressionBybitResetTo1(t *testing.T) {
	a := New(Options{})
	const n = 10000
	ts := int64(1_700_000_000_000) * ms
	for u := uint64(1); u <= n; u++ {
		a.Offer(0, resetHdr(u, ts+int64(u)*ms, false), int64(u)*1000)
	}
	base := ts + (n+1)*ms
	now := int64(n+1) * 1000
	delivered := 0
	for u := uint64(1); u <= n; u++ {
		if a.Offer(0, resetHdr(u, base+int64(u)*ms, u == 1), now+int64(u)*1000) {
			delivered++
		}
	}
	if delivered != n || a.Stats.Resets[0] != 1 {
		t.Fatalf("after the reset %d of %d delivered, resets %d", delivered, n, a.Stats.Resets[0])
	}
	// Line 1 lags: copies of the old epoch's tail, the reset itself, and new-epoch ids.
	now += (n + 1) * 1000
	for _, h := range []*wire.Header{resetHdr(n, ts+n*ms, false), resetHdr(1, base+ms, true), resetHdr(500, base+500*ms, false)} {
		if a.Offer(1, h, now) {
			t.Fatalf("copy %d (ts %d, flags %v) delivered twice", h.Seq, h.TsExchange, h.Flags)
		}
	}
	if a.Stats.Resets[1] != 0 {
		t.Fatal("a copy of the reset started another epoch")
	}
}

// Regression (issue 9.3): OKX seqId reset to a smaller value (not to 1): all 5000 new
// events were dropped.
func TestRegressionOKXResetSmaller(t *testing.T) {
	a := New(Options{})
	ts := int64(1_700_000_000_000) * ms
	h := func(seq uint64, at int64, reset bool) *wire.Header {
		r := resetHdr(seq, at, reset)
		r.Exchange = wire.OKX
		return r
	}
	for i := uint64(0); i < 5000; i++ {
		a.Offer(0, h(900_000+i*3, ts+int64(i), false), int64(i))
	}
	got := 0
	for i := uint64(0); i < 5000; i++ {
		if a.Offer(0, h(300_000+i*2, ts+10_000+int64(i), i == 0), 10_000+int64(i)) {
			got++
		}
	}
	if got != 5000 {
		t.Fatalf("after a reset to a smaller seqId %d of 5000 delivered", got)
	}
}

// Regression (issue 9.3): a line lagging more than 8192 ids on a young stream was taken for
// a reset and its copies delivered twice.
func TestRegressionLaggingLineNotReset(t *testing.T) {
	a := New(Options{})
	for seq := uint64(1); seq <= 20000; seq++ {
		a.Offer(0, hdr(wire.OKX, wire.KindBookDelta, "BTC-USDT", seq), int64(seq)*10_000)
	}
	now := int64(20000) * 10_000
	for seq := uint64(1); seq <= 20000; seq++ {
		if a.Offer(1, hdr(wire.OKX, wire.KindBookDelta, "BTC-USDT", seq), now+int64(seq)) {
			t.Fatalf("lagging line's copy %d delivered twice", seq)
		}
	}
}

// Regression (issue 9.4): a Kraken ticker going A→B→A within the TTL lost the second A.
func TestRegressionKrakenABA(t *testing.T) {
	a := New(Options{})
	k := func(key uint64) *wire.Header { return content(wire.Kraken, wire.KindBBO, "BTC-USD", key, 0) }
	// Line 1 runs 2 ms behind line 0 on this venue (its trades show it).
	a.Offer(0, hdr(wire.Kraken, wire.KindTrade, "BTC-USD", 1), -10*ms)
	a.Offer(1, hdr(wire.Kraken, wire.KindTrade, "BTC-USD", 1), -8*ms)
	seq := []uint64{0xA, 0xB, 0xA, 0xB, 0xA}
	for i, key := range seq { // line 1 carries the same five 2 ms behind line 0
		now := int64(i) * 300 * ms
		if !a.Offer(0, k(key), now) {
			t.Fatalf("event %d (%x) on the leading line dropped", i, key)
		}
		if a.Offer(1, k(key), now+2*ms) {
			t.Fatalf("copy %d (%x) delivered twice", i, key)
		}
	}
	// Line 2 (no lag known) dropped the first B and A: its B is the second B.
	if a.Offer(2, k(0xB), 3*300*ms+3*ms) || !a.Offer(2, k(0xC), 4*300*ms+10*ms) {
		t.Fatal("line 2 misaligned after its drops")
	}
}

// Regression (issue 9.4): content with exchange time — the same content at another time is
// another event; a copy is a copy however many other keys arrive in between.
func TestRegressionContentWithTime(t *testing.T) {
	a := New(Options{})
	k := func(key uint64, ts int64) *wire.Header {
		return content(wire.Upbit, wire.KindBookSnapshot, "BTC-KRW", key, ts)
	}
	if !a.Offer(0, k(0xA, 1000), 1) || !a.Offer(0, k(0xA, 2000), 2) || a.Offer(1, k(0xA, 1000), 3) {
		t.Fatal("identical content at two exchange times")
	}
	for i := uint64(0); i < 100_000; i++ { // table pressure does not let a copy through
		a.Offer(0, content(wire.Upbit, wire.KindBookSnapshot, "ETH-KRW", i, int64(i)+1), 4)
	}
	if a.Offer(1, k(0xA, 2000), 5) {
		t.Fatal("copy within the tolerance delivered after other keys")
	}
	// Past the tolerance the copy is late, not delivered twice.
	later := 5 + int64(DefaultTolerance) + 1
	a.Offer(0, k(0xB, 3000), later)
	if o := a.Decide(1, k(0xA, 2000), later); o != OutcomeLate {
		t.Fatalf("copy past the tolerance: %v", o)
	}
}

// TestKeyBudget: the key budget bounds memory; a stream that cannot grow forgets its
// oldest keys early, counted, and never delivers a remembered copy.
func TestKeyBudget(t *testing.T) {
	a := New(Options{MaxKeys: 64})
	for seq := uint64(1); seq <= 1000; seq++ {
		a.Offer(0, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq), 1)
	}
	if a.keys > 64 || a.Stats.Keys > 64 {
		t.Fatalf("budget exceeded: %d reserved, %d keys", a.keys, a.Stats.Keys)
	}
	if a.Stats.Evictions[0] == 0 {
		t.Fatal("no evictions counted")
	}
	if a.Offer(1, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1000), 2) {
		t.Fatal("remembered copy delivered")
	}
	if o := a.Decide(1, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 10), 2); o != OutcomeLate {
		t.Fatalf("evicted key: %v, want late", o)
	}
}

func TestMaxStreamsUntracked(t *testing.T) {
	a := New(Options{MaxStreams: 1})
	a.Offer(0, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1), 0)
	if o := a.Decide(0, hdr(wire.Binance, wire.KindTrade, "ETH-USDT", 1), 0); o != OutcomeUntracked || a.Stats.Untracked != 1 {
		t.Fatalf("beyond MaxStreams: %v, untracked %d", o, a.Stats.Untracked)
	}
}

func TestZeroAlloc(t *testing.T) {
	a := New(Options{})
	h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1)
	k := content(wire.Upbit, wire.KindTicker, "BTC-KRW", 1, 1)
	c := content(wire.Kraken, wire.KindBBO, "BTC-USD", 1, 0)
	seq := uint64(1)
	now := int64(0)
	step := func() {
		seq++
		now += ms
		h.Seq, k.Seq, k.TsExchange, c.Seq = seq, seq, int64(seq), seq
		a.Offer(0, h, now)
		a.Offer(1, h, now)
		a.Offer(0, k, now)
		a.Offer(1, k, now)
		a.Offer(0, c, now)
		a.Offer(1, c, now)
	}
	for i := 0; i < 30_000; i++ { // past the tolerance: storage at its steady size
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("Offer allocates %v times", n)
	}
}

// Regression (found by the exactly-once run): a snapshot a venue sends on subscribe
// repeats the last update id with the time it was sent. It is a copy, and it starts no
// epoch — also when it is older than the other line's newest id.
func TestRegressionSubscribeSnapshotRepeatsID(t *testing.T) {
	a := New(Options{})
	ts := int64(1_700_000_000_000) * ms
	for u := uint64(100); u <= 105; u++ {
		a.Offer(0, resetHdr(u, ts+int64(u)*ms, false), int64(u))
	}
	if a.Offer(1, resetHdr(105, ts+500*ms, false), 200) || a.Offer(1, resetHdr(103, ts+103*ms, false), 201) {
		t.Fatal("subscribe snapshot's repeat of an id delivered twice")
	}
	if a.Stats.Resets[1] != 0 || !a.Offer(0, resetHdr(106, ts+106*ms, false), 202) {
		t.Fatalf("snapshot repeat started an epoch (resets %d)", a.Stats.Resets[1])
	}
}

// Regression (review): a spent key budget comes back once the streams that spent it go
// quiet past the tolerance, so a new stream is de-duplicated again.
func TestKeyBudgetReclaimed(t *testing.T) {
	a := New(Options{MaxKeys: 1024, Tolerance: time.Second})
	for seq := uint64(1); seq <= 600; seq++ {
		a.Offer(0, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq), 1)
	}
	later := int64(time.Hour)
	h := hdr(wire.OKX, wire.KindTrade, "ETH-USDT", 7)
	if o := a.Decide(0, h, later); o != OutcomeFirst {
		t.Fatalf("new stream's first record: %v", o)
	}
	if o := a.Decide(1, h, later+1); o != OutcomeDuplicate {
		t.Fatalf("copy on the new stream: %v (untracked %d, keys %d, reserved %d)", o, a.Stats.Untracked, a.Stats.Keys, a.keys)
	}
	if a.Stats.Keys != 1 {
		t.Fatalf("%d keys remembered, want 1 (the quiet stream's aged out)", a.Stats.Keys)
	}
}
