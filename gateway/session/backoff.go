package session

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Backoff is exponential backoff with full jitter: the n-th wait is uniform in
// [0, min(Max, Min·2^n)], never below Floor (a rate-limit answer's Retry-After).
type Backoff struct {
	Min, Max time.Duration
	rng      *rand.Rand
}

// Wait returns the wait before attempt n (0-based).
func (b *Backoff) Wait(n int, floor time.Duration) time.Duration {
	ceil := b.Max
	if n < 40 && b.Min<<n < b.Max && b.Min<<n > 0 {
		ceil = b.Min << n
	}
	d := time.Duration(b.rng.Int64N(int64(ceil) + 1))
	return max(d, floor)
}

// retryAfter reads a rate-limit answer's Retry-After (seconds or an HTTP date).
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 && s < 3600 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) && t.Sub(now) < time.Hour {
		return t.Sub(now)
	}
	return 0
}

// rateLimited reports whether a failed upgrade was a rate-limit or overload answer.
func rateLimited(resp *http.Response) bool {
	return resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == 418 ||
		resp.StatusCode == http.StatusServiceUnavailable)
}
