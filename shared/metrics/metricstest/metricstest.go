// Package metricstest scrapes a process's /metrics and /healthz in tests.
package metricstest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Get fetches url and returns the status code and body; it fails the test when the
// request itself fails.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Value returns the value of one series in a /metrics body, written as exposed: the name
// alone, or the name with its labels (`tickline_sim_frames_total{exchange="okx"}`). ok is
// false when the series is absent or its value is not a number.
func Value(body, series string) (v float64, ok bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if s, found := strings.CutPrefix(line, series+" "); found {
			f, err := strconv.ParseFloat(s, 64)
			return f, err == nil
		}
	}
	return 0, false
}
