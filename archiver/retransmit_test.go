package archiver

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
)

// journaled starts a fake gateway with a journal of records entries per gw and returns
// them, their publish endpoints and the topology naming their journals.
func journaled(t *testing.T, gws []gw, records int, seeds []string, dir string, opts ...func(string) string) ([]*fakeGateway, map[string]string, *config.Topology) {
	t.Helper()
	lines, eps := gatewayEndpoints(t, gws)
	js := map[string]string{}
	for i, g := range gws {
		js[g.id] = lines[i].withJournal(records).jep
	}
	yaml := withJournals(topoYAML(gws, seeds, dir, "ticks."), js)
	for _, o := range opts {
		yaml = o(yaml)
	}
	return lines, eps, parseTopo(t, yaml)
}

// journaledKoreaAB starts a kfake broker and korea's gateways gw-a and gw-b, each with a
// journal of 100000 records, and the topology archiving them through a temp spool.
func journaledKoreaAB(t *testing.T) ([]string, []*fakeGateway, map[string]string, *config.Topology) {
	t.Helper()
	_, seeds, _ := newKafka(t)
	lines, eps, topo := journaled(t, koreaAB, 100000, seeds, spoolDir(t))
	return seeds, lines, eps, topo
}

// publishAll publishes evs on every line, line by line for each event.
func publishAll(lines []*fakeGateway, evs []event) {
	for _, e := range evs {
		for _, l := range lines {
			l.publish(trade(e, false))
		}
	}
}

// publishGapped publishes evs on lines[0] and lines[1], line j leaving out the events
// whose index i has i%every == skip[j]: each line misses events the other carries.
func publishGapped(lines []*fakeGateway, evs []event, every int, skip [2]int) {
	for i, e := range evs {
		for j, l := range lines[:2] {
			if i%every != skip[j] {
				l.publish(trade(e, false))
			}
		}
	}
}

// resubscribed waits until the publisher has exactly one subscriber, subscribed to
// everything, and has accepted at least accepted connections in all (the previous
// archiver's connection is gone).
func resubscribed(t *testing.T, l *fakeGateway, accepted uint64) {
	t.Helper()
	testkit.Poll(t, 10*time.Second, "archiver subscribed again", func() bool {
		st := l.pub.Stats()
		return l.pub.Totals().Accepted >= accepted && len(st) == 1 && len(st[0].Subscriptions) == 1
	})
}

func cat(parts ...[]event) []event {
	var out []event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestArchiveRestartRetransmitsDowntime: the archiver stops; both gateways go on
// publishing, each missing a few events the other carries; after the restart the two
// journals' windows are archived through the arbiter: every event exactly once, nothing
// counted as lost.
func TestArchiveRestartRetransmitsDowntime(t *testing.T) {
	seeds, lines, eps, topo := journaledKoreaAB(t)

	_, stop := startSubscribed(t, topo, Options{Endpoints: eps}, lines...)
	before := events(0, 200)
	publishAll(lines, before)
	stopWhenCounted(t, seeds, stop, len(before))

	down := events(200, 300)
	publishGapped(lines, down, 50, [2]int{7, 31})

	a, stop := startArchiver(t, topo, Options{Endpoints: eps})
	resubscribed(t, lines[0], 2)
	resubscribed(t, lines[1], 2)
	after := events(500, 100)
	publishAll(lines, after)
	want := cat(before, down, after)
	stopWhenArchived(t, seeds, stop, want, false)
	if n := a.Stats.RetransmitAccepted.Load(); n != uint64(len(down)) {
		t.Errorf("retransmit archived %d records, want %d", n, len(down))
	}
	if n := a.Stats.RetransmitLost.Load() + a.Stats.RetransmitFailed.Load() + a.Stats.GatewayRestarts.Load(); n != 0 {
		t.Errorf("lost+failed+restarts = %d", n)
	}
	if n := a.Stats.RetransmitRequests.Load(); n != 2 {
		t.Errorf("%d retransmit requests, want 2 (one window per line)", n)
	}
}

// startOneLine runs a one-line region's archiver to archive before and stops it, leaving
// the gateway's journal holding them.
func startOneLine(t *testing.T, records int, before []event, opts ...func(string) string) (*fakeGateway, map[string]string, *config.Topology, []string) {
	t.Helper()
	_, seeds, _ := newKafka(t)
	lines, eps, topo := journaled(t, []gw{{"gw-a", 1, "korea"}}, records, seeds, spoolDir(t), opts...)
	_, stop := startArchiver(t, topo, Options{Endpoints: eps})
	lines[0].waitSubscribed(1)
	publishAll(lines, before)
	stopWhenCounted(t, seeds, stop, len(before))
	return lines[0], eps, topo, seeds
}

// TestArchiveRetransmitJournalEvicted: the journal no longer holds the start of the
// window; what it lacks is counted as lost (and logged), the rest is archived.
func TestArchiveRetransmitJournalEvicted(t *testing.T) {
	before := events(0, 20) // gateway seqs 1..60
	g, eps, topo, seeds := startOneLine(t, 60, before)
	down := events(20, 50) // seqs 61..210
	publishAll([]*fakeGateway{g}, down)

	// The gateway journals a record after publishing it (as gateway.Gateway does), so a
	// window fetched the moment seq 211 arrives live may still find seq 151 in the
	// journal. The journal is unreachable until 211 is in it, which fixes what the fetch
	// (retried) sees: 152..211.
	g.stopJournal()
	a, stop := startArchiver(t, topo, Options{Endpoints: eps, RetransmitBackoff: 20 * time.Millisecond, RetransmitAttempts: 20})
	resubscribed(t, g, 2)
	// One live record (seq 211) opens the window 61..210; the journal holds 152..211.
	first := events(70, 1)[:1]
	publishAll([]*fakeGateway{g}, first)
	g.startJournal()
	testkit.Poll(t, 10*time.Second, "window done", func() bool { return a.Stats.RetransmitLost.Load() > 0 })
	after := events(71, 10)
	publishAll([]*fakeGateway{g}, after)
	kept := down[151-60:] // seqs 152..210
	want := cat(before, kept, first, after)
	stopWhenArchived(t, seeds, stop, want, true)
	if n := a.Stats.RetransmitLost.Load(); n != 91 {
		t.Errorf("lost %d, want 91 (seqs 61..151)", n)
	}
	if n := a.Stats.RetransmitAccepted.Load(); n != uint64(len(kept)) {
		t.Errorf("retransmit archived %d, want %d", n, len(kept))
	}
}

// TestArchiveRetransmitGatewayRestarted: the gateway restarts while the archiver is down.
// What its old incarnation published after the archiver stopped is gone with its journal;
// its new incarnation's journal is fetched from 1, whether the new sequence is still
// below the last archived one or already past it (then the journal's record under the
// anchor's number differs).
func TestArchiveRetransmitGatewayRestarted(t *testing.T) {
	for _, tt := range []struct {
		name     string
		newCount uint64 // events the new incarnation publishes before the archiver is back (3 records each)
	}{
		{"below anchor", 10}, // seqs 1..30, anchor 60
		{"past anchor", 40},  // seqs 1..120: the journal's record 60 is another event
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := events(0, 20) // seqs 1..60
			g, eps, topo, seeds := startOneLine(t, 1000, before)
			publishAll([]*fakeGateway{g}, events(20, 10)) // lost with the old incarnation
			g.restart()
			fresh := events(30, tt.newCount)
			publishAll([]*fakeGateway{g}, fresh)

			a, stop := startArchiver(t, topo, Options{Endpoints: eps})
			resubscribed(t, g, 2)
			after := events(30+tt.newCount, 10)
			publishAll([]*fakeGateway{g}, after)
			want := cat(before, fresh, after)
			stopWhenArchived(t, seeds, stop, want, true)
			if n := a.Stats.GatewayRestarts.Load(); n != 1 {
				t.Errorf("gateway restarts %d, want 1", n)
			}
			if n := a.Stats.RetransmitLost.Load(); n != 0 {
				t.Errorf("lost %d", n)
			}
		})
	}
}

// TestArchiveRetransmitUnreachable: the journal's endpoint refuses connections. With a
// bounded number of attempts the window is given up, counted as lost and failed, and live
// records go on; when the endpoint comes back within the attempts, the window is archived.
func TestArchiveRetransmitUnreachable(t *testing.T) {
	t.Run("gives up", func(t *testing.T) {
		before := events(0, 20)
		g, eps, topo, seeds := startOneLine(t, 1000, before)
		publishAll([]*fakeGateway{g}, events(20, 10)) // seqs 61..90
		g.stopJournal()
		a, stop := startArchiver(t, topo, Options{Endpoints: eps, RetransmitAttempts: 3, RetransmitBackoff: 10 * time.Millisecond})
		resubscribed(t, g, 2)
		after := events(30, 10)
		publishAll([]*fakeGateway{g}, after)
		want := cat(before, after)
		testkit.Poll(t, 20*time.Second, "archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
		testkit.Poll(t, 10*time.Second, "window given up", func() bool { return a.Stats.RetransmitFailed.Load() == 1 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, true)
		if n := a.Stats.RetransmitLost.Load(); n != 30 {
			t.Errorf("lost %d, want 30", n)
		}
		if n := a.Stats.RetransmitRetries.Load(); n != 2 {
			t.Errorf("retries %d, want 2", n)
		}
	})
	t.Run("comes back", func(t *testing.T) {
		before := events(0, 20)
		g, eps, topo, seeds := startOneLine(t, 1000, before)
		down := events(20, 10)
		publishAll([]*fakeGateway{g}, down)
		g.stopJournal()
		a, stop := startArchiver(t, topo, Options{Endpoints: eps, RetransmitAttempts: 1000, RetransmitBackoff: 20 * time.Millisecond})
		resubscribed(t, g, 2)
		first := events(30, 1)[:1]
		publishAll([]*fakeGateway{g}, first)
		testkit.Poll(t, 10*time.Second, "retrying", func() bool { return a.Stats.RetransmitRetries.Load() >= 2 })
		g.startJournal()
		after := events(31, 10)
		publishAll([]*fakeGateway{g}, after)
		want := cat(before, down, first, after)
		testkit.Poll(t, 20*time.Second, "archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		// The handler held the live records while the window was fetched: still in order.
		checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, true)
		if n := a.Stats.RetransmitLost.Load() + a.Stats.RetransmitFailed.Load(); n != 0 {
			t.Errorf("lost+failed %d", n)
		}
	})
}

// TestArchiveRetransmitFillsInRunGap: both lines drop the same records on the way to the
// archiver (the bus dropped them for it; the gateways journaled them): the sequence jumps
// ask the journals, and every event is archived exactly once.
func TestArchiveRetransmitFillsInRunGap(t *testing.T) {
	seeds, lines, eps, topo := journaledKoreaAB(t)
	a, stop := startSubscribed(t, topo, Options{Endpoints: eps}, lines...)
	evs := events(0, 300)
	dropped := 0
	for i, e := range evs {
		for _, l := range lines {
			if i%25 == 3 {
				l.journalOnly(trade(e, false))
			} else {
				l.publish(trade(e, false))
			}
		}
		if i%25 == 3 {
			dropped++
		}
	}
	testkit.Poll(t, 20*time.Second, "archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(evs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), evs, false)
	if n := a.Stats.RetransmitAccepted.Load(); n != uint64(dropped) {
		t.Errorf("retransmit archived %d, want %d", n, dropped)
	}
	if g := a.Lines()[0].Merge.SeqGaps; g[0] != uint64(dropped) || g[1] != uint64(dropped) {
		t.Errorf("line gaps %d/%d, want %d each", g[0], g[1], dropped)
	}
}

// TestArchiveRetransmitStopsAtTail: line B won only the first events, so its restart
// window reaches far back, past the partition tail the restart reads (TailRecords 30).
// With the spool kept, recovery knows those records from the spool's acknowledged entries
// and they are archived already; with the spool wiped (a new host, an operator), they cannot
// be checked against the archive and are dropped as older than the tail instead of
// archived twice. Either way the downtime's records are archived once.
func TestArchiveRetransmitStopsAtTail(t *testing.T) {
	for _, wipe := range []bool{false, true} {
		t.Run(fmt.Sprintf("wipe_spool=%v", wipe), func(t *testing.T) { retransmitStopsAtTail(t, wipe) })
	}
}

func retransmitStopsAtTail(t *testing.T, wipeSpool bool) {
	seeds, lines, eps, topo := journaledKoreaAB(t)
	opts := Options{Endpoints: eps, TailRecords: 30}
	_, stop := startSubscribed(t, topo, opts, lines...)
	early := events(0, 10)
	publishAll(lines[1:], early) // B wins these: its anchor
	testkit.Poll(t, 20*time.Second, "early archived", func() bool { return endOffsets(t, seeds, "ticks.korea") == int64(len(early)) })
	mid := events(10, 190)
	publishAll(lines[:1], mid) // A wins everything after
	testkit.Poll(t, 20*time.Second, "mid archived", func() bool { return endOffsets(t, seeds, "ticks.korea") == int64(len(early)+len(mid)) })
	publishAll(lines[1:], mid) // B's copies: all duplicates, B's anchor stays in early
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if wipeSpool {
		if err := os.RemoveAll(topo.Archiver.SpoolDir); err != nil {
			t.Fatal(err)
		}
	}

	down := events(200, 20)
	publishAll(lines, down)
	a, stop := startArchiver(t, topo, opts)
	resubscribed(t, lines[0], 2)
	resubscribed(t, lines[1], 2)
	after := events(220, 5)
	publishAll(lines, after)
	want := cat(early, mid, down, after)
	testkit.Poll(t, 20*time.Second, "archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
	testkit.Poll(t, 10*time.Second, "both windows done", func() bool {
		return a.Stats.Retransmitted.Load() >= uint64(len(mid)+2*len(down))
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, false)
	if n := a.Stats.RetransmitBeforeTail.Load(); wipeSpool && n == 0 {
		t.Error("nothing dropped as older than the tail")
	}
	if n := a.Stats.RetransmitArchived.Load(); !wipeSpool && n < uint64(len(mid)) {
		t.Errorf("%d retransmitted records found archived already, want at least B's %d copies of mid", n, len(mid))
	}
	t.Logf("retransmitted %d: accepted %d, archived already %d, before tail %d", a.Stats.Retransmitted.Load(),
		a.Stats.RetransmitAccepted.Load(), a.Stats.RetransmitArchived.Load(), a.Stats.RetransmitBeforeTail.Load())
}
