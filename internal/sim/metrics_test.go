package sim

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/metrics/metricstest"
)

// TestMainMetrics: `tickline sim --metrics` serves /metrics and /healthz while it runs; a
// WebSocket client shows up in its exchange's counters and nowhere else.
func TestMainMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--exchanges", "binance,okx"}, stdout, io.Discard)
		stdout.Close()
	}()
	// Main prints its addresses, then serves.
	var addr, maddr string
	lines := bufio.NewScanner(out)
	serving := regexp.MustCompile(`^tickline sim: serving \d+ exchanges on (\S+) `)
	metricsOn := regexp.MustCompile(`^tickline sim: metrics on (\S+) `)
	for (addr == "" || maddr == "") && lines.Scan() {
		if m := serving.FindStringSubmatch(lines.Text()); m != nil {
			addr = m[1]
		}
		if m := metricsOn.FindStringSubmatch(lines.Text()); m != nil {
			maddr = m[1]
		}
	}
	if addr == "" || maddr == "" {
		t.Fatalf("Main printed no addresses (serving %q, metrics %q); returned %v", addr, maddr, <-done)
	}

	if _, err := dialURL(t, "ws://"+addr+"/binance/stream"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + maddr
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var code int
		if code, body = metricstest.Get(t, base+"/metrics"); code != http.StatusOK {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		if metricValue(body, `tickline_sim_connections_total{exchange="binance"}`) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no binance connection counted:\n%s", body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for series, want := range map[string]float64{
		`tickline_sim_open_connections{exchange="binance"}`: 1,
		`tickline_sim_connections_total{exchange="okx"}`:    0,
		`tickline_sim_frames_total{exchange="okx"}`:         0,
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if metricValue(body, "tickline_sim_events_total") < 0 {
		t.Errorf("metrics lack tickline_sim_events_total:\n%s", body)
	}
	if code, hb := metricstest.Get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, hb)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Main: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("metrics still served after Main returned")
	}
}

// TestMainMetricsBadAddress: a --metrics address that cannot be listened on fails at start,
// naming it.
func TestMainMetricsBadAddress(t *testing.T) {
	err := Main(context.Background(), []string{"--listen", "127.0.0.1:0", "--metrics", "127.0.0.1"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "metrics") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("Main: %v, want a metrics listen error", err)
	}
}

// metricValue returns the value of one series (name and labels as exposed) in a /metrics
// body, or -1 when it is absent.
func metricValue(body, series string) float64 {
	if v, ok := metricstest.Value(body, series); ok {
		return v
	}
	return -1
}
