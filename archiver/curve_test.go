package archiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/zmtp"
)

// TestArchiveRetransmitOverCurve: a gateway whose bus and journal both require CURVE (its
// curve section, allowing only the archiver's key); the archiver, with its keypair in
// archiver.curve, subscribes, stops, and after its restart fetches what it missed from
// the journal over CURVE: every event exactly once. The journal refuses plain fetches
// (so the retransmit that worked went over CURVE).
func TestArchiveRetransmitOverCurve(t *testing.T) {
	_, seeds, _ := newKafka(t)
	keys := func() (pub, sec zmtp.Key) {
		pub, sec, err := zmtp.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		return pub, sec
	}
	gPub, gSec := keys()
	aPub, aSec := keys()
	_, sSec := keys() // the strategy's (the topology requires one; unused here)

	p, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{QueueDepth: 1 << 16,
		Curve: &bus.CurveServer{Secret: gSec, Allowed: []zmtp.Key{aPub}}}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	g := &fakeGateway{t: t, pub: p, num: 1, jcap: 100000}
	g.j = journal.New(g.jcap, g.jcap*256)
	jsrv, err := journal.ListenWith("tcp://127.0.0.1:0", g.j, journal.ServerOptions{Curve: &zmtp.Curve{Server: true,
		Public: gPub, Secret: gSec, Allow: func(k zmtp.Key) bool { return k == aPub }}}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jsrv.Close() })
	g.jsrv, g.jep = jsrv, jsrv.Endpoint()

	yaml := withJournals(topoYAML([]gw{{"gw-a", 1, "korea"}}, seeds, spoolDir(t), "ticks."), map[string]string{"gw-a": g.jep})
	for _, r := range [][2]string{
		{"    publish: tcp://127.0.0.1:40000\n", "    publish: " + p.Endpoint() + "\n    curve: {public_key: \"" + gPub.String() +
			"\", secret_key: \"" + gSec.String() + "\", allow: [\"" + aPub.String() + "\"]}\n"},
		{"archiver:\n", "archiver:\n  curve: {secret_key: \"" + aSec.String() + "\", public_key: \"" + aPub.String() + "\"}\n"},
		{"strategy:\n", "strategy:\n  curve: {secret_key: \"" + sSec.String() + "\"}\n"},
	} {
		if !strings.Contains(yaml, r[0]) {
			t.Fatalf("topology has no %q", r[0])
		}
		yaml = strings.Replace(yaml, r[0], r[1], 1)
	}
	topo := parseTopo(t, yaml)

	_, stop := startArchiver(t, topo, Options{})
	g.waitSubscribed(1)
	before := events(0, 100)
	publishAll([]*fakeGateway{g}, before)
	stopWhenCounted(t, seeds, stop, len(before))
	down := events(100, 150)
	publishAll([]*fakeGateway{g}, down)

	a, stop := startArchiver(t, topo, Options{})
	resubscribed(t, g, 2)
	after := events(250, 50)
	publishAll([]*fakeGateway{g}, after)
	want := cat(before, down, after)
	stopWhenArchived(t, seeds, stop, want, false)
	if n := a.Stats.RetransmitAccepted.Load(); n != uint64(len(down)) {
		t.Errorf("retransmit archived %d records, want %d", n, len(down))
	}
	if n := a.Stats.RetransmitLost.Load() + a.Stats.RetransmitFailed.Load() + a.Stats.RetransmitRetries.Load(); n != 0 {
		t.Errorf("lost+failed+retries = %d", n)
	}
	if jsrv.Stats.Requests.Load() == 0 || jsrv.Stats.HandshakeFailed.Load()+jsrv.Stats.Unauthorized.Load() != 0 {
		t.Errorf("journal: %d requests, %d failed handshakes, %d unauthorized", jsrv.Stats.Requests.Load(),
			jsrv.Stats.HandshakeFailed.Load(), jsrv.Stats.Unauthorized.Load())
	}
	// The journal speaks only CURVE: a plain fetch of the same range is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := journal.Fetch(ctx, g.jep, 1, 10, func([]byte) error { return nil }); err == nil {
		t.Fatal("a plain fetch was served by the CURVE journal")
	}
}
