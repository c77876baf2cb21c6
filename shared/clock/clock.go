// Package clock holds the two waits that stages and shared packages make on a context:
// sleep for a while unless cancelled, and call a function periodically until cancelled.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends; it reports whether the whole d passed. A nil ctx
// never ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	if ctx == nil {
		time.Sleep(d)
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Every calls f every d, on the calling goroutine, until ctx ends; it returns when ctx
// ends (a call of f in progress finishes first). The first call is d after the start.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// select picks at random among ready cases: a tick that was pending when ctx
			// ended must not call f again.
			if ctx.Err() != nil {
				return
			}
		}
		f()
	}
}
