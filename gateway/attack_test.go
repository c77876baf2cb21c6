package gateway

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/metrics"
	"github.com/tickline/tickline/shared/metrics/metricstest"
	"github.com/tickline/tickline/shared/zmtp"
)

// TestIntegrationBusAttacks runs issue #10's bus attacks against a running gateway at
// once: the 73-byte handshakes claiming 2^62 and 2^40 bytes (they crashed the process),
// 80 connections that never greet (they took every subscriber slot), 61 subscribers with
// 250 prefixes that never match (amplification; one more asking for 1,024 is refused),
// and oversized frames after the handshake. The gateway stays up, its healthy subscriber
// misses nothing (no hole in the gateway sequence) and keeps at least 90% of its normal
// rate (asserted when the test runs alone: testkit.RateCheck), the heap stays bounded, and
// every attack is counted in /metrics.
func TestIntegrationBusAttacks(t *testing.T) {
	topo := simTopology(t, sim.Options{Seed: 3, Rate: 200, Exchanges: []string{"binance", "okx"}})
	g, c := startGateway(t, topo, "gw-korea")
	reg := metrics.NewRegistry()
	g.Register(reg)
	srv := httptest.NewServer(reg.Handler(g.Health))
	defer srv.Close()
	addr := strings.TrimPrefix(g.Endpoint(), "tcp://")

	testkit.Poll(t, 10*time.Second, "traffic", func() bool { return g.Stats.Published.Load() > 100 })
	rate := func() float64 {
		p0, t0 := g.Stats.Published.Load(), time.Now()
		deadline := t0.Add(2 * time.Second)
		for time.Now().Before(deadline) { // a measuring window, not a synchronisation
			time.Sleep(20 * time.Millisecond)
		}
		return float64(g.Stats.Published.Load()-p0) / time.Since(t0).Seconds()
	}
	heap := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapInuse) / (1 << 20)
	}
	normal, heap0 := rate(), heap()

	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	var wg sync.WaitGroup
	// 73-byte handshakes, 20 of each size.
	for i := range 40 {
		wg.Go(func() {
			conn := dial()
			size := uint64(1) << 62
			if i%2 == 1 {
				size = 1 << 40
			}
			attack := binary.BigEndian.AppendUint64(append(append([]byte{}, greeting...), 0x06), size)
			_, _ = conn.Write(attack)
			_, _ = io.Copy(io.Discard, conn)
		})
	}
	// 80 connections that never greet.
	for range 80 {
		dial()
	}
	// 61 subscribers with 250 non-matching prefixes; one asking for 1,024 (over the cap);
	// one sending an oversized frame after its handshake.
	subscriber := func(prefixes int, extra []byte) {
		var conn net.Conn
		for attempt := 0; ; attempt++ { // a handshake caught in the flood may be evicted: redial
			conn = dial()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, err := zmtp.Handshake(conn, &zmtp.Config{SocketType: "SUB"})
			if err == nil {
				break
			}
			conn.Close()
			if attempt == 50 {
				t.Errorf("attacker handshake: %v", err)
				return
			}
		}
		_ = conn.SetDeadline(time.Time{})
		var b []byte
		for j := range prefixes {
			p := "zz.never." + strconv.Itoa(j)
			b = append(b, 0, byte(1+len(p)), 1)
			b = append(b, p...)
		}
		b = append(b, extra...)
		_, _ = conn.Write(b)
		_, _ = io.Copy(io.Discard, conn)
	}
	for range 61 { // with the healthy one and the two refused below: the 64 subscriber slots
		wg.Go(func() { subscriber(250, nil) })
	}
	wg.Go(func() { subscriber(1024, nil) })
	wg.Go(func() { subscriber(0, binary.BigEndian.AppendUint64([]byte{0x02}, 1<<40)) })

	metric := func(body, reason string) float64 {
		re := regexp.MustCompile(`tickline_bus_refused_total\{gateway="gw-korea",reason="` + reason + `"\} (\S+)`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no bus_refused_total for %s", reason)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	// Each 73-byte handshake ends as oversized, or as handshake_limit when the flood
	// evicted it before it was read; each silent connection as handshake_limit or
	// handshake_timeout.
	last := ""
	counted := func() bool {
		_, body := metricstest.Get(t, srv.URL+"/metrics")
		over, limit, timeout := metric(body, "oversized"), metric(body, "handshake_limit"), metric(body, "handshake_timeout")
		last = fmt.Sprintf("oversized %v, handshake_limit %v, handshake_timeout %v, too_many_subscriptions %v, totals %+v",
			over, limit, timeout, metric(body, "too_many_subscriptions"), g.Publisher().Totals())
		return over >= 1 && over+limit+timeout >= 40+80+1 && metric(body, "too_many_subscriptions") >= 1 &&
			g.Publisher().Totals().Subscribers == 1+61
	}
	for deadline := time.Now().Add(30 * time.Second); !counted(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("attacks not all counted in /metrics: %s", last)
		}
	}
	t.Log(last)
	under, heap1 := rate(), heap()
	t.Logf("published %.0f/s before, %.0f/s under attack; heap %.1f → %.1f MiB; totals %+v", normal, under, heap0, heap1, g.Publisher().Totals())
	testkit.RateCheck(t, under >= 0.9*normal, "publish rate under attack %.0f/s, normal %.0f/s: below 90%%", under, normal)
	if heap1-heap0 > 64 {
		t.Errorf("heap grew %.1f MiB under attack", heap1-heap0)
	}
	if code, _ := metricstest.Get(t, srv.URL+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	recs := func() int { c.mu.Lock(); defer c.mu.Unlock(); return c.records }
	before := recs()
	testkit.Poll(t, 10*time.Second, "healthy subscriber still receiving", func() bool { return recs() > before+100 })
	c.mu.Lock()
	holes := c.gwHoles
	c.mu.Unlock()
	if holes != 0 {
		t.Errorf("healthy subscriber missed %d records", holes)
	}
}
