package arbiter

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

func hdr(ex wire.Exchange, kind wire.Kind, inst string, seq uint64) *wire.Header {
	h := &wire.Header{Exchange: ex, Kind: kind, Seq: seq}
	h.Instrument.SetString(inst)
	return h
}

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

func TestLateFillAndOldAndReset(t *testing.T) {
	a := New(Options{Window: 128})
	h := func(seq uint64) *wire.Header { return hdr(wire.Bybit, wire.KindBBO, "BTC-USDT", seq) }
	for _, s := range []uint64{1000, 1002, 1003} {
		a.Offer(0, h(s), 0)
	}
	if !a.Offer(1, h(1001), 0) { // line 0 missed it, line 1 fills it late
		t.Fatal("late fill dropped")
	}
	if a.Offer(1, h(1002), 0) {
		t.Fatal("duplicate delivered")
	}
	if a.Offer(1, h(1003-128), 0) || a.Stats.Old[1] != 1 {
		t.Fatal("id below the window delivered")
	}
	a.Offer(0, h(5000), 0)
	if !a.Offer(0, h(1), 0) || a.Stats.Resets != 1 { // Bybit restart from 1
		t.Fatalf("reset not followed: resets %d", a.Stats.Resets)
	}
	if !a.Offer(0, h(2), 0) || a.Offer(1, h(2), 0) {
		t.Fatal("after reset: wrong verdicts")
	}
}

func TestContentKeysTTL(t *testing.T) {
	a := New(Options{NoSeqTTL: time.Second, NoSeqSlots: 64})
	h := hdr(wire.Upbit, wire.KindBookSnapshot, "BTC-KRW", 0xdeadbeef)
	h.Flags = wire.FlagNoSeq
	if !a.Offer(0, h, 1) || a.Offer(1, h, 2) {
		t.Fatal("content key: first/duplicate wrong")
	}
	if !a.Offer(1, h, 1+int64(2*time.Second)) {
		t.Fatal("content key remembered past its TTL")
	}
	// Table pressure: more live keys than slots evicts, never blocks or crashes.
	for i := uint64(0); i < 1000; i++ {
		k := hdr(wire.Upbit, wire.KindBookSnapshot, "BTC-KRW", i)
		k.Flags = wire.FlagNoSeq
		a.Offer(0, k, 10)
	}
	if a.Stats.Evictions == 0 {
		t.Fatal("no evictions under pressure")
	}
}

func TestStatusPassesThrough(t *testing.T) {
	a := New(Options{})
	h := hdr(wire.Binance, wire.KindStatus, "BTC-USDT", 1)
	if !a.Offer(0, h, 0) || !a.Offer(1, h, 0) {
		t.Fatal("status records must reach the caller's policy")
	}
}

// TestRandomLines: three lines carry the same events with independent drops and delays;
// the merged output is exactly the union, each event once.
func TestRandomLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type arrival struct {
		line int
		seq  uint64
		at   float64
	}
	const n = 20000
	var arr []arrival
	have := map[uint64]bool{}
	for seq := uint64(1); seq <= n; seq++ {
		for line := 0; line < 3; line++ {
			if rng.Float64() < 0.2 { // 20% loss on each line
				continue
			}
			have[seq] = true
			arr = append(arr, arrival{line, seq, float64(seq) + rng.Float64()*50}) // up to 50 events of skew
		}
	}
	// deliver in arrival-time order
	for i := 1; i < len(arr); i++ {
		for j := i; j > 0 && arr[j].at < arr[j-1].at; j-- {
			arr[j], arr[j-1] = arr[j-1], arr[j]
		}
	}
	a := New(Options{Window: 1024})
	got := map[uint64]int{}
	for _, x := range arr {
		if a.Offer(x.line, hdr(wire.OKX, wire.KindBookDelta, "BTC-USDT", x.seq), 0) {
			got[x.seq]++
		}
	}
	for seq := range have {
		if got[seq] != 1 {
			t.Fatalf("seq %d delivered %d times", seq, got[seq])
		}
	}
	if len(got) != len(have) {
		t.Fatalf("delivered %d distinct events, lines had %d", len(got), len(have))
	}
}

func TestZeroAlloc(t *testing.T) {
	a := New(Options{})
	h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 1)
	k := hdr(wire.Upbit, wire.KindTicker, "BTC-KRW", 1)
	k.Flags = wire.FlagNoSeq
	a.Offer(0, h, 0)
	seq := uint64(1)
	n := testing.AllocsPerRun(1000, func() {
		seq++
		h.Seq, k.Seq = seq, seq
		a.Offer(0, h, 0)
		a.Offer(1, h, 0)
		a.Offer(0, k, 0)
		a.Offer(1, k, 0)
	})
	if n != 0 {
		t.Fatalf("Offer allocates %v times", n)
	}
}
