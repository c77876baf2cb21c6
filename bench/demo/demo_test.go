package demo

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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
	err := Run(context.Background(), Options{Duration: 6 * time.Second, Rate: 20, Out: &out, Dir: t.TempDir()},
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
}
