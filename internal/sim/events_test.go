package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
)

// logLine is one event-log line as a reader sees it.
type logLine struct {
	Ev            uint64            `json:"ev"`
	Exchange      string            `json:"exchange"`
	Instrument    string            `json:"instrument"`
	Symbol        string            `json:"symbol"`
	Kind          string            `json:"kind"`
	TsExchangeNs  int64             `json:"ts_exchange_ns"`
	ID            string            `json:"id"`
	IDs           map[string]string `json:"ids"`
	Price         string            `json:"price"`
	Size          string            `json:"size"`
	Side          string            `json:"side"`
	BidPx         string            `json:"bid_px"`
	AskPx         string            `json:"ask_px"`
	Bids          [][2]string       `json:"bids"`
	Asks          [][2]string       `json:"asks"`
	PerConnection bool              `json:"per_connection"`
	Conn          uint64            `json:"conn"`
	End           bool              `json:"end"`
	Lines         uint64            `json:"lines"`
	Dropped       uint64            `json:"dropped"`
}

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("event log line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// flushLog makes what the server logged so far readable (tests only).
func (s *Server) flushLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.evlog.w.Flush()
}

// received is what the test connection got, in the event log's terms: "kind id" or
// "kind ts content" per data frame, and its per-connection snapshots.
type received struct{ shared, perConn []string }

// TestEventLogMatchesConnection holds the event log to what a connection received: the
// same events, once each, with the same ids, times and content (OKX: ids; Coinbase:
// l2update content and µs times), and the subscribe snapshots as per-connection lines.
func TestEventLogMatchesConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const maxEvents = 600
	s := start(t, Options{Rate: 2000, Events: path, MaxEvents: maxEvents, Exchanges: []string{"okx", "coinbase"}})

	okx := dial(t, s, "okx", "/ws/v5/public")
	okx.send(`{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"BTC-USDT"}]}`)
	cb := dial(t, s, "coinbase", "/")
	cb.send(`{"type":"subscribe","product_ids":["ETH-USD"],"channels":["level2","matches"]}`)

	var got received
	type decoded struct {
		Arg struct {
			Channel string `json:"channel"`
		} `json:"arg"`
		Action string `json:"action"`
		Event  string `json:"event"`
		Data   []struct {
			SeqID   json.Number `json:"seqId"`
			TradeID string      `json:"tradeId"`
			Px      string      `json:"px"`
			Sz      string      `json:"sz"`
			Side    string      `json:"side"`
		} `json:"data"`
		// Coinbase
		Type    string      `json:"type"`
		Time    string      `json:"time"`
		Changes [][3]string `json:"changes"`
		TradeID json.Number `json:"trade_id"`
		Price   string      `json:"price"`
		Size    string      `json:"size"`
		Side    string      `json:"side"`
	}
	bboSnap := false
	// drain reads whatever both connections have queued, until want frames arrived.
	drain := func(c *client, want func() bool) {
		c.until(10*time.Second, func(m msg) bool {
			if m.err != nil {
				t.Fatalf("read: %v", m.err)
			}
			var d decoded
			if err := json.Unmarshal(m.data, &d); err != nil {
				t.Fatalf("frame %s: %v", m.data, err)
			}
			switch {
			case d.Event != "":
			case d.Arg.Channel == "books" && d.Action == "snapshot":
				got.perConn = append(got.perConn, "okx book_snapshot "+d.Data[0].SeqID.String())
			case d.Arg.Channel == "books":
				got.shared = append(got.shared, "okx book_delta "+d.Data[0].SeqID.String())
			case d.Arg.Channel == "bbo-tbt" && len(d.Data) > 0 && !bboSnap: // the first is the subscribe snapshot
				bboSnap = true
				got.perConn = append(got.perConn, "okx bbo "+d.Data[0].SeqID.String())
			case d.Arg.Channel == "bbo-tbt" && len(d.Data) > 0:
				got.shared = append(got.shared, "okx bbo "+d.Data[0].SeqID.String())
			case d.Arg.Channel == "trades" && len(d.Data) > 0:
				x := d.Data[0]
				got.shared = append(got.shared, fmt.Sprintf("okx trade %s %s %s %s", x.TradeID, x.Px, x.Sz, x.Side))
			case d.Type == "snapshot":
				got.perConn = append(got.perConn, "coinbase book_snapshot")
			case d.Type == "l2update":
				ts, err := time.Parse(time.RFC3339Nano, d.Time)
				if err != nil {
					t.Fatal(err)
				}
				var lv []string
				for _, ch := range d.Changes {
					lv = append(lv, ch[0]+":"+trim(ch[1])+":"+trim(ch[2]))
				}
				got.shared = append(got.shared, fmt.Sprintf("coinbase book_delta %d %s", ts.UnixNano(), strings.Join(lv, ",")))
			case d.Type == "match":
				taker := map[string]string{"buy": "sell", "sell": "buy"}[d.Side] // Coinbase side is the maker's
				got.shared = append(got.shared, fmt.Sprintf("coinbase trade %s %s %s %s", d.TradeID, trim(d.Price), trim(d.Size), taker))
			}
			return want()
		})
	}
	testkit.Poll(t, 10*time.Second, "the model to reach MaxEvents", func() bool { return s.Stats().Events >= maxEvents })
	s.flushLog()
	lines := readLog(t, path)
	var want received
	for _, l := range lines {
		key := ""
		switch {
		case l.Exchange == "okx" && l.Kind == "trade":
			key = fmt.Sprintf("okx trade %s %s %s %s", l.IDs["tradeId"], l.Price, l.Size, l.Side)
		case l.Exchange == "okx":
			key = "okx " + l.Kind + " " + l.IDs["seqId"]
		case l.Exchange == "coinbase" && l.Kind == "book_delta":
			var lv []string
			// the log lists bids then asks; Coinbase lists changes in event order: compare as sets below
			for _, x := range l.Bids {
				lv = append(lv, "buy:"+x[0]+":"+x[1])
			}
			for _, x := range l.Asks {
				lv = append(lv, "sell:"+x[0]+":"+x[1])
			}
			key = fmt.Sprintf("coinbase book_delta %d %s", l.TsExchangeNs, strings.Join(lv, ","))
		case l.Exchange == "coinbase" && l.Kind == "trade":
			key = fmt.Sprintf("coinbase trade %s %s %s %s", l.ID, l.Price, l.Size, l.Side)
		case l.Exchange == "coinbase" && l.Kind == "book_snapshot":
			key = "coinbase book_snapshot"
		}
		if key == "" {
			t.Errorf("unexpected log line %+v", l)
			continue
		}
		if l.PerConnection {
			want.perConn = append(want.perConn, key)
		} else {
			want.shared = append(want.shared, key)
		}
	}
	if len(want.shared) < 200 {
		t.Fatalf("only %d shared events logged", len(want.shared))
	}
	count := func(ex string, r []string) int {
		n := 0
		for _, k := range r {
			if strings.HasPrefix(k, ex+" ") {
				n++
			}
		}
		return n
	}
	drain(okx, func() bool { return count("okx", got.shared) >= count("okx", want.shared) })
	drain(cb, func() bool { return count("coinbase", got.shared) >= count("coinbase", want.shared) })
	norm := func(r []string) []string {
		out := make([]string, len(r))
		for i, k := range r {
			f := strings.Fields(k)
			if f[0] == "coinbase" && f[1] == "book_delta" && len(f) == 4 {
				lv := strings.Split(f[3], ",")
				slices.Sort(lv)
				f[3] = strings.Join(lv, ",")
			}
			out[i] = strings.Join(f, " ")
		}
		slices.Sort(out)
		return out
	}
	if g, w := norm(got.shared), norm(want.shared); !slices.Equal(g, w) {
		t.Errorf("shared events: connection got %d, log has %d; first differences:\n%s", len(g), len(w), diff(g, w))
	}
	if g, w := norm(got.perConn), norm(want.perConn); !slices.Equal(g, w) {
		t.Errorf("per-connection: connection got %v, log has %v", g, w)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	lines = readLog(t, path)
	end := lines[len(lines)-1]
	if !end.End || end.Dropped != 0 || end.Lines != uint64(len(lines)-1) {
		t.Errorf("trailer %+v, %d lines before it", end, len(lines)-1)
	}
}

// TestEventLogBounded checks that a log over its bound counts the lines it drops in the
// trailer instead of growing.
func TestEventLogBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s := start(t, Options{Rate: 2000, Events: path, EventsMaxBytes: 4096, MaxEvents: 300, Exchanges: []string{"okx"}})
	c := dial(t, s, "okx", "/ws/v5/public")
	c.send(`{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}`)
	testkit.Poll(t, 10*time.Second, "MaxEvents", func() bool { return s.Stats().Events >= 300 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := readLog(t, path)
	end := lines[len(lines)-1]
	if st.Size() > 4096+200 || !end.End || end.Dropped == 0 || end.Lines != uint64(len(lines)-1) {
		t.Errorf("size %d, trailer %+v with %d lines", st.Size(), end, len(lines)-1)
	}
}

// trim removes trailing fractional zeros ("0.50000000" → "0.5", "3.000" → "3").
func trim(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func diff(a, b []string) string {
	var sb strings.Builder
	n := 0
	for i := 0; i < max(len(a), len(b)) && n < 6; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			sb.WriteString("  got  " + x + "\n  want " + y + "\n")
			n++
		}
	}
	return sb.String()
}
