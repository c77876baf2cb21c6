package clock

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep on a live context: false, want true")
	}
	var never context.Context // nil: a context that never ends (ZMQSink may have none)
	if !Sleep(never, time.Millisecond) {
		t.Error("Sleep on a nil context: false, want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep on an ended context: true, want false")
	}
}

// TestEveryStopsWithContext: Every returns once ctx ends, and f does not run again even
// when a tick is already pending then (both of Every's select cases are ready, and Go picks
// one at random). Each round leaves a tick pending (a fake-clock sleep past the period), so
// a select without the check fails a round with probability 1/2: 40 rounds miss it once in
// 2^40.
func TestEveryStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for round := range 40 {
			ctx, cancel := context.WithCancel(context.Background())
			calls := 0
			Every(ctx, time.Millisecond, func() {
				calls++
				if calls == 2 {
					cancel()
					time.Sleep(3 * time.Millisecond) // fake time: the next tick is pending
				}
			})
			if calls != 2 {
				t.Fatalf("round %d: f called %d times, want 2 (a tick pending when ctx ended ran f again)", round, calls)
			}
		}
	})
}
