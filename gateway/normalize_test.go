package gateway

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
	st, err := Normalize(a, []NormalizeInput{{Name: "in.jsonl", R: strings.NewReader(in)}}, &out, &errOut)
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
	_, err := Normalize(a, []NormalizeInput{{Name: "a", R: strings.NewReader(big)}, {Name: "b", R: strings.NewReader(`{"result":null,"id":1}`)}}, &out, &errOut)
	if !errors.Is(err, ErrNormalize) || !strings.Contains(errOut.String(), "a:1: error:") {
		t.Fatalf("err %v, stderr %s", err, errOut.String())
	}
}
