package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/binance"
	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// depthIDs returns U and u of a Binance depth frame (ok false for other frames).
func depthIDs(t *testing.T, data []byte) (uint64, uint64, bool) {
	v, err := fastjson.ParseBytes(data)
	if err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	d := v.Get("data")
	if string(d.GetStringBytes("e")) != "depthUpdate" {
		return 0, 0, false
	}
	return d.GetUint64("U"), d.GetUint64("u"), true
}

// binanceDepth opens a Binance connection subscribed to BTCUSDT diffs.
func binanceDepth(t *testing.T, s *Server, streams ...string) *client {
	c := dial(t, s, "binance", "/stream")
	if len(streams) == 0 {
		streams = []string{"btcusdt@depth@100ms"}
	}
	b, _ := json.Marshal(streams)
	c.send(`{"method":"SUBSCRIBE","params":` + string(b) + `,"id":1}`)
	c.expect(5*time.Second, `{"result":null,"id":1}`)
	return c
}

// countDepthGaps reads c's Binance depth updates until stop(updates, gaps) says so and
// returns the gaps seen: updates whose U does not follow the previous update's u.
func countDepthGaps(t *testing.T, c *client, stop func(updates, gaps int) bool) int {
	t.Helper()
	var last uint64
	updates, gaps := 0, 0
	c.until(5*time.Second, func(m msg) bool {
		U, u, ok := depthIDs(t, m.data)
		if !ok {
			return false
		}
		if last != 0 && U != last+1 {
			gaps++
		}
		last = u
		updates++
		return stop(updates, gaps)
	})
	return gaps
}

func TestFaultGap(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {GapEvery: 4}}})
	gaps := countDepthGaps(t, binanceDepth(t, s), func(_, gaps int) bool { return gaps >= 2 })
	if st := s.Stats().ByExchange["binance"]; st.Gaps < 2 {
		t.Errorf("Stats.Gaps = %d, saw %d gaps", st.Gaps, gaps)
	}
}

func TestFaultNoneChains(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"}})
	if gaps := countDepthGaps(t, binanceDepth(t, s), func(n, _ int) bool { return n == 100 }); gaps != 0 {
		t.Fatalf("%d gaps in 100 depth updates without faults", gaps)
	}
}

func TestFaultReorder(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {ReorderEvery: 5}}})
	c := binanceDepth(t, s)
	var prevU uint64
	c.until(5*time.Second, func(m msg) bool {
		U, u, ok := depthIDs(t, m.data)
		if !ok {
			return false
		}
		swapped := prevU != 0 && u+1 == prevU // this one belonged before the previous
		prevU = U
		return swapped
	})
	if st := s.Stats().ByExchange["binance"]; st.Reorders == 0 {
		t.Error("Stats.Reorders = 0")
	}
}

func TestFaultDuplicate(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {DuplicateEvery: 3}}})
	c := binanceDepth(t, s)
	var prev []byte
	c.until(5*time.Second, func(m msg) bool {
		dup := bytes.Equal(prev, m.data)
		prev = m.data
		return dup
	})
	if s.Stats().ByExchange["binance"].Duplicates == 0 {
		t.Error("Stats.Duplicates = 0")
	}
}

func TestFaultDisconnect(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {DisconnectAfter: 10}}})
	c := binanceDepth(t, s)
	data := 0
	c.until(5*time.Second, func(m msg) bool {
		if m.err != nil {
			return true
		}
		data++
		return false
	})
	if data != 10 {
		t.Errorf("%d data frames before the disconnect, want 10", data)
	}
	if st := s.Stats().ByExchange["binance"]; st.Disconnects != 1 {
		t.Errorf("Stats.Disconnects = %d", st.Disconnects)
	}
}

func TestFaultDisconnectAfterTime(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 100, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {DisconnectAfterTime: 50 * time.Millisecond}}})
	c := binanceDepth(t, s)
	c.until(5*time.Second, func(m msg) bool { return m.err != nil })
	if st := s.Stats().ByExchange["binance"]; st.Disconnects != 1 {
		t.Errorf("Stats.Disconnects = %d", st.Disconnects)
	}
}

func TestFaultRefuse(t *testing.T) {
	for _, status := range []int{429, 503} {
		s := start(t, Options{Seed: 1, Exchanges: []string{"okx"},
			Faults: map[string]Fault{"okx": {RefuseConnects: 2, RefuseStatus: status, RetryAfter: 3 * time.Second}}})
		url := "ws://" + s.Addr() + "/okx/ws/v5/public"
		for i := 0; i < 2; i++ {
			ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
			if err == nil {
				ws.Close()
				t.Fatalf("attempt %d: upgrade accepted", i)
			}
			if resp == nil || resp.StatusCode != status || resp.Header.Get("Retry-After") != "3" {
				t.Fatalf("attempt %d: %v %+v", i, err, resp)
			}
			resp.Body.Close()
		}
		c := dial(t, s, "okx", "/ws/v5/public") // the third attempt is accepted
		c.send("ping")
		c.expect(5*time.Second, "pong")
		if st := s.Stats().ByExchange["okx"]; st.Refused != 2 || st.Conns != 1 {
			t.Errorf("status %d: %+v", status, st)
		}
	}
}

func TestFaultMalformedAndOversized(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"},
		Faults: map[string]Fault{"binance": {MalformedEvery: 3, OversizedEvery: 5}}})
	c := binanceDepth(t, s)
	p := binance.New().NewParser()
	var b adapter.Batch
	var malformed, oversized bool
	c.until(5*time.Second, func(m msg) bool {
		if m.err != nil {
			t.Fatal(m.err)
		}
		_, err := p.Parse(m.data, 0, &b)
		switch {
		case len(m.data) > 4<<20:
			oversized = true
			if !errors.Is(err, adapter.ErrMalformed) {
				t.Errorf("oversized frame parsed: %v", err)
			}
		case !json.Valid(m.data):
			malformed = true
			if !errors.Is(err, adapter.ErrMalformed) {
				t.Errorf("malformed frame parsed: %v", err)
			}
		case err != nil:
			t.Fatalf("good frame: %v", err)
		}
		return malformed && oversized
	})
	st := s.Stats().ByExchange["binance"]
	if st.Malformed == 0 || st.Oversized == 0 {
		t.Errorf("%+v", st)
	}
}

// TestFaultStallDead: after the stall no data arrives and pings go unanswered while the
// market keeps moving; the socket stays open.
func TestFaultStallDead(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"okx"},
		Faults: map[string]Fault{"okx": {StallAfter: 5, StallHeartbeats: true}}})
	c := dial(t, s, "okx", "/ws/v5/public")
	c.send(`{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}`)
	data := 0
	c.until(5*time.Second, func(m msg) bool {
		if bytes.HasPrefix(m.data, []byte(`{"arg"`)) {
			data++
		}
		return data == 5
	})
	testkit.Poll(t, 5*time.Second, "stall", func() bool { return s.Stats().ByExchange["okx"].Stalls == 1 })
	c.send("ping")
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	ev := s.Stats().Events
	testkit.Poll(t, 5*time.Second, "events", func() bool { return s.Stats().Events > ev+200 })
	select {
	case m := <-c.msgs:
		t.Fatalf("stalled connection sent %q (err %v)", m.data, m.err)
	default:
	}
}

// TestFaultStallAlive: a stall that still answers heartbeats, then resumes.
func TestFaultStallAlive(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"okx"},
		Faults: map[string]Fault{"okx": {StallAfter: 2, StallFor: 100 * time.Millisecond}}})
	c := dial(t, s, "okx", "/ws/v5/public")
	c.send(`{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}`)
	c.expect(5*time.Second, `"event":"subscribe"`)
	testkit.Poll(t, 5*time.Second, "stall", func() bool { return s.Stats().ByExchange["okx"].Stalls == 1 })
	c.send("ping")
	c.expect(5*time.Second, "pong")
	c.expect(5*time.Second, `"tradeId"`) // data resumes after StallFor
}

func TestInjectAtRunTime(t *testing.T) {
	s := start(t, Options{Seed: 1, Rate: 500, Exchanges: []string{"binance"}})
	c := binanceDepth(t, s)
	c.next(5 * time.Second)
	if err := s.Inject("binance", Fault{DisconnectAfter: 3}); err != nil {
		t.Fatal(err)
	}
	c.until(5*time.Second, func(m msg) bool { return m.err != nil })
	if err := s.Inject("nope", Fault{}); err == nil {
		t.Error("Inject accepted an unknown exchange")
	}
	if err := s.Inject("binance", Fault{RefuseStatus: 404}); err == nil {
		t.Error("Inject accepted status 404")
	}
}

func TestParseFault(t *testing.T) {
	ex, f, err := ParseFault("okx:gap=10,dup=3,refuse=2,status=429,stall=5,stall-for=1s,stall-dead")
	if err != nil || ex != "okx" || f.GapEvery != 10 || f.DuplicateEvery != 3 || f.RefuseConnects != 2 ||
		f.RefuseStatus != 429 || f.StallAfter != 5 || f.StallFor != time.Second || !f.StallHeartbeats {
		t.Fatalf("%s %+v %v", ex, f, err)
	}
	for _, bad := range []string{"okx", "okx:nope=1", "okx:gap=x", "okx:status=404"} {
		if _, _, err := ParseFault(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestFaultGapVisiblePerVenue: with GapEvery, each exchange whose books carry sequence
// ids or checksums shows the gap through its own adapter's records: a delta whose
// SeqFirst is not the previous Seq + 1, or (Kraken) a checksum that no longer matches.
// Coinbase level2 and the full-book venues have no sequence: a dropped push is invisible
// there by design.
func TestFaultGapVisiblePerVenue(t *testing.T) {
	for _, vc := range venueCases() {
		if vc.adapter == nil {
			continue // no adapter yet: gateway TestRegistryCoversVenueTable says so
		}
		rule := vc.adapter.BookRule()
		if rule == adapter.BookFullEachPush || vc.ex == "coinbase" {
			continue
		}
		t.Run(vc.ex, func(t *testing.T) {
			s := start(t, Options{Seed: 5, Rate: 500, Exchanges: []string{vc.ex},
				Faults: map[string]Fault{vc.ex: {GapEvery: 7}}})
			plans, err := vc.adapter.Plan("ws://"+s.Addr()+"/"+vc.ex+vc.ws,
				[]adapter.Sub{{Symbol: vc.sym, Channels: []adapter.Channel{adapter.ChanBook}}})
			if err != nil {
				t.Fatal(err)
			}
			c, err := dialURL(t, plans[0].URL)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range plans[0].Subscribe {
				c.send(string(f))
			}
			p := vc.adapter.NewParser()
			var b adapter.Batch
			bk := newTBook()
			var last uint64
			started := false
			c.until(5*time.Second, func(m msg) bool {
				b.Reset()
				if _, err := p.Parse(m.data, 0, &b); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < b.Len(); i++ {
					r := b.At(i)
					switch r.Kind {
					case wire.KindBookSnapshot:
						bk.snapshot(r)
						last, started = r.Seq, true
					case wire.KindBookDelta:
						if rule == adapter.BookChecksum {
							bk.set(bk.bids, r.Bids)
							bk.set(bk.asks, r.Asks)
							if started && vc.adapter.(adapter.Checksummer).Checksum(bk.sorted(false), bk.sorted(true)) != r.Checksum {
								return true
							}
							continue
						}
						if started && r.SeqFirst != last+1 {
							return true
						}
						last, started = r.Seq, true
					}
				}
				return false
			})
			if s.Stats().ByExchange[vc.ex].Gaps == 0 {
				t.Error("Stats.Gaps = 0")
			}
		})
	}
}
