package session

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/kraken"
	"github.com/tickline/tickline/gateway/okx"
	"github.com/tickline/tickline/gateway/upbit"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/wire"
)

// venue is a WebSocket server for any adapter: it accepts every connection, ignores what
// the client sends (subscribe frames, pings) and sends each connection the frames the
// test broadcasts.
type venue struct {
	srv   *httptest.Server
	mu    sync.Mutex
	conns []*websocket.Conn
}

func newVenue(t *testing.T) *venue {
	v := &venue{}
	up := websocket.Upgrader{}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		v.mu.Lock()
		v.conns = append(v.conns, c)
		v.mu.Unlock()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *venue) url() string { return "ws" + strings.TrimPrefix(v.srv.URL, "http") + "/ws" }

func (v *venue) connected() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.conns)
}

func (v *venue) broadcast(t *testing.T, frame string) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.conns {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
}

// startVenue runs a session of adapter a for subs against v.
func startVenue(t *testing.T, v *venue, a adapter.Adapter, subs []adapter.Sub) (*Session, *recorder) {
	t.Helper()
	plans, err := a.Plan(v.url(), subs)
	if err != nil || len(plans) != 1 {
		t.Fatalf("plan: %v (%d plans)", err, len(plans))
	}
	return run(t, Options{Adapter: a, Plan: plans[0], Subs: subs, Seed: 1, RefreshEvery: -1})
}

// TestDenseTradeIDGapMarked: Binance trade ids are consecutive per symbol; a trade the
// exchange sent that the gateway never received (ids 4 and 5 skipped by the test server)
// is marked with a gap status (Expected 4, Got 6, no FlagBookInvalid) ahead of trade 6,
// and counted. The oracle is the list of ids the server sent.
func TestDenseTradeIDGapMarked(t *testing.T) {
	x := newExchange(t)
	subs := []adapter.Sub{{Symbol: "BTCUSDT", Channels: []adapter.Channel{adapter.ChanTrade}}}
	s, rec := start(t, x, Options{Subs: subs})
	testkit.Poll(t, 20*time.Second, "subscription", func() bool { return x.subs.Load() == 1 })
	for i := 0; i < 3; i++ {
		x.trade() // 1, 2, 3
	}
	x.seq.Add(2) // 4 and 5 are lost on the way
	x.trade()    // 6
	x.trade()    // 7
	testkit.Poll(t, 20*time.Second, "trade 7", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindTrade && r.Seq == 7 }) == 1
	})
	var got []string
	for _, r := range rec.snapshot() {
		switch r.Kind {
		case wire.KindTrade:
			got = append(got, fmt.Sprint(r.Seq))
		case wire.KindStatus:
			got = append(got, fmt.Sprintf("gap:%d-%d", r.Expected, r.Got))
			if r.Status != wire.StatusGap || r.Flags&wire.FlagBookInvalid != 0 || r.Instrument.String() != "BTC-USDT" {
				t.Errorf("gap status %+v", r)
			}
		}
	}
	if want := "1 2 3 gap:4-6 6 7"; strings.Join(got, " ") != want {
		t.Fatalf("emitted %q, want %q", strings.Join(got, " "), want)
	}
	if n := s.Stats.TradeGaps.Load(); n != 1 {
		t.Fatalf("TradeGaps = %d, want 1", n)
	}
}

// krakenBook renders a Kraken v2 book message for BTC/USD.
func krakenBook(typ string, bids, asks [][2]string, checksum uint32) string {
	side := func(ls [][2]string) string {
		var b strings.Builder
		for i, l := range ls {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"price":%s,"qty":%s}`, l[0], l[1])
		}
		return b.String()
	}
	return fmt.Sprintf(`{"channel":"book","type":"%s","data":[{"symbol":"BTC/USD","bids":[%s],"asks":[%s],"checksum":%d,"timestamp":"2026-08-16T23:37:03.745044Z"}]}`,
		typ, side(bids), side(asks), checksum)
}

func levels(ls [][2]string) []wire.Level {
	out := make([]wire.Level, len(ls))
	for i, l := range ls {
		out[i] = wire.Level{Price: wire.MustDecimal(l[0]), Size: wire.MustDecimal(l[1])}
	}
	return out
}

// TestKrakenDefaultDepthTrimsBook: with book_depth 0 (Kraken's default, Plan subscribes
// depth 10) the local book must be kept to 10 levels like Kraken's. Kraken does not send
// the removal of a level that fell out of its depth-10 book, so an untrimmed local book
// keeps it: here bid 91.0 is pushed out by a new best bid, is then deleted on the
// exchange unseen, and when the new best bid goes, 90.5 is the level that re-enters.
// The checksums are computed over the reference book, Kraken's top 10 per side.
func TestKrakenDefaultDepthTrimsBook(t *testing.T) {
	v := newVenue(t)
	a := kraken.New()
	subs := []adapter.Sub{{Symbol: "BTC/USD", Channels: []adapter.Channel{adapter.ChanBook}}} // Depth 0
	s, rec := startVenue(t, v, a, subs)
	testkit.Poll(t, 20*time.Second, "connection", func() bool { return v.connected() == 1 })

	var bids, asks [][2]string
	for i := 0; i < 10; i++ {
		bids = append(bids, [2]string{fmt.Sprintf("%d.0", 100-i), "1.00000000"})
		asks = append(asks, [2]string{fmt.Sprintf("%d.0", 101+i), "1.00000000"})
	}
	sum := func(b [][2]string) uint32 { return a.Checksum(levels(b), levels(asks)) }
	v.broadcast(t, krakenBook("snapshot", bids, asks, sum(bids)))
	// A better bid: Kraken's depth-10 book drops 91.0 (no message says so).
	ref := append([][2]string{{"100.5", "1.00000000"}}, bids[:9]...)
	v.broadcast(t, krakenBook("update", [][2]string{{"100.5", "1.00000000"}}, nil, sum(ref)))
	// The best bid goes; 91.0 no longer exists on the exchange, 90.5 enters the top 10.
	ref = append(append([][2]string{}, ref[1:]...), [2]string{"90.5", "2.00000000"})
	v.broadcast(t, krakenBook("update", [][2]string{{"100.5", "0.00000000"}, {"90.5", "2.00000000"}}, nil, sum(ref)))

	testkit.Poll(t, 20*time.Second, "two deltas or a status", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindBookDelta || r.Kind == wire.KindStatus }) >= 2
	})
	if n := s.Stats.ChecksumFailures.Load(); n != 0 || rec.count(isStatus(wire.StatusChecksum)) != 0 {
		t.Fatalf("%d checksum failures on a correct book (local book not trimmed to Kraken's depth 10)", n)
	}
	// The level the better bid pushed out is published as a removal, so consumers that
	// do not know the depth hold Kraken's book too.
	var first *wire.Record
	for _, r := range rec.snapshot() {
		if r.Kind == wire.KindBookDelta {
			first = &r
			break
		}
	}
	if first == nil || len(first.Bids) != 2 || first.Bids[1].Price.String() != "91.0" || !first.Bids[1].Size.IsZero() {
		t.Fatalf("first delta %+v: want 100.5 and the removal of 91.0", first)
	}
}

// upbitBook renders an Upbit SIMPLE-format top-1 orderbook (the ".1" code the BBO uses).
func upbitBook(tms int64, ap, bp string) string {
	return fmt.Sprintf(`{"ty":"orderbook","cd":"KRW-BTC","tms":%d,"tas":1.0,"tbs":2.0,"obu":[{"ap":%s,"bp":%s,"as":1.0,"bs":2.0}],"st":"REALTIME","lv":0}`, tms, ap, bp)
}

// TestContentRepeatsKeepTheirKey: Upbit sends its top-1 orderbook on every book event,
// so a change deeper in the book yields a message identical to the previous one in the
// same millisecond (the archive's gateway-sequence holes after Upbit bbo/book records: the
// receivers keep one of them). Identical content at an identical exchange time is one
// event: every gateway gives it the same key (no per-connection numbering, which a
// subscribe snapshot repeating the last message would shift on one line only), other
// content or another time another key, and the repeats are counted. Oracle: the 6
// messages the server sent, 3 distinct (content, time).
func TestContentRepeatsKeepTheirKey(t *testing.T) {
	v := newVenue(t)
	subs := []adapter.Sub{{Symbol: "KRW-BTC", Channels: []adapter.Channel{adapter.ChanBBO}}}
	s1, rec1 := startVenue(t, v, upbit.New(), subs)
	_, rec2 := startVenue(t, v, upbit.New(), subs)
	testkit.Poll(t, 20*time.Second, "connections", func() bool { return v.connected() == 2 })
	sent := []string{
		upbitBook(1700000000001, "101.0", "100.0"),
		upbitBook(1700000000001, "101.0", "100.0"), // deeper change, same top, same ms
		upbitBook(1700000000001, "101.0", "100.0"), // and again
		upbitBook(1700000000001, "101.0", "99.0"),
		upbitBook(1700000000001, "101.0", "100.0"), // the top back to the first, same ms
		upbitBook(1700000000002, "101.0", "100.0"), // the first content again, later: its own time
	}
	for _, f := range sent {
		v.broadcast(t, f)
	}
	keys := func(rec *recorder) []uint64 {
		var ks []uint64
		for _, r := range rec.snapshot() {
			if r.Kind == wire.KindBookSnapshot {
				if r.Flags&wire.FlagNoSeq == 0 {
					t.Fatalf("upbit book without FlagNoSeq: %+v", r)
				}
				ks = append(ks, r.Seq)
			}
		}
		return ks
	}
	testkit.Poll(t, 20*time.Second, "all books on both lines", func() bool {
		return len(keys(rec1)) == len(sent) && len(keys(rec2)) == len(sent)
	})
	k1, k2 := keys(rec1), keys(rec2)
	distinct := map[uint64]bool{}
	for i := range k1 {
		distinct[k1[i]] = true
		if k1[i] != k2[i] {
			t.Fatalf("event %d: gateway keys differ (%#x, %#x)", i, k1[i], k2[i])
		}
	}
	if len(distinct) != 3 || k1[0] != k1[1] || k1[1] != k1[2] || k1[2] != k1[4] || k1[4] == k1[5] || k1[3] == k1[0] {
		t.Fatalf("keys %#x: want A@1 ×4 alike, 99@1 and A@2 apart", k1)
	}
	if n := s1.Stats.ContentRepeats.Load(); n != 3 {
		t.Fatalf("ContentRepeats = %d, want 3", n)
	}
	// The BBO derived from the book top goes 100→99→100 within the millisecond: three
	// BBO records, two keys (the third repeats the first).
	bbo, n := map[uint64]bool{}, 0
	for _, r := range rec1.snapshot() {
		if r.Kind == wire.KindBBO {
			bbo[r.Seq] = true
			n++
		}
	}
	if n != 3 || len(bbo) != 2 {
		t.Fatalf("%d derived BBO records, %d distinct keys; want 3 and 2 (bid 100, 99, 100 in ms 1)", n, len(bbo))
	}
}

// TestRepeatsOrdinal: the run of a content key is its exchange time; without one, only
// consecutive repeats count. Bounded to 8 distinct keys per run.
func TestRepeatsOrdinal(t *testing.T) {
	var rp repeats
	steps := []struct {
		ts   int64
		key  uint64
		want uint32
	}{
		{5, 1, 0}, {5, 1, 1}, {5, 2, 0}, {5, 1, 2}, {6, 1, 0}, // A A B A | A
		{0, 1, 0}, {0, 1, 1}, {0, 1, 2}, {0, 2, 0}, {0, 1, 0}, // no time: consecutive only
		{7, 10, 0}, {7, 11, 0}, {7, 12, 0}, {7, 13, 0}, {7, 14, 0}, {7, 15, 0}, {7, 16, 0}, {7, 17, 0},
		{7, 18, 0}, {7, 10, 0}, {7, 18, 1}, // 9 distinct keys: the oldest (10) is forgotten
	}
	for i, st := range steps {
		if got := rp.ordinal(st.ts, st.key); got != st.want {
			t.Fatalf("step %d (ts %d key %d): ordinal %d, want %d", i, st.ts, st.key, got, st.want)
		}
	}
}

// TestOKXResetAfterSnapshotKeepsBookLive: OKX frames through the session — a books
// snapshot, then the maintenance reset (seqId 3 < prevSeqId 123456) as the first update,
// then updates chained to the new ids. Every update is published (the reset one with
// FlagSeqReset), no status, and the book follows them; before the fix the reset and
// every later update were taken for duplicates and the book froze.
func TestOKXResetAfterSnapshotKeepsBookLive(t *testing.T) {
	v := newVenue(t)
	subs := []adapter.Sub{{Symbol: "BTC-USDT", Channels: []adapter.Channel{adapter.ChanBook}}}
	_, rec := startVenue(t, v, okx.New(), subs)
	testkit.Poll(t, 20*time.Second, "connection", func() bool { return v.connected() == 1 })
	const pre = `{"arg":{"channel":"books","instId":"BTC-USDT"},`
	v.broadcast(t, pre+`"action":"snapshot","data":[{"asks":[["101","1","0","1"]],"bids":[["100","1","0","1"]],"ts":"1749044565306","prevSeqId":-1,"seqId":123456}]}`)
	v.broadcast(t, pre+`"action":"update","data":[{"asks":[],"bids":[["100.5","2","0","1"]],"ts":"1749044565406","prevSeqId":123456,"seqId":3}]}`)
	v.broadcast(t, pre+`"action":"update","data":[{"asks":[["100.8","1","0","1"]],"bids":[],"ts":"1749044565506","prevSeqId":3,"seqId":9}]}`)
	v.broadcast(t, pre+`"action":"update","data":[{"asks":[],"bids":[["100.6","1","0","1"]],"ts":"1749044565606","prevSeqId":9,"seqId":12}]}`)
	testkit.Poll(t, 20*time.Second, "three deltas", func() bool {
		return rec.count(func(r *wire.Record) bool { return r.Kind == wire.KindBookDelta }) == 3
	})
	var seqs []string
	for _, r := range rec.snapshot() {
		switch r.Kind {
		case wire.KindStatus:
			t.Fatalf("status %s after a reset", r.Status)
		case wire.KindBookDelta:
			seqs = append(seqs, fmt.Sprintf("%d/%v", r.Seq, r.Flags&wire.FlagSeqReset != 0))
		}
	}
	if got := strings.Join(seqs, " "); got != "3/true 9/false 12/false" {
		t.Fatalf("deltas %s", got)
	}
}
