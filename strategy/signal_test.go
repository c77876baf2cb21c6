package strategy

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/config"
)

// TestSignalPublisherHonoursBus: the signal publisher takes the topology's bus section (it
// used the bus package's defaults): a message within bus.max_message_bytes but over the
// package default (16 KiB) is accepted, one over bus.max_message_bytes refused.
func TestSignalPublisherHonoursBus(t *testing.T) {
	b, err := os.ReadFile("../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), "max_message_bytes: 4194304", "max_message_bytes: 65536", 1)
	topo, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if topo.Bus.MaxMessageBytes != 65536 {
		t.Fatalf("test bug: bus.max_message_bytes %d", topo.Bus.MaxMessageBytes)
	}
	s, err := New(topo, Options{Endpoints: []string{"tcp://127.0.0.1:1"}, NoMetrics: true, Out: io.Discard, SignalBind: "tcp://127.0.0.1:0"},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.sig.Close()
	if err := s.sig.Publish([]byte("sig"), make([]byte, 32<<10)); err != nil {
		t.Errorf("32 KiB signal under bus.max_message_bytes 64 KiB: %v", err)
	}
	if err := s.sig.Publish([]byte("sig"), make([]byte, 65<<10)); err == nil {
		t.Error("65 KiB signal over bus.max_message_bytes 64 KiB accepted")
	}
}
