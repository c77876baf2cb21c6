package arbiter

import (
	"testing"

	"github.com/tickline/tickline/shared/wire"
)

func status(code wire.StatusCode, gwSeq uint64) *wire.Header {
	h := hdr(wire.Binance, wire.KindStatus, "BTC-USDT", 0)
	h.Aux, h.Flags, h.GatewaySeq = uint8(code), wire.FlagBookInvalid, gwSeq
	if code == wire.StatusResync {
		h.Flags = 0
	}
	return h
}

func TestGapOnOneLineIsCovered(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 1e9)
	for seq := uint64(1); seq <= 3; seq++ {
		for line := 0; line < 2; line++ {
			h := hdr(wire.Binance, wire.KindBookDelta, "BTC-USDT", seq)
			h.GatewaySeq = seq
			m.Offer(line, h, int64(seq))
		}
	}
	if m.Offer(0, status(wire.StatusGap, 4), 10) {
		t.Fatal("gap on line 0 delivered although line 1 is healthy")
	}
	if m.Stats.Covered != 1 {
		t.Fatalf("stats %+v", m.Stats)
	}
	// Now line 1 breaks too: a real gap, delivered once.
	if !m.Offer(1, status(wire.StatusGap, 4), 11) {
		t.Fatal("gap on every line not delivered")
	}
	if m.Offer(1, status(wire.StatusReconnect, 5), 12) {
		t.Fatal("a second invalidation of a broken stream delivered twice")
	}
	// A snapshot from line 0 repairs the stream and makes line 0 healthy again.
	snap := hdr(wire.Binance, wire.KindBookSnapshot, "BTC-USDT", 50)
	snap.GatewaySeq = 5
	if !m.Offer(0, snap, 13) {
		t.Fatal("snapshot dropped")
	}
	if m.Offer(1, status(wire.StatusGap, 6), 14) { // line 0 covers line 1 again
		t.Fatal("covered gap delivered after repair")
	}
	if m.Stats.RealGaps != 1 || m.Stats.Covered != 2 {
		t.Fatalf("stats %+v", m.Stats)
	}
}

func TestDeadLineDoesNotCover(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 100)
	m.Offer(0, hdr(wire.OKX, wire.KindBBO, "BTC-USDT", 1), 0)
	m.Offer(1, hdr(wire.OKX, wire.KindBBO, "BTC-USDT", 1), 0)
	// Line 1 goes silent; line 0 keeps going.
	m.Offer(0, hdr(wire.OKX, wire.KindBBO, "BTC-USDT", 2), 500)
	if ch := m.Tick(500, nil); len(ch) != 1 || ch[0] != 1 || m.Stats.Failovers != 1 {
		t.Fatalf("failover not detected: %v %+v", ch, m.Stats)
	}
	h := hdr(wire.OKX, wire.KindStatus, "BTC-USDT", 0)
	h.Aux, h.Flags = uint8(wire.StatusStale), wire.FlagBookInvalid
	if !m.Offer(0, h, 501) {
		t.Fatal("status from the only live line was covered by a dead line")
	}
	m.Offer(1, hdr(wire.OKX, wire.KindBBO, "BTC-USDT", 3), 600)
	if ch := m.Tick(600, nil); len(ch) != 1 || m.Stats.Returns != 1 {
		t.Fatalf("return not detected: %v %+v", ch, m.Stats)
	}
}

func TestGatewaySeqGaps(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 0)
	for _, g := range []uint64{1, 2, 5, 6} {
		h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", g)
		h.GatewaySeq = g
		m.Offer(1, h, 0)
	}
	if m.Stats.SeqGaps[1] != 2 {
		t.Fatalf("seq gaps %d, want 2", m.Stats.SeqGaps[1])
	}
}

// TestOfferRetransmitLeavesLineTracking: a retransmitted record is arbitrated like a live
// one, but it neither counts as a gateway-sequence jump nor moves the line's sequence back.
func TestOfferRetransmitLeavesLineTracking(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 1e9)
	live := func(line int, seq, gwSeq uint64) bool {
		h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq)
		h.GatewaySeq = gwSeq
		return m.Offer(line, h, 1)
	}
	retransmit := func(line int, seq, gwSeq uint64) bool {
		h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", seq)
		h.GatewaySeq = gwSeq
		return m.OfferRetransmit(line, h, 1)
	}
	live(0, 1, 1)
	live(0, 2, 2)
	live(0, 10, 10) // line 0 missed gateway seqs 3..9 (events 3..9)
	if g := m.Stats.SeqGaps[0]; g != 7 {
		t.Fatalf("seq gaps %d, want 7", g)
	}
	for s := uint64(3); s <= 9; s++ {
		if !retransmit(0, s, s) {
			t.Fatalf("retransmitted event %d dropped", s)
		}
	}
	if retransmit(0, 5, 5) || retransmit(1, 10, 10) {
		t.Fatal("a retransmitted copy of an event already delivered was kept")
	}
	live(0, 11, 11) // continues after 10: no new gap although retransmits went back to 3
	if g := m.Stats.SeqGaps[0]; g != 7 {
		t.Fatalf("seq gaps %d after retransmits, want 7", g)
	}
}

// Regression (issue 9.2): refresh snapshots of books without exchange ids carried the
// content hash in Seq without FlagNoSeq; the arbiter took the hash for an id and dropped
// 25 of 30 refreshes on a single clean line.
func TestRegressionRefreshNeverMeetsIDs(t *testing.T) {
	m := NewMerger(New(Options{}), 1, 0)
	delivered := 0
	key := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 30; i++ {
		d := content(wire.Coinbase, wire.KindBookDelta, "BTC-USD", uint64(i+1), int64(i+1)*ms)
		m.Offer(0, d, int64(i)*ms)
		key = key*6364136223846793005 + 1442695040888963407
		r := hdr(wire.Coinbase, wire.KindBookSnapshot, "BTC-USD", key>>1)
		r.Flags = wire.FlagRefresh
		if m.Offer(0, r, int64(i)*ms+1) {
			delivered++
		}
	}
	if delivered != 30 {
		t.Fatalf("%d of 30 refresh snapshots delivered on a single clean line", delivered)
	}
}

// Refreshes: a late joiner gets one; once whole, only the lead line's refreshes pass (one
// line's periodic refreshes, not every line's); a broken stream takes any line's.
func TestRefreshPolicy(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 0)
	ref := func(line int, now int64) bool {
		r := hdr(wire.OKX, wire.KindBookSnapshot, "BTC-USDT", 77)
		r.Flags = wire.FlagRefresh
		return m.Offer(line, r, now)
	}
	if !ref(1, 1) {
		t.Fatal("late joiner's first refresh dropped")
	}
	m.Offer(0, hdr(wire.OKX, wire.KindBookDelta, "BTC-USDT", 78), 2) // line 0 leads
	m.Offer(1, hdr(wire.OKX, wire.KindBookDelta, "BTC-USDT", 78), 3)
	if ref(1, 4) || !ref(0, 5) {
		t.Fatal("refresh from the non-lead line passed, or the lead's dropped")
	}
	m.Offer(0, status(wire.StatusGap, 0), 6)
	st := status(wire.StatusGap, 0)
	st.Exchange = wire.OKX
	st.Instrument.SetString("BTC-USDT")
	m.Offer(0, st, 6)
	m.Offer(1, st, 6) // both lines broken: a real gap
	if !ref(1, 7) {
		t.Fatal("a broken stream did not take a refresh")
	}
}

// Regression (issue 9.4): a Coinbase resubscribe snapshot identical to an earlier one was
// dropped as a duplicate and the merger's broken state stayed set.
func TestRegressionResubscribeSnapshotRepairs(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 0)
	snap := func() *wire.Header { return content(wire.Coinbase, wire.KindBookSnapshot, "BTC-USD", 0xCAFE, 0) }
	if !m.Offer(0, snap(), 1) || m.Offer(1, snap(), 2) {
		t.Fatal("first snapshot / copy verdicts")
	}
	st := hdr(wire.Coinbase, wire.KindStatus, "BTC-USD", 0)
	st.Aux, st.Flags = uint8(wire.StatusGap), wire.FlagBookInvalid
	m.Offer(0, st, 3)
	if !m.Offer(1, st, 4) {
		t.Fatal("gap on both lines not delivered")
	}
	if !m.Offer(0, snap(), 5) { // line 0 resubscribes; the book had not changed
		t.Fatal("identical resubscribe snapshot dropped while the stream was broken")
	}
	st2 := *st
	if !m.Offer(0, &st2, 6) { // broken state cleared: a new real gap is reported again
		t.Fatal("broken state stayed set after the repair")
	}
	// A slower line's copy of a snapshot the consumer already had repairs a broken stream.
	okx := func() *wire.Header { return hdr(wire.OKX, wire.KindBookSnapshot, "BTC-USDT", 50) }
	if !m.Offer(0, okx(), 7) {
		t.Fatal("snapshot dropped")
	}
	st3 := *st
	st3.Exchange = wire.OKX
	st3.Instrument.SetString("BTC-USDT")
	m.Offer(0, &st3, 8)
	m.Offer(1, &st3, 8)
	if !m.Offer(1, okx(), 9) || m.Stats.Repairs != 2 { // the Coinbase one above, and this
		t.Fatalf("copy of a snapshot did not repair the broken stream (repairs %d)", m.Stats.Repairs)
	}
}

// A trade-id gap on one line is covered while another live line carries the instrument, and
// delivered when none does.
func TestTradeGapCoveredByAnotherLine(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 1e9)
	gap := func() *wire.Header {
		h := hdr(wire.Binance, wire.KindStatus, "BTC-USDT", 0)
		h.Aux = uint8(wire.StatusGap)
		return h
	}
	m.Offer(0, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1), 1)
	if !m.Offer(0, gap(), 2) {
		t.Fatal("trade gap on the only line not delivered")
	}
	m.Offer(1, hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1), 3)
	if m.Offer(0, gap(), 4) {
		t.Fatal("trade gap delivered although line 1 carries the instrument")
	}
	if m.Stats.Covered != 1 || m.Stats.RealGaps != 1 {
		t.Fatalf("stats %+v", m.Stats)
	}
}

// Regression (review): a line that carries only the instrument's trades covers no book gap.
func TestTradesOnlyLineDoesNotCoverBookGap(t *testing.T) {
	m := NewMerger(New(Options{}), 2, 1e9)
	m.Offer(0, hdr(wire.Coinbase, wire.KindBookDelta, "BTC-USD", 1), 1)
	m.Offer(1, hdr(wire.Coinbase, wire.KindTrade, "BTC-USD", 1), 2)
	st := hdr(wire.Coinbase, wire.KindStatus, "BTC-USD", 0)
	st.Aux, st.Flags = uint8(wire.StatusGap), wire.FlagBookInvalid
	if !m.Offer(0, st, 3) || m.Stats.RealGaps != 1 {
		t.Fatalf("book gap hidden by a trades-only line (stats %+v)", m.Stats)
	}
}
