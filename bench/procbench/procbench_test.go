package procbench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPipelineProcesses runs the real processes briefly in both modes and checks the
// measurement is whole: the strategy delivered records from both lines' feeds, measured
// the gateway→strategy hop, and the bus lost nothing. (No timing is asserted.)
func TestPipelineProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tickline binary")
	}
	bin := filepath.Join(t.TempDir(), "tickline")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/tickline").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, ll := range []bool{false, true} {
		res, err := Run(ctx, Config{Bin: bin, Rate: 50, Duration: 2 * time.Second, LowLatency: ll})
		if err != nil {
			t.Fatalf("low-latency %v: %v", ll, err)
		}
		t.Logf("%s: %+v", res.Mode, res)
		h := res.Hops["gateway_to_strategy"]
		if h.P50us <= 0 || h.P99us < h.P50us || res.Delivered == 0 || res.Duplicates == 0 {
			t.Fatalf("%s: incomplete measurement %+v", res.Mode, res)
		}
		if res.Hops["exchange_to_gateway_us"].P50us <= 0 {
			t.Fatalf("%s: no exchange_to_gateway_us (Coinbase and Kraken stamp in µs): %+v", res.Mode, res.Hops)
		}
		if res.SeqGaps != 0 {
			t.Fatalf("%s: the bus lost %v records", res.Mode, res.SeqGaps)
		}
	}
	if _, err := Run(ctx, Config{Bin: bin, Rate: 50, Duration: time.Second, Exchanges: []string{"upbit"}}); err == nil {
		t.Fatal("an exchange the bench cannot subscribe was accepted")
	}
}
