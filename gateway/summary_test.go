package gateway

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/internal/testkit"
)

// TestSummaryOnStop: a gateway that stops logs its end-of-run counts, and the published
// count is the collector's (the subscriber's own count of what arrived).
func TestSummaryOnStop(t *testing.T) {
	topo := simTopology(t, sim.Options{Seed: 3, Rate: 200, Exchanges: []string{"binance", "okx"}})
	var logs testkit.SyncBuffer
	g, c, stop := startGatewayWith(t, topo, topo.Gateways[0].ID, Options{Bind: "tcp://127.0.0.1:0", RetransmitBind: "tcp://127.0.0.1:0"}, slog.New(slog.NewTextHandler(&logs, nil)))
	testkit.Poll(t, 20*time.Second, "200 records", func() bool { return c.total() >= 200 })
	stop()
	published := g.Stats.Published.Load()
	testkit.Poll(t, 10*time.Second, "the collector to receive every published record", func() bool { return uint64(c.total()) >= published })
	out := logs.String()
	want := "published=" + strconv.FormatUint(published, 10)
	if !strings.Contains(out, `msg="gateway stopped"`) || !strings.Contains(out, want) {
		t.Fatalf("no summary with %s in:\n%s", want, out)
	}
	if got := uint64(c.total()); got != published {
		t.Fatalf("collector received %d, summary says %d published", got, published)
	}
	for _, ex := range []string{"binance", "okx"} {
		if !strings.Contains(out, ` exchange=`+ex+` frames=`) {
			t.Fatalf("no per-exchange summary for %s in:\n%s", ex, out)
		}
	}
}

// total returns how many records the collector received.
func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.records
}
