package strategy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

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

// TestMetricsPortTakenIsFatal: a strategy whose metrics address is taken fails to start
// (it used to run without metrics, the error only logged).
func TestMetricsPortTakenIsFatal(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	b, err := os.ReadFile("../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := config.Parse([]byte(strings.Replace(string(b), "metrics: 127.0.0.1:9301", "metrics: "+taken.Addr().String(), 1)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(topo, Options{Endpoints: []string{"tcp://127.0.0.1:1", "tcp://127.0.0.1:1"}, Out: io.Discard, SignalBind: "tcp://127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "metrics: listening on") {
		t.Fatalf("Run with a taken metrics port: %v", err)
	}
	// The failed start let go of the signal port too (it used to hold it until exit).
	sig := strings.TrimPrefix(s.SignalEndpoint(), "tcp://")
	ln, err := net.Listen("tcp", sig)
	if err != nil {
		t.Fatalf("signal port %s still held after Run failed: %v", sig, err)
	}
	ln.Close()
}
