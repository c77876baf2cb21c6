package adaptertest

import (
	"encoding/json"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
)

// Split is what a plan of many subscriptions comes to (PlanSplit): connections, symbols
// and subscriptions (channel × symbol, as the venue counts them against
// Limits().MaxSubsPerConn) in all.
type Split struct {
	Conns, Symbols, Subs int
}

// PlanSplit plans subs with a at wsURL and checks how they were split over connections:
// as want says in all, and no connection over the venue's MaxSubsPerConn. Each subscribe
// frame is decoded as JSON into a fresh F; subsIn returns how many subscriptions it
// carries, or false when the frame is not what the venue sends on connection p (the test
// fails, naming the frame). It returns the plans for the venue's own checks of the frames.
func PlanSplit[F any](t *testing.T, a adapter.Adapter, wsURL string, subs []adapter.Sub, want Split, subsIn func(p adapter.ConnPlan, f *F) (int, bool)) []adapter.ConnPlan {
	t.Helper()
	plans, err := a.Plan(wsURL, subs)
	if err != nil {
		t.Fatal(err)
	}
	got := Split{Conns: len(plans)}
	max := a.Limits().MaxSubsPerConn
	for _, p := range plans {
		n := 0
		for _, frame := range p.Subscribe {
			f := new(F)
			if err := json.Unmarshal(frame, f); err != nil {
				t.Fatalf("frame %s: %v", frame, err)
			}
			k, ok := subsIn(p, f)
			if !ok {
				t.Fatalf("frame %s", frame)
			}
			n += k
		}
		if max > 0 && n > max {
			t.Errorf("connection with %d subscriptions, over the venue's %d", n, max)
		}
		got.Symbols += len(p.Symbols)
		got.Subs += n
	}
	if got != want {
		t.Fatalf("planned %+v, want %+v", got, want)
	}
	return plans
}
