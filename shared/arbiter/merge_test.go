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
