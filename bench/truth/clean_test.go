package truth

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/strategy/tap"
)

// TestGroundTruthOneGateway runs the simulator (all ten venues, the demo topology's symbols
// and channels), one gateway and the tap in-process, without faults, and requires the
// event log and the tap's records to agree exactly: every event delivered once, no record
// left unmatched. It pins the event log's mapping (internal/sim/events.go: kind, id field,
// time precision, content per venue) to what the adapters really make of the frames, so a
// change on either side shows up here rather than as a false loss in the end-to-end run.
func TestGroundTruthOneGateway(t *testing.T) {
	root, err := kafkatest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	const generate = 3 * time.Second
	srv, err := sim.New(sim.Options{Rate: 40, Seed: 3, Events: events, GenerateFor: generate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	srv.Start()
	stopSim := func() {
		if err := srv.Close(); err != nil { // idempotent; writes the event log's trailer
			t.Errorf("sim: %v", err)
		}
	}
	defer stopSim()

	ports := freePorts(t, "gw-a", "gw-b", "shaper", "jr-a", "jr-b", "replay")
	path := topology(t, root, dir, srv.Addr(), []string{"127.0.0.1:1"}, "unused", ports)
	topo, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testkit.SyncBuffer{}
	tp, err := tap.New(topo, tap.Options{Out: out, Gateways: []string{"gw-a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(topo, "gw-a", gateway.Options{WaitSubscribers: 1, NoMetrics: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := tp.Run(ctx); err != nil {
			t.Errorf("tap: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := gw.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("gateway: %v", err)
		}
	}()
	// generation stops after `generate`; then wait until the tap's output is still for 2 s
	testkit.Poll(t, 60*time.Second, "records", func() bool { return out.Len() > 0 })
	last, still := 0, time.Now()
	testkit.Poll(t, 60*time.Second, "the tap's output to settle after generation stopped", func() bool {
		if n := out.Len(); n != last {
			last, still = n, time.Now()
		}
		return time.Since(started) > generate+time.Second && time.Since(still) > 2*time.Second
	})
	cancel()
	wg.Wait()
	stopSim()

	ev, err := ReadEventsFile(events)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(strings.NewReader(out.String()), "tap")
	if err != nil {
		t.Fatal(err)
	}
	rep := Compare(ev, recs, nil, false)
	var b bytes.Buffer
	rep.Write(&b, true)
	for _, ex := range sim.Exchanges() {
		c, _ := rep.Venue(ex)
		if c.Emitted == 0 || c.Lost != 0 || c.Duplicated != 0 || c.Unexpected != 0 || c.Mismatched != 0 {
			t.Errorf("%s: %+v", ex, c)
		}
	}
	if t.Failed() {
		t.Logf("one gateway, no faults:\n%s", b.String())
	}
}
