package archiver

import (
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/wire"
)

// TestArchiveBackfillOnStart: the gateways publish before any archiver exists (their
// journals keep it); the archiver starts on an empty archive afterwards. Every event either
// journal holds is archived exactly once — each line missed events the other carried — and
// nothing is counted lost. The oracle is the list of events the test published, read back
// from Kafka. (Before: "a region whose archive is empty asks for nothing": all of it lost.)
func TestArchiveBackfillOnStart(t *testing.T) {
	_, seeds, _ := newKafka(t)
	testBackfill(t, seeds, "ticks.", 1)
}

// testBackfill is TestArchiveBackfillOnStart on the brokers of seeds, topics prefix<region>
// created by the archiver with replication factor rf.
func testBackfill(t *testing.T, seeds []string, prefix string, rf int16) {
	gws := koreaAB
	lines, eps := gatewayEndpoints(t, gws)
	js := map[string]string{}
	for i, g := range gws {
		js[g.id] = lines[i].withJournal(100000).jep
	}
	topo := parseTopo(t, withJournals(topoYAML(gws, seeds, spoolDir(t), prefix), js))
	topo.Archiver.ReplicationFactor = rf
	topic := prefix + "korea"
	early := events(0, 1000)
	publishGapped(lines, early, 40, [2]int{3, 17})
	a, stop := startSubscribed(t, topo, Options{Endpoints: eps}, lines...)
	live := events(1000, 50)
	publishAll(lines, live)
	want := cat(early, live)
	testkit.Poll(t, 60*time.Second, "backfill and live archived", func() bool { return endOffsets(t, seeds, topic) >= int64(len(want)) })
	testkit.Poll(t, 10*time.Second, "both windows done", func() bool {
		return a.Stats.RetransmitRequests.Load() == 2 && a.Stats.Retransmitted.Load() >= uint64(2*len(early)-2*len(early)/40)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, topic), want, false)
	if n := a.Stats.RetransmitLost.Load() + a.Stats.RetransmitBeforeTail.Load() + a.Stats.RetransmitBeyondIndex.Load(); n != 0 {
		t.Errorf("lost/before tail/beyond index = %d, want 0", n)
	}
	if got, wantN := a.Stats.RetransmitAccepted.Load(), uint64(len(early)); got != wantN {
		t.Errorf("backfilled %d records, want %d", got, wantN)
	}
}

// TestArchiveRestartWindowPastArbiterWindow: line A's live records move its streams' ids far
// past what the arbiter remembers (a 1 ms tolerance here)
// before line B's restart window arrives. B's window holds the events A missed while the
// archiver was down: they are not in the archive and must be archived, not dropped as
// "archived already" because the arbiter's window no longer reaches them.
func TestArchiveRestartWindowPastArbiterWindow(t *testing.T) {
	seeds, lines, eps, topo := journaledKoreaAB(t)
	opts := Options{Endpoints: eps, Arbiter: arbiter.Options{Tolerance: time.Millisecond}}
	_, stop := startSubscribed(t, topo, opts, lines...)
	before := events(200, 20)
	publishAll(lines, before)
	stopWhenCounted(t, seeds, stop, len(before))

	down := events(220, 300)
	publishGapped(lines, down, 50, [2]int{7, 31})
	a, stop := startArchiver(t, topo, opts)
	resubscribed(t, lines[0], 2)
	resubscribed(t, lines[1], 2)
	onlyA := events(520, 200) // ids 200 past the downtime's: beyond the arbiter's window
	publishAll(lines[:1], onlyA)
	testkit.Poll(t, 20*time.Second, "A's window and live records archived", func() bool {
		return endOffsets(t, seeds, "ticks.korea") >= int64(len(before)+len(down)-len(down)/50+len(onlyA))
	})
	both := events(720, 10)
	publishAll(lines, both) // B's first live record opens B's window
	want := cat(before, down, onlyA, both)
	testkit.Poll(t, 20*time.Second, "everything archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
	testkit.Poll(t, 10*time.Second, "B's window done", func() bool {
		return a.Stats.RetransmitRequests.Load() == 2 && a.Stats.Retransmitted.Load() >= uint64(2*len(down)-2*len(down)/50)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, false)
	if n := a.Stats.RetransmitAccepted.Load(); n != uint64(len(down)) {
		t.Errorf("retransmits archived %d, want %d (A's window and the %d events only B carried)", n, len(down), len(down)/50)
	}
}

// contentTrade is a trade without an exchange id: FlagNoSeq, Seq a content key, no
// exchange time (Bithumb's legacy trades).
func contentTrade(key uint64) *wire.Record {
	r := trade(event{wire.OKX, wire.KindTrade, "BTC-USDT", key}, true)
	r.Flags |= wire.FlagNoSeq
	return r
}

// TestArchiveRetransmitContentKeyAfterTTL: a content-keyed event archived from line A is
// retransmitted from line B's journal after the arbiter has forgotten its key (tolerance 1 ns
// here; 10 s by default, while journals reach back minutes). The archive holds it: it is
// not archived twice.
func TestArchiveRetransmitContentKeyAfterTTL(t *testing.T) {
	seeds, lines, eps, topo := journaledKoreaAB(t)
	a, stop := startSubscribed(t, topo, Options{Endpoints: eps, Arbiter: arbiter.Options{Tolerance: time.Nanosecond}}, lines...)
	first := events(0, 5)
	publishAll(lines, first)
	var content []event
	for k := uint64(1); k <= 20; k++ {
		key := 1<<40 + k*7919
		content = append(content, event{wire.OKX, wire.KindTrade, "BTC-USDT", key})
		lines[0].publish(contentTrade(key))
		lines[1].journalOnly(contentTrade(key)) // dropped on B's way: an in-run gap
	}
	testkit.Poll(t, 20*time.Second, "A's copies archived", func() bool {
		return endOffsets(t, seeds, "ticks.korea") >= int64(len(first)+len(content))
	})
	last := events(5, 5)
	publishAll(lines, last) // B's next record shows the gap
	testkit.Poll(t, 20*time.Second, "B's gap retransmitted", func() bool { return a.Stats.Retransmitted.Load() >= uint64(len(content)) })
	want := cat(first, content, last)
	stopWhenArchived(t, seeds, stop, want, false)
	if n := a.Stats.RetransmitArchived.Load(); n != uint64(len(content)) {
		t.Errorf("%d retransmitted records found archived already, want %d", n, len(content))
	}
}

// TestArchiveRetransmitEventTwiceInOneChunk: a journal holding one exchange event twice
// (under two gateway sequences) yields it once, although both copies come in one chunk,
// before either is in the archive index.
func TestArchiveRetransmitEventTwiceInOneChunk(t *testing.T) {
	_, seeds, _ := newKafka(t)
	lines, eps, topo := journaled(t, []gw{{"gw-a", 1, "korea"}}, 1000, seeds, spoolDir(t))
	a, stop := startArchiver(t, topo, Options{Endpoints: eps})
	lines[0].waitSubscribed(1)
	first, twice, last := events(0, 2), events(2, 3), events(5, 2)
	publishAll(lines, first)
	for _, e := range twice {
		lines[0].journalOnly(trade(e, false))
		lines[0].journalOnly(trade(e, false))
	}
	publishAll(lines, last) // shows the gap
	want := cat(first, twice, last)
	testkit.Poll(t, 20*time.Second, "gap retransmitted", func() bool { return a.Stats.Retransmitted.Load() == uint64(2*len(twice)) })
	stopWhenArchived(t, seeds, stop, want, false)
	if n := a.Stats.RetransmitArchived.Load(); n != uint64(len(twice)) {
		t.Errorf("%d second copies found archived already, want %d", n, len(twice))
	}
}
