package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpdateReadme: only the text between the baseline markers changes; a file without
// them is an error, not a silent no-op.
func TestUpdateReadme(t *testing.T) {
	p := filepath.Join(t.TempDir(), "README.md")
	in := "# x\n\nbefore\n" + readmeBegin + "\nold table\n" + readmeEnd + "\nafter\n"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(p, "new table\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "# x\n\nbefore\n" + readmeBegin + "\nnew table\n" + readmeEnd + "\nafter\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if err := os.WriteFile(p, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(p, "x"); err == nil || !strings.Contains(err.Error(), readmeBegin) {
		t.Errorf("missing markers: err %v", err)
	}
}

// TestReadmeBlockCarriesThroughput: the README block states the gateway's cost per record
// and the lossless end-to-end rate of the run, each with its target, and leaves out what
// the run did not measure.
func TestReadmeBlockCarriesThroughput(t *testing.T) {
	c := closing{gw: []gwRow{{"binance", 600000}, {"mixed", 250000}}, lossless: 128000}
	got := c.readmeBlock(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	for _, want := range []string{"binance 600000;", "mixed 250000;", "target ≥ 1M mixed", "128000 ticks/s", "target ≥ 250k", "2026-12-03"} {
		if !strings.Contains(got, want) {
			t.Errorf("block lacks %q:\n%s", want, got)
		}
	}
	if got := (closing{}).readmeBlock(time.Now()); strings.Contains(got, "Gateway cost") || strings.Contains(got, "lossless") {
		t.Errorf("a run without gwbench or e2e states them:\n%s", got)
	}
}
