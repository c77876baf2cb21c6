package gwbench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// TestMain lets the test binary serve as the measured child.
func TestMain(m *testing.M) {
	if IsChild() {
		os.Exit(ChildMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestRun captures a short simulator stream, replays it in a child on one core and checks
// the subscriber (the oracle) got every published record without a sequence hole, that
// every venue produced records and that the figures are consistent.
func TestRun(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Root: ".", SimRate: 300, Capture: 700 * time.Millisecond, Measure: 150 * time.Millisecond}
	rep, err := Run(context.Background(), cfg, exe, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Published == 0 || rep.Received != rep.Published || rep.Holes != 0 {
		t.Fatalf("published %d received %d holes %d", rep.Published, rep.Received, rep.Holes)
	}
	var sum uint64
	venues := 0
	for _, r := range rep.Results {
		sum += r.Records
		if r.Venue != "mixed" {
			venues++
		}
		if r.Records == 0 || r.Frames == 0 || r.CPUSeconds <= 0 || r.RecordsPerCPU <= 0 {
			t.Errorf("%s: %+v", r.Venue, r)
		}
		if r.ParseErrors != 0 {
			t.Errorf("%s: %d parse errors on the simulator's own frames", r.Venue, r.ParseErrors)
		}
		t.Logf("%-8s frames %7d records %7d cpu %.2fs: %.0f records/s/core (%.0f ns/record)", r.Venue, r.Frames, r.Records, r.CPUSeconds, r.RecordsPerCPU, r.NsPerRecord)
	}
	if sum != rep.Published {
		t.Errorf("phases sum to %d records, child said %d", sum, rep.Published)
	}
	if venues != len(wire.Venues()) || rep.Results[len(rep.Results)-1].Venue != "mixed" {
		t.Errorf("want %d venue phases (the venue table) and mixed, got %d venues, last %q", len(wire.Venues()), venues, rep.Results[len(rep.Results)-1].Venue)
	}
}
