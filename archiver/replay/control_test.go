package replay

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// post sends a control request and decodes the state answered.
func post(t *testing.T, base, path string) (int, ControlState, string) {
	t.Helper()
	resp, err := http.Post(base+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var st ControlState
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("%s: %v in %q", path, err, body)
		}
	}
	return resp.StatusCode, st, string(body)
}

// lockedTimes records what a sink wrote, readable while Run goes on.
type lockedTimes struct {
	mu    sync.Mutex
	times []int64
}

func (l *lockedTimes) sink() Sink {
	return FuncSink(func(_ []byte, h *wire.Header) error {
		l.mu.Lock()
		l.times = append(l.times, kafka.EventTime(h))
		l.mu.Unlock()
		return nil
	})
}

func (l *lockedTimes) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.times)
}

func (l *lockedTimes) last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.times[len(l.times)-1]
}

// TestReplayControlEndpoint drives a running replay through its HTTP control endpoint on
// the metrics address (port 0): pause stops the output and the paused time grows live in
// /metrics; a seek back while paused replays from the new position once resumed; a speed
// change from 1x (which would take 3 s here) to max finishes the replay at once; bad
// values answer 400 naming the valid ones. The oracle is what the sink received.
func TestReplayControlEndpoint(t *testing.T) {
	seeds, topo := newArchive(t, "ctl.")
	threeStreams(t, seeds, "ctl.", 3000) // 3 s of archive time, 9000 records
	var got lockedTimes
	r, done, _ := startReplay(t, topo, Options{Regions: []string{"korea"}, Speed: 1, Metrics: "127.0.0.1:0"}, got.sink())
	testkit.Poll(t, 10*time.Second, "records written", func() bool { return got.len() > 100 })
	base := "http://" + r.MetricsAddr()

	code, st, _ := post(t, base, "/control/pause")
	if code != http.StatusOK || !st.Paused {
		t.Fatalf("pause: %d %+v", code, st)
	}
	n := got.len()
	testkit.Poll(t, 10*time.Second, "paused time in /metrics", func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return scrape(t, string(b), "tickline_replay_paused_seconds_total") >= 0.05
	})
	if m := got.len(); m > n+1 {
		t.Fatalf("paused replay wrote %d records", m-n)
	}
	// Seek back to 0.5 s while paused; nothing is written until resume.
	target := base0() + int64(500*time.Millisecond)
	if code, _, body := post(t, base, "/control/seek?to="+FormatTime(target)); code != http.StatusOK {
		t.Fatalf("seek: %d %s", code, body)
	}
	if m := got.len(); m > n+1 {
		t.Fatalf("paused replay wrote %d records after a seek", m-n)
	}
	if code, _, body := post(t, base, "/control/speed?to=fast"); code != http.StatusBadRequest || !strings.Contains(body, "max") {
		t.Errorf("bad speed: %d %q", code, body)
	}
	if code, _, body := post(t, base, "/control/rewind"); code != http.StatusNotFound || !strings.Contains(body, "seek") {
		t.Errorf("unknown control: %d %q", code, body)
	}
	if code, _, body := post(t, base, "/control/seek?to=yesterday"); code != http.StatusBadRequest || !strings.Contains(body, "RFC 3339") {
		t.Errorf("bad seek time: %d %q", code, body)
	}
	m := got.len()
	if code, st, _ := post(t, base, "/control/resume"); code != http.StatusOK || st.Paused {
		t.Fatalf("resume: %d %+v", code, st)
	}
	testkit.Poll(t, 10*time.Second, "records after the seek", func() bool { return got.len() > m })
	got.mu.Lock()
	first := got.times[m]
	got.mu.Unlock()
	if first < target || first > target+int64(time.Millisecond) {
		t.Fatalf("first record after seek at %s, want %s", FormatTime(first), FormatTime(target))
	}
	// At 1x the rest would take 2.5 s; at max it is done at once.
	if code, st, _ := post(t, base, "/control/speed?to=max"); code != http.StatusOK || st.Speed != "max" {
		t.Fatalf("speed: %d %+v", code, st)
	}
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replay did not finish after speed max")
	}
	t.Logf("finished %v after speed max; %d records written", time.Since(start), got.len())
	if last := got.last(); last != base0()+int64(3000*time.Millisecond)+int64(200*time.Microsecond) {
		t.Errorf("last record at %s", FormatTime(last))
	}
	// Records from the seek target to the end, each once more: 2500 ms × 3 streams.
	if after := got.len() - m; after != 3*2501 && after != 3*2500 {
		t.Errorf("%d records after the seek, want about %d", after, 3*2500)
	}
}

func base0() int64 { return base }

// TestReplayFollow: with Follow the replay writes the archive, then keeps writing what is
// archived afterwards (a live tail) until ctx ends; Run then returns nil. A seek while it
// waits at the live edge takes effect at once.
func TestReplayFollow(t *testing.T) {
	seeds, topo := newArchive(t, "fol.")
	threeStreams(t, seeds, "fol.", 100)
	var got lockedTimes
	r, done, cancel := startReplay(t, topo, Options{Regions: []string{"korea"}, Follow: true}, got.sink())
	testkit.Poll(t, 10*time.Second, "the archive written", func() bool { return got.len() == 300 })
	// New records, later in time, on one partition only: the other partition (okx) has
	// nothing new and must not hold them back.
	var more [][]byte
	for i := 101; i <= 150; i++ {
		more = append(more, rec(wire.Binance, wire.KindTrade, "BTC-USDT", uint64(i), time.Duration(i)*time.Millisecond, 1))
	}
	archive(t, seeds, "fol.korea", "korea", more)
	testkit.Poll(t, 20*time.Second, "the new records followed", func() bool { return got.len() == 350 })
	if last := got.last(); last != base+int64(150*time.Millisecond) {
		t.Errorf("last record at %s", FormatTime(last))
	}
	select {
	case err := <-done:
		t.Fatalf("a following replay returned by itself: %v", err)
	default:
	}
	// A seek while idle at the live edge wakes it: from 50 ms on, everything again (153
	// records of the first archive, 50 of the second), then it follows on.
	if err := r.SeekTo(base + int64(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	testkit.Poll(t, 20*time.Second, "the records after the seek", func() bool { return got.len() == 350+153+50 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}
