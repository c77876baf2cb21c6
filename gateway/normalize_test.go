package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

func TestNormalizeKeepsGoingAfterErrors(t *testing.T) {
	a, err := Adapter(wire.Binance)
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Join([]string{
		`{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}`,
		`garbage`,
		``,
		`{"result":null,"id":1}`,
		`{"stream":"x","data":{"e":"kline","s":"BTCUSDT"}}`,
		`{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","t":7,"p":"1.05","q":"0.5","T":1700000000000,"m":false}}`,
	}, "\n")
	var out, errOut bytes.Buffer
	st, err := Normalize(context.Background(), a, []NormalizeInput{{Name: "in.jsonl", R: strings.NewReader(in)}}, &out, &errOut)
	if !errors.Is(err, ErrNormalize) {
		t.Fatalf("err = %v, want ErrNormalize", err)
	}
	if st.Records != 2 || st.Errors != 1 || st.Skipped != 1 || st.Lines != 5 {
		t.Fatalf("stats %+v", st)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"kind":"bbo"`) || !strings.Contains(lines[1], `"side":"buy"`) {
		t.Fatalf("output:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "in.jsonl:2: error:") || !strings.Contains(errOut.String(), "in.jsonl:5: skipped") {
		t.Fatalf("stderr:\n%s", errOut.String())
	}
}

func TestNormalizeOversizedLine(t *testing.T) {
	a, _ := Adapter(wire.Binance)
	big := strings.Repeat("x", 5<<20)
	var out, errOut bytes.Buffer
	_, err := Normalize(context.Background(), a, []NormalizeInput{{Name: "a", R: strings.NewReader(big)}, {Name: "b", R: strings.NewReader(`{"result":null,"id":1}`)}}, &out, &errOut)
	if !errors.Is(err, ErrNormalize) || !strings.Contains(errOut.String(), "a:1: error:") {
		t.Fatalf("err %v, stderr %s", err, errOut.String())
	}
}

// TestNormalizeOversizedLineThenMore: a line over 4 MiB is an error for that line only;
// the lines after it in the same input are still normalized (they used to be dropped).
func TestNormalizeOversizedLineThenMore(t *testing.T) {
	a, _ := Adapter(wire.Binance)
	bbo := `{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}`
	exact := `{"result":null,"id":1}` + strings.Repeat(" ", adapter.MaxFrameBytes-22) // at the limit: fine
	in := bbo + "\n" + strings.Repeat("x", 5<<20) + "\n" + exact + "\n" + strings.Repeat("y", adapter.MaxFrameBytes+1) + "\n" + bbo
	var out, errOut bytes.Buffer
	st, err := Normalize(context.Background(), a, []NormalizeInput{{Name: "a", R: strings.NewReader(in)}}, &out, &errOut)
	if !errors.Is(err, ErrNormalize) || st.Errors != 2 || st.Records != 2 || st.Lines != 5 {
		t.Fatalf("err %v, stats %+v, stderr %s", err, st, errOut.String())
	}
	if !strings.Contains(errOut.String(), "a:2: error: line longer than") || !strings.Contains(errOut.String(), "a:4: error: line longer than") ||
		strings.Count(out.String(), `"kind":"bbo"`) != 2 {
		t.Fatalf("stdout %s\nstderr %s", out.String(), errOut.String())
	}
}

// TestNormalizeStopsOnCancel: a cancelled context ends Normalize between lines, with what
// was normalized so far written out.
func TestNormalizeStopsOnCancel(t *testing.T) {
	a, _ := Adapter(wire.Binance)
	bbo := `{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}` + "\n"
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := Normalize(ctx, a, []NormalizeInput{{Name: "-", R: pr}}, &out, io.Discard)
		done <- err
	}()
	pw.Write([]byte(bbo)) // returns once Normalize has read it
	cancel()
	go pw.Write([]byte(bbo)) // unblocks a read of the next line, if Normalize is in one; ends at pw.Close
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Normalize ignored the cancelled context")
	}
	if n := strings.Count(out.String(), `"kind":"bbo"`); n < 1 || n > 2 {
		t.Fatalf("%d records written", n)
	}
	pw.Close()
}
