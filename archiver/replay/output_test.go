package replay

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// TestOutputsMatchConfig: the topology accepts exactly the outputs this package opens, and
// requires replay.publish for the publishing ones and replay.path for the file ones.
func TestOutputsMatchConfig(t *testing.T) {
	if got, want := OutputNames(), config.ReplayOutputs(); !slices.Equal(got, want) {
		t.Fatalf("replay outputs %v, shared/config's replay outputs %v", got, want)
	}
	base := topology(t, []string{"127.0.0.1:1"}, "ticks.")
	for _, o := range Outputs() {
		topo := *base
		topo.Replay.Output, topo.Replay.Publish, topo.Replay.Path = o.Name, "", "out"
		err := topo.Validate()
		if needsPublish := err != nil && strings.Contains(err.Error(), "replay.publish"); needsPublish == o.File {
			t.Errorf("output %s (file %v): without replay.publish, Validate says %v", o.Name, o.File, err)
		}
	}
}

// TestOpenOutput: every output opens and takes a record; an unknown name and a
// publishing output without an endpoint are errors that name the flag.
func TestOpenOutput(t *testing.T) {
	v := rec(wire.Binance, wire.KindTrade, "BTC-USDT", 1, 0, 1)
	var h wire.Header
	if err := wire.ReadHeader(v, &h); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, o := range Outputs() {
		c := OutputConfig{Publish: "tcp://127.0.0.1:0", Path: filepath.Join(dir, o.Name), Log: testkit.Log(t)}
		s, err := OpenOutput(context.Background(), o.Name, c)
		if err != nil {
			t.Fatalf("%s: %v", o.Name, err)
		}
		if err := s.Write(append([]byte(nil), v...), &h); err != nil {
			t.Fatalf("%s: write: %v", o.Name, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("%s: close: %v", o.Name, err)
		}
		if fi, err := os.Stat(c.Path); o.File && (err != nil || fi.Size() == 0) {
			t.Errorf("%s: nothing written to %s (%v)", o.Name, c.Path, err)
		}
	}
	if _, err := OpenOutput(context.Background(), "avro", OutputConfig{}); err == nil || !strings.Contains(err.Error(), "--output") ||
		!strings.Contains(err.Error(), strings.Join(OutputNames()[:2], ", ")) {
		t.Errorf("unknown output: %v", err)
	}
	if _, err := OpenOutput(context.Background(), "zmq", OutputConfig{}); err == nil || !strings.Contains(err.Error(), "--publish") {
		t.Errorf("zmq without an endpoint: %v", err)
	}
}
