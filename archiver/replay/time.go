package replay

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrTime: a time is neither RFC 3339 nor an integer of Unix nanoseconds.
var ErrTime = errors.New("replay: invalid time")

// ParseTime parses a range bound: RFC 3339 with optional fractional seconds to the
// nanosecond ("2026-03-01T12:00:00.25Z", "2026-03-01T21:00:00+09:00") or an integer of
// nanoseconds since the Unix epoch. It returns ns since the epoch.
func ParseTime(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%w %q: want RFC 3339 (2026-03-01T12:00:00.5Z) or Unix ns", ErrTime, s)
	}
	return t.UnixNano(), nil
}

// FormatTime prints a time in ns since the epoch as RFC 3339 in UTC with its fraction
// ("2026-03-01T12:00:00.25Z"), "unbounded" for 0 (an open end of a range).
func FormatTime(ns int64) string {
	if ns == 0 {
		return "unbounded"
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
