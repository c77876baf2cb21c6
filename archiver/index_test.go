package archiver

import (
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

func idxHeader(seq uint64, tsRecv int64) *wire.Header {
	h := &wire.Header{Kind: wire.KindTrade, Exchange: wire.Binance, Seq: seq, TsExchange: int64(seq) * 1000, TsRecv: tsRecv}
	h.Instrument.SetString("BTC-USDT")
	return h
}

// TestArchiveIndexRemembersForgetsAndSaysSo checks the index against a plain map (the
// model): every event among the last perGen added is held; an event forgotten is reported
// through the horizon (reaches false) instead of passing for "not archived"; the key ignores
// what differs between lines (gateway fields, FlagBookInvalid) and keeps what tells events
// apart (exchange time, identity flags).
func TestArchiveIndexRemembersForgetsAndSaysSo(t *testing.T) {
	const per = 1000
	x := newArchiveIndex(per, time.Second)
	model := map[uint64]int64{} // seq → TsRecv of every event added
	for seq := uint64(1); seq <= 5*per; seq++ {
		h := idxHeader(seq, int64(seq)*int64(time.Millisecond))
		x.add(h)
		model[seq] = h.TsRecv
	}
	last := uint64(5 * per)
	for seq, ts := range model {
		h := idxHeader(seq, ts)
		switch held := x.has(h); {
		case last-seq < per && !held:
			t.Fatalf("seq %d (among the last %d) not held", seq, per)
		case !held && x.reaches(h):
			t.Fatalf("seq %d forgotten but reaches says the index covers its time", seq)
		}
	}
	// A new event at the current time is beyond the horizon plus slack: the index vouches.
	if h := idxHeader(last+1, int64(last+2000)*int64(time.Millisecond)); x.has(h) || !x.reaches(h) {
		t.Error("a new, recent event: want not held and covered")
	}
	// Another line's copy: other gateway fields and FlagBookInvalid, same key.
	h := idxHeader(last, model[last])
	h.GatewayID, h.GatewaySeq, h.TsRecv, h.Flags = 9, 12345, h.TsRecv+5e6, wire.FlagBookInvalid
	if !x.has(h) {
		t.Error("another line's copy of a held event not recognised")
	}
	// Same id with another exchange time (a venue's subscribe snapshot repeating it): the
	// same event. A content flag: another event.
	h = idxHeader(last, model[last])
	h.TsExchange++
	if !x.has(h) {
		t.Error("same id with another exchange time (a snapshot's repeat) not taken for the held event")
	}
	h = idxHeader(last, model[last])
	h.Flags = wire.FlagNoSeq
	if x.has(h) {
		t.Error("a content key equal to a held id taken for the held event")
	}
	next := idxHeader(last+7, 1)
	if n := testing.AllocsPerRun(100, func() { next.Seq++; x.add(next); x.has(h) }); n != 0 {
		t.Errorf("%v allocations per add+has", n)
	}
}
