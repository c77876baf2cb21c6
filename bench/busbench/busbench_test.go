package busbench

import (
	"context"
	"testing"
	"time"
)

// TestRunOne runs the raw floor and the bus once with short phases: every paced message
// arrives (the receiver's count is the oracle, not the sender's), the flood phase delivers
// what was sent (its size stays under the bus queue depth, so nothing may drop), and the
// bus scenario samples the publisher heap.
func TestRunOne(t *testing.T) {
	cfg := Config{Rate: 2000, PacedFor: 100 * time.Millisecond, FloodCount: 2000, FloodMaxDur: 10 * time.Second, Dir: t.TempDir()}
	for _, sys := range []string{"floor", "bus"} {
		t.Run(sys, func(t *testing.T) {
			r := RunOne(context.Background(), cfg, sys, "tcp", false, nil)
			if r.Note != "" {
				t.Fatal(r.Note)
			}
			if r.Sent == 0 || r.Received != r.Sent {
				t.Fatalf("paced: sent %d, received %d", r.Sent, r.Received)
			}
			if r.FloodSent != cfg.FloodCount || r.FloodRecv != r.FloodSent || r.FloodMsgs <= 0 {
				t.Fatalf("flood: sent %d, received %d, %.0f msg/s", r.FloodSent, r.FloodRecv, r.FloodMsgs)
			}
			if sys == "bus" && (r.HeapStartMiB <= 0 || r.HeapEndMiB <= 0) {
				t.Fatalf("bus heap not sampled: %+v", r)
			}
		})
	}
}
