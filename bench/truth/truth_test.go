package truth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const eventLog = `{"ev":1,"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":1000000,"id":"7","price":"65000.1","size":"0.5","side":"buy"}
{"ev":2,"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":2000000,"id":"8","price":"65000.2","size":"0.5","side":"sell"}
{"ev":3,"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":3000000,"id":"9","price":"65000.3","size":"0.5","side":"sell"}
{"ev":3,"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":3000000,"bids":[["100.5","1"]],"asks":[["101","0"],["102","2"]]}
{"ev":4,"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":4000000,"bids":[["100.5","2"]],"asks":[]}
{"ev":5,"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":5000000,"bids":[["100.5","3"]],"asks":[]}
{"ev":5,"exchange":"kraken","instrument":"BTC-USD","kind":"book_snapshot","ts_exchange_ns":0,"bids":[["100.5","3"]],"asks":[["102","2"]],"per_connection":true,"conn":1}
{"end":true,"events":5,"lines":7,"dropped":0}
`

// tapOut: okx 7 once, 8 twice (one duplicate), 9 missing (lost); kraken ev 3 in another
// decimal style and level order, ev 4 missing, ev 5 once; a per-connection snapshot; a
// refresh snapshot and a status (made up); one record matching nothing (unexpected).
const tapOut = `{"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":1000000,"price":"65000.10","size":"0.50","side":"buy","trade_id":"7","gateway_id":"a"}
{"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":2000000,"price":"65000.2","size":"0.5","side":"sell","trade_id":"8","gateway_id":"a"}
{"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":2000000,"price":"65000.2","size":"0.5","side":"sell","trade_id":"8","gateway_id":"b"}
{"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":3000000,"bids":[["100.50","1.0"]],"asks":[["102.00","2"],["101.0","0.000"]],"flags":["no_seq"]}
{"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":5000000,"bids":[["100.5","3"]],"asks":[],"flags":["no_seq"]}
{"exchange":"kraken","instrument":"BTC-USD","kind":"book_snapshot","ts_exchange_ns":1234,"bids":[["100.5","3"]],"asks":[["102","2"]],"flags":["no_seq"]}
{"exchange":"kraken","instrument":"BTC-USD","kind":"book_snapshot","ts_exchange_ns":1234,"bids":[["100.5","3"]],"asks":[["102","2"]],"flags":["refresh"]}
{"exchange":"kraken","instrument":"BTC-USD","kind":"status","ts_exchange_ns":0,"status":"gap"}
{"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":6000000,"bids":[["1","1"]],"asks":[],"flags":["no_seq"]}
`

func TestCompare(t *testing.T) {
	ev, err := ReadEvents(strings.NewReader(eventLog))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(strings.NewReader(tapOut), "tap")
	if err != nil {
		t.Fatal(err)
	}
	rep := Compare(ev, recs, recs[:1], true)
	okx, okxArch := rep.Venue("okx")
	if want := (Counts{Emitted: 3, Delivered: 3, Lost: 1, Duplicated: 1}); okx != want {
		t.Errorf("okx tap %+v, want %+v", okx, want)
	}
	if want := (Counts{Emitted: 3, Delivered: 1, Lost: 2}); okxArch != want {
		t.Errorf("okx archive %+v, want %+v", okxArch, want)
	}
	kr, _ := rep.Venue("kraken")
	if want := (Counts{Emitted: 3, Delivered: 2, Lost: 1, Unexpected: 1, PerConn: 1, Made: 2}); kr != want {
		t.Errorf("kraken tap %+v, want %+v", kr, want)
	}
	if rep.OK() {
		t.Error("OK with losses and duplicates")
	}
	var b bytes.Buffer
	if err := rep.Write(&b, true); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"okx", "kraken", "TOTAL", "tap lost: okx|trade|BTC-USDT|id:9", "tap duplicated: okx|trade|BTC-USDT|id:8", "tap unexpected"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}

	// every event exactly once: OK
	clean := tapOut[:strings.Index(tapOut, "\n")+1] + lineOf(tapOut, 2) + `{"exchange":"okx","instrument":"BTC-USDT","kind":"trade","ts_exchange_ns":3000000,"price":"65000.3","size":"0.5","side":"sell","trade_id":"9"}` + "\n" +
		lineOf(tapOut, 4) + `{"exchange":"kraken","instrument":"BTC-USD","kind":"book_delta","ts_exchange_ns":4000000,"bids":[["100.5","2"]],"asks":[]}` + "\n" + lineOf(tapOut, 5)
	recs, err = ReadRecords(strings.NewReader(clean), "tap")
	if err != nil {
		t.Fatal(err)
	}
	if rep := Compare(ev, recs, recs, true); !rep.OK() {
		var b bytes.Buffer
		rep.Write(&b, true)
		t.Errorf("clean stream not OK:\n%s", b.String())
	}
}

func lineOf(s string, n int) string { return strings.SplitAfter(s, "\n")[n-1] }

func TestReadEventsIncomplete(t *testing.T) {
	for name, in := range map[string]string{
		"no trailer":       eventLog[:strings.Index(eventLog, `{"end"`)],
		"dropped":          strings.Replace(eventLog, `"dropped":0`, `"dropped":3`, 1),
		"lines differ":     strings.Replace(eventLog, `"lines":7`, `"lines":9`, 1),
		"after trailer":    eventLog + eventLog[:strings.Index(eventLog, "\n")+1],
		"malformed":        `{"ev":1,` + "\n",
		"oversized line":   `{"x":"` + strings.Repeat("a", MaxLineBytes) + `"}` + "\n",
		"missing exchange": `{"ev":1,"kind":"bbo"}` + "\n",
	} {
		_, err := ReadEvents(strings.NewReader(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if (name == "no trailer" || name == "dropped" || name == "lines differ" || name == "after trailer") && !errors.Is(err, ErrIncomplete) {
			t.Errorf("%s: %v, want ErrIncomplete", name, err)
		}
	}
}

func TestCanon(t *testing.T) {
	for in, want := range map[string]string{"0.50000000": "0.5", "127.0": "127", "65000": "65000", "0E-8": "0", "1.230": "1.23", "10": "10"} {
		if got := canon(in); got != want {
			t.Errorf("canon(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPreSnapshot: deltas emitted before a book's first snapshot with an id, and covered by
// it (id ≤ the snapshot's), are not expected; later ones are.
func TestPreSnapshot(t *testing.T) {
	log := `{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","ts_exchange_ns":1,"id":"10","bids":[["1","1"]],"asks":[]}
{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","ts_exchange_ns":2,"id":"11","bids":[["1","2"]],"asks":[]}
{"exchange":"binance","instrument":"BTC-USDT","kind":"book_snapshot","ts_exchange_ns":0,"id":"11","bids":[["1","2"]],"asks":[],"per_connection":true}
{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","ts_exchange_ns":3,"id":"12","bids":[["1","3"]],"asks":[]}
{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","ts_exchange_ns":4,"id":"13","bids":[["1","4"]],"asks":[]}
{"end":true,"events":4,"lines":5,"dropped":0}
`
	ev, err := ReadEvents(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadRecords(strings.NewReader(`{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","seq":"11","bids":[["1","2"]],"asks":[]}
{"exchange":"binance","instrument":"BTC-USDT","kind":"book_delta","seq":"13","bids":[["1","4"]],"asks":[]}
`), "tap")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Compare(ev, recs, nil, false).Venue("binance")
	if want := (Counts{Emitted: 2, Delivered: 1, Lost: 1, PreSnapshot: 2}); got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}

// FuzzReadAndCompare: any bytes as an event log and as records either fail cleanly or
// compare without panicking.
func FuzzReadAndCompare(f *testing.F) {
	f.Add([]byte(eventLog), []byte(tapOut))
	f.Add([]byte(`{"end":true,"events":0,"lines":0,"dropped":0}`), []byte(`{"exchange":"x","kind":"book_delta","bids":[["1"]]}`))
	f.Fuzz(func(t *testing.T, log, recs []byte) {
		ev, err := ReadEvents(bytes.NewReader(log))
		if err != nil {
			return
		}
		lines, err := ReadRecords(bytes.NewReader(recs), "fuzz")
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Compare(ev, lines, lines, true).Write(&b, true); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIdenticalContentEvents: two content-identified events with the same time and content
// are one expected delivery; delivering it twice is a duplicate.
func TestIdenticalContentEvents(t *testing.T) {
	line := `{"exchange":"upbit","instrument":"USDT-KRW","kind":"book_snapshot","ts_exchange_ns":5000000,"bids":[["1413.5","10"]],"asks":[["1413.6","9"]]}` + "\n"
	ev, err := ReadEvents(strings.NewReader(line + line + `{"end":true,"events":2,"lines":2,"dropped":0}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]Counts{1: {Emitted: 1, Delivered: 1, Identical: 1}, 2: {Emitted: 1, Delivered: 2, Duplicated: 1, Identical: 1}} {
		recs, err := ReadRecords(strings.NewReader(strings.Repeat(line, n)), "tap")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := Compare(ev, recs, nil, false).Venue("upbit"); got != want {
			t.Errorf("%d delivered: %+v, want %+v", n, got, want)
		}
	}
}
