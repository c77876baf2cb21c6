package chain

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

func lv(p, s string) wire.Level {
	return wire.Level{Price: wire.MustDecimal(p), Size: wire.MustDecimal(s)}
}

func rec(kind wire.Kind, first, seq uint64, bids, asks []wire.Level) *wire.Record {
	r := &wire.Record{Kind: kind, Exchange: wire.Binance, SeqFirst: first, Seq: seq, Bids: bids, Asks: asks}
	r.Instrument.SetString("BTC-USDT")
	r.Symbol.SetString("BTCUSDT")
	return r
}

// kinds summarises a batch: "snap", "delta", "bbo", "status:gap", ...
func kinds(out *adapter.Batch) []string {
	var ks []string
	for i := 0; i < out.Len(); i++ {
		r := out.At(i)
		switch r.Kind {
		case wire.KindStatus:
			ks = append(ks, "status:"+r.Status.String())
		case wire.KindBookSnapshot:
			ks = append(ks, "snap")
		case wire.KindBookDelta:
			ks = append(ks, "delta")
		default:
			ks = append(ks, r.Kind.String())
		}
	}
	return ks
}

func expect(t *testing.T, out *adapter.Batch, act, wantAct Action, want ...string) {
	t.Helper()
	got := kinds(out)
	if act != wantAct || len(got) != len(want) {
		t.Fatalf("action %d, records %v; want action %d, records %v", act, got, wantAct, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("records %v, want %v", got, want)
		}
	}
	out.Reset()
}

// TestRESTSnapshotWorkedCase follows Binance's documented procedure on the numbers of the
// reference recording: snapshot lastUpdateId=499869752; the delta U=499869750,u=499869752
// is discarded; U=499869753,u=499869754 is the first applied; U=499869755 chains.
func TestRESTSnapshotWorkedCase(t *testing.T) {
	s := Sync{Rule: adapter.BookRESTSnapshot}
	var out adapter.Batch
	d1 := rec(wire.KindBookDelta, 499869750, 499869752, []wire.Level{lv("0.3513", "6195")}, nil)
	d2 := rec(wire.KindBookDelta, 499869753, 499869754, []wire.Level{lv("0.3517", "4265")}, []wire.Level{lv("0.3529", "10968")})
	d3 := rec(wire.KindBookDelta, 499869755, 499869757, []wire.Level{lv("0.3520", "1290")}, nil)
	expect(t, &out, s.Apply(d1, &out), ActFetchSnapshot)
	expect(t, &out, s.Apply(d2, &out), ActNone) // fetch already outstanding
	snap := rec(wire.KindBookSnapshot, 0, 499869752, []wire.Level{lv("0.3521", "672"), lv("0.3513", "1")}, []wire.Level{lv("0.3526", "3199")})
	expect(t, &out, s.Apply(snap, &out), ActNone, "snap", "delta")
	if !s.Valid() || s.Stats.Duplicates != 1 || s.Stats.Applied != 1 {
		t.Fatalf("valid %v stats %+v", s.Valid(), s.Stats)
	}
	expect(t, &out, s.Apply(d3, &out), ActNone, "delta")
	bid, ask, _ := s.Book.Best()
	if bid.Price.String() != "0.3521" || ask.Price.String() != "0.3526" || len(s.Book.Bids()) != 4 {
		t.Fatalf("book %v / %v", s.Book.Bids(), s.Book.Asks())
	}
	// A gap: U jumps. Gap status, book invalid, deltas dropped, snapshot refetched.
	d5 := rec(wire.KindBookDelta, 499869760, 499869761, nil, nil)
	expect(t, &out, s.Apply(d5, &out), ActFetchSnapshot, "status:gap")
	if s.Valid() {
		t.Fatal("book valid after a gap")
	}
	d6 := rec(wire.KindBookDelta, 499869762, 499869762, []wire.Level{lv("0.3522", "5")}, nil)
	expect(t, &out, s.Apply(d6, &out), ActNone) // buffered, fetch outstanding
	snap2 := rec(wire.KindBookSnapshot, 0, 499869761, []wire.Level{lv("0.3521", "1")}, []wire.Level{lv("0.3526", "1")})
	expect(t, &out, s.Apply(snap2, &out), ActNone, "snap", "status:resync", "delta")
	if !s.Valid() || s.Stats.Gaps != 1 || s.Stats.Resyncs != 1 {
		t.Fatalf("stats %+v", s.Stats)
	}
}

func TestRESTSnapshotTooOld(t *testing.T) {
	s := Sync{Rule: adapter.BookRESTSnapshot}
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 100, 105, nil, nil), &out), ActFetchSnapshot)
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 90, nil, nil), &out), ActFetchSnapshot)
	if s.Valid() {
		t.Fatal("valid on a stale snapshot")
	}
}

func TestStreamSnapshotGapAndDuplicates(t *testing.T) {
	s := Sync{Rule: adapter.BookStreamSnapshot}
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 5, 5, nil, nil), &out), ActNone) // before any snapshot
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 10, []wire.Level{lv("1", "1")}, []wire.Level{lv("2", "1")}), &out), ActNone, "snap")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 11, 11, []wire.Level{lv("1.5", "1")}, nil), &out), ActNone, "delta")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 11, 11, []wire.Level{lv("1.5", "1")}, nil), &out), ActNone) // duplicate
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 13, 13, nil, nil), &out), ActResubscribe, "status:gap")
	gap := out.Records[0]
	if gap.Expected != 12 || gap.Got != 13 || gap.Flags&wire.FlagBookInvalid == 0 {
		t.Fatalf("gap record %+v", gap)
	}
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 14, 14, nil, nil), &out), ActNone) // dropped while invalid
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 20, []wire.Level{lv("1", "1")}, []wire.Level{lv("2", "1")}), &out), ActNone, "snap", "status:resync")
	if s.Stats.Duplicates != 1 || s.Stats.Gaps != 1 || s.Stats.Resyncs != 1 {
		t.Fatalf("stats %+v", s.Stats)
	}
}

type sumSizes struct{}

// Checksum is a stand-in checksum: the number of levels on both sides.
func (sumSizes) Checksum(bids, asks []wire.Level) uint32 { return uint32(len(bids) + len(asks)) }

func TestChecksumRule(t *testing.T) {
	s := Sync{Rule: adapter.BookChecksum, Checksum: sumSizes{}}
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 0, []wire.Level{lv("1", "1")}, []wire.Level{lv("2", "1")}), &out), ActNone, "snap")
	d := rec(wire.KindBookDelta, 0, 0, []wire.Level{lv("1.5", "1")}, nil)
	d.Checksum, d.HasChecksum = 3, true
	expect(t, &out, s.Apply(d, &out), ActNone, "delta")
	d = rec(wire.KindBookDelta, 0, 0, []wire.Level{lv("1.2", "1")}, nil)
	d.Checksum, d.HasChecksum = 3, true // wrong: the book now has 4 levels
	expect(t, &out, s.Apply(d, &out), ActResubscribe, "status:checksum")
	if s.Valid() || s.Stats.ChecksumFailures != 1 {
		t.Fatalf("valid %v stats %+v", s.Valid(), s.Stats)
	}
}

func TestCrossedAndFullPushAndBBO(t *testing.T) {
	s := Sync{Rule: adapter.BookFullEachPush, DeriveBBO: true}
	var out adapter.Batch
	push := func(bid, ask string) *wire.Record {
		return rec(wire.KindBookSnapshot, 0, 0, []wire.Level{lv(bid, "1")}, []wire.Level{lv(ask, "1")})
	}
	expect(t, &out, s.Apply(push("100", "101"), &out), ActNone, "snap", "bbo")
	expect(t, &out, s.Apply(push("100", "101"), &out), ActNone, "snap") // top unchanged: no bbo
	expect(t, &out, s.Apply(push("102", "101"), &out), ActNone, "status:crossed")
	if s.Valid() {
		t.Fatal("crossed book valid")
	}
	expect(t, &out, s.Apply(push("100", "101"), &out), ActNone, "snap", "status:resync", "bbo")
	if out.Len() != 0 || s.Stats.Crossed != 1 {
		t.Fatalf("stats %+v", s.Stats)
	}
}

func TestSyncZeroAlloc(t *testing.T) {
	s := Sync{Rule: adapter.BookStreamSnapshot, DeriveBBO: true}
	var out adapter.Batch
	s.Apply(rec(wire.KindBookSnapshot, 0, 1, []wire.Level{lv("1", "1")}, []wire.Level{lv("2", "1")}), &out)
	seq := uint64(1)
	up := rec(wire.KindBookDelta, 0, 0, []wire.Level{lv("1.5", "1")}, nil)
	down := rec(wire.KindBookDelta, 0, 0, []wire.Level{lv("1.5", "0")}, nil)
	n := testing.AllocsPerRun(100, func() {
		for _, d := range []*wire.Record{up, down} {
			out.Reset()
			seq++
			d.SeqFirst, d.Seq = seq, seq
			if s.Apply(d, &out) != ActNone {
				t.Fatal("unexpected action")
			}
		}
	})
	if n != 0 {
		t.Fatalf("Apply allocates %v times", n)
	}
}

// TestTrimmedLevelsPublishedAsRemovals: with a depth bound (Kraken), a level pushed out of
// the book by a delta goes out as a removal, so a consumer without the depth agrees.
func TestTrimmedLevelsPublishedAsRemovals(t *testing.T) {
	s := Sync{Rule: adapter.BookChecksum}
	s.Book.MaxDepth = 2
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 0, []wire.Level{lv("10", "1"), lv("9", "1")}, []wire.Level{lv("11", "1")}), &out), ActNone, "snap")
	s.Apply(rec(wire.KindBookDelta, 0, 0, []wire.Level{lv("9.5", "2")}, nil), &out)
	d := out.At(0)
	if len(d.Bids) != 2 || d.Bids[1].Price.String() != "9" || !d.Bids[1].Size.IsZero() {
		t.Fatalf("published delta bids %v, want the new level and the removal of 9", d.Bids)
	}
}

// TestOKXSeqResetAsFirstDelta: OKX may restart seqId after maintenance — one update with
// seqId < prevSeqId, prevSeqId = the last seqId. As the first delta after a snapshot it
// was classed a duplicate (Seq <= last), and with last stuck at the old top every later
// update too: the book stayed "valid", frozen, with no status. It must chain.
func TestOKXSeqResetAsFirstDelta(t *testing.T) {
	s := Sync{Rule: adapter.BookStreamSnapshot, DeriveBBO: true}
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 123456, []wire.Level{lv("100", "1")}, []wire.Level{lv("101", "1")}), &out), ActNone, "snap", "bbo")
	reset := rec(wire.KindBookDelta, 123457, 3, []wire.Level{lv("100.5", "2")}, nil) // prevSeqId 123456, seqId 3
	reset.Flags |= wire.FlagSeqReset
	expect(t, &out, s.Apply(reset, &out), ActNone, "delta", "bbo")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 4, 7, nil, []wire.Level{lv("100.8", "1")}), &out), ActNone, "delta", "bbo")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 8, 8, []wire.Level{lv("100.5", "0")}, nil), &out), ActNone, "delta", "bbo")
	bid, ask, _ := s.Book.Best()
	if !s.Valid() || bid.Price.String() != "100" || ask.Price.String() != "100.8" || s.Stats.Duplicates != 0 || s.Stats.Applied != 3 {
		t.Fatalf("valid %v best %s/%s stats %+v", s.Valid(), bid.Price, ask.Price, s.Stats)
	}
	// A copy of an applied update is still a duplicate, and a real hole still a gap.
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 8, 8, nil, nil), &out), ActNone)
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 12, 12, nil, nil), &out), ActResubscribe, "status:gap")
}

// TestOKXSeqResetMidStream: the same reset after other deltas (the rule that already held).
func TestOKXSeqResetMidStream(t *testing.T) {
	s := Sync{Rule: adapter.BookStreamSnapshot}
	var out adapter.Batch
	expect(t, &out, s.Apply(rec(wire.KindBookSnapshot, 0, 500, []wire.Level{lv("100", "1")}, []wire.Level{lv("101", "1")}), &out), ActNone, "snap")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 501, 510, nil, nil), &out), ActNone, "delta")
	reset := rec(wire.KindBookDelta, 511, 2, nil, nil)
	reset.Flags |= wire.FlagSeqReset
	expect(t, &out, s.Apply(reset, &out), ActNone, "delta")
	expect(t, &out, s.Apply(rec(wire.KindBookDelta, 3, 4, nil, nil), &out), ActNone, "delta")
}

// TestRefreshOfContentBook: a refresh snapshot of a book without exchange ids (Coinbase
// level2, Kraken) must say that its Seq is a content key (FlagNoSeq) and must not reuse
// the key of the last exchange message; two gateways with the same book agree on it. A
// book with ids keeps Seq = the last applied id.
func TestRefreshOfContentBook(t *testing.T) {
	var sym, inst wire.Name
	sym.SetString("BTC-USD")
	inst.SetString("BTC-USD")
	refresh := func(noSeq bool) *wire.Record {
		s := Sync{Rule: adapter.BookStreamSnapshot}
		var out adapter.Batch
		snap := rec(wire.KindBookSnapshot, 0, 0xfeed, []wire.Level{lv("100", "1")}, []wire.Level{lv("101", "1")})
		d := rec(wire.KindBookDelta, 0, 0xbeef, []wire.Level{lv("100.5", "1")}, nil)
		if noSeq {
			snap.Flags, d.Flags = wire.FlagNoSeq, wire.FlagNoSeq
		} else {
			d.SeqFirst, d.Seq = 0xfeed+1, 0xfeed+1
		}
		s.Apply(snap, &out)
		s.Apply(d, &out)
		out.Reset()
		if !s.AppendRefresh(&out, wire.Coinbase, &sym, &inst, 1) || out.Len() != 1 {
			t.Fatal("no refresh")
		}
		r := *out.At(0)
		if len(r.Bids) != 2 || r.Kind != wire.KindBookSnapshot {
			t.Fatalf("refresh %+v", r)
		}
		return &r
	}
	a, b := refresh(true), refresh(true)
	if a.Flags != wire.FlagRefresh|wire.FlagNoSeq || a.Seq == 0xbeef || a.Seq == 0xfeed || a.Seq == 0 || a.Seq != b.Seq {
		t.Fatalf("content-book refresh: flags %b seq %#x (other gateway %#x)", a.Flags, a.Seq, b.Seq)
	}
	if r := refresh(false); r.Flags != wire.FlagRefresh || r.Seq != 0xfeed+1 {
		t.Fatalf("id-book refresh: flags %b seq %#x", r.Flags, r.Seq)
	}
}
