package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoReplayEquivalence runs the demo briefly: the live pipeline, the archive into the
// embedded Kafka, and the replay of the korea region into a second strategy, which must
// find exactly the opportunities a live strategy on the same gateway found. It uses the
// demo topology's fixed loopback ports.
func TestDemoReplayEquivalence(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	err := Run(context.Background(), Options{Duration: 6 * time.Second, Rate: 20, Out: &out, Dir: dir},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"binance", "upbit", "kimchi premium", "latency gateway_to_strategy", "replay matches the live run"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(text, "replay: 0 opportunities") {
		t.Errorf("no opportunity to compare:\n%s", text[max(0, len(text)-600):])
	}
	live, err1 := os.ReadFile(filepath.Join(dir, "shadow-opportunities.jsonl"))
	replayed, err2 := os.ReadFile(filepath.Join(dir, "replay-opportunities.jsonl"))
	if err1 != nil || err2 != nil {
		t.Fatalf("the demo left no opportunity lists: %v %v", err1, err2)
	}
	if !bytes.Equal(live, replayed) || len(live) == 0 {
		t.Errorf("the lists differ or are empty: live %d bytes, replayed %d bytes", len(live), len(replayed))
	}
}
