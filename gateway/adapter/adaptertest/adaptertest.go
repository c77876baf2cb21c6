// Package adaptertest runs the checks every exchange adapter shares: golden cases
// (testdata/cases.txt), the real exchange messages in testdata/samples (copied from the
// reference collection with their sources, README.md there), event identity
// (CheckIdentity), zero allocations, fuzzing and benchmarks. One test runs the shared
// checks (Suite) over every adapter: the gateway's TestAdapters, from the registry. Nothing
// here reads outside the adapter's package directory and nothing skips: a fresh clone runs
// every case.
//
// # Case files
//
// A case file is a list of frames, each followed by what Parse must produce:
//
//	# comment
//	> {"stream":"btcusdt@bookTicker","data":{...}}      a frame, one line of text
//	> @sample:bookTicker-1.json                          a file of testdata/samples/
//	> @hex:5b7b22...                                     a binary frame, hex encoded
//	= {"exchange":"binance",...}                         one expected record, as normalize prints it
//	! malformed                                          Parse fails; the error text contains this
//	~ control                                            Parse returns ResultControl (or ping, error, closing)
//	? content: tickers carry no id                       the record above (or, right after the frame, all of
//	                                                     its records) has this identity, not the one the
//	                                                     adapter states for its kind (a superseded format, a
//	                                                     secondary channel); the reason is required
//
// A frame with no "=", "!" or "~" line must parse with ResultData and produce no records.
// Expected JSON is compared after normalising key order, so it can be written by hand from
// the exchange's documentation.
package adaptertest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// SamplesDir is where an adapter's reference exchange messages live, relative to its
// package directory (where `go test` runs): the folder "samples" beside its case file
// (Cases), where LoadCases and RequireSamples look for them whatever the working
// directory.
const SamplesDir = "testdata/samples"

// samplesBeside returns the samples folder of the case file at path.
func samplesBeside(path string) string {
	return filepath.Join(filepath.Dir(path), "samples")
}

// Case is one frame and its expectations.
type Case struct {
	Line   int
	Frame  []byte
	Sample string   // sample file name when the frame came from @sample:
	Want   []string // expected records as JSON
	Err    string   // expected error substring
	Result string   // expected non-data result: control, ping, error, closing
	// Identity overrides the adapter's stated identity ("? " lines) for record i, or for
	// every record of the frame at key -1; Why says why.
	Identity map[int]string
	Why      []string
}

// LoadCases reads a case file; a missing @sample: file (in the samples folder beside
// it) fails the test.
func LoadCases(t testing.TB, path, exchange string) []Case {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("cases: %v", err)
	}
	defer f.Close()
	var cases []Case
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if len(line) < 2 || line[0] == '#' {
			continue
		}
		tag, rest := line[:2], line[2:]
		if tag != "> " && len(cases) == 0 {
			t.Fatalf("%s:%d: expectation before any frame", path, n)
		}
		switch tag {
		case "> ":
			c := Case{Line: n}
			switch {
			case strings.HasPrefix(rest, "@sample:"):
				c.Sample = strings.TrimPrefix(rest, "@sample:")
				c.Frame = readSample(t, exchange, samplesBeside(path), c.Sample)
			case strings.HasPrefix(rest, "@hex:"):
				b, err := hex.DecodeString(strings.TrimPrefix(rest, "@hex:"))
				if err != nil {
					t.Fatalf("%s:%d: %v", path, n, err)
				}
				c.Frame = b
			default:
				c.Frame = []byte(rest)
			}
			cases = append(cases, c)
		case "= ":
			cases[len(cases)-1].Want = append(cases[len(cases)-1].Want, rest)
		case "! ":
			cases[len(cases)-1].Err = rest
		case "~ ":
			cases[len(cases)-1].Result = rest
		case "? ":
			cls, why, ok := strings.Cut(rest, ":")
			if !ok || strings.TrimSpace(why) == "" {
				t.Fatalf("%s:%d: identity override without a reason (want \"? class: why\")", path, n)
			}
			c := &cases[len(cases)-1]
			if c.Identity == nil {
				c.Identity = map[int]string{}
			}
			// After a "= " line: that record; right after the frame: all its records.
			c.Identity[len(c.Want)-1] = strings.TrimSpace(cls)
			c.Why = append(c.Why, strings.TrimSpace(why))
		default:
			t.Fatalf("%s:%d: unknown line tag %q", path, n, tag)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// readSample returns a sample message compacted to one line (some samples are
// pretty-printed).
func readSample(t testing.TB, exchange, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("sample %s/%s: %v", exchange, name, err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return bytes.TrimSpace(b) // not JSON (should not happen): hand over as is
	}
	return out.Bytes()
}

var resultNames = map[adapter.Result]string{adapter.ResultData: "data", adapter.ResultControl: "control",
	adapter.ResultPing: "ping", adapter.ResultError: "error", adapter.ResultClosing: "closing"}

// Run checks every case of path against a fresh parser of a.
func Run(t *testing.T, a adapter.Adapter, path string) {
	t.Helper()
	cases := LoadCases(t, path, a.Exchange().String())
	if len(cases) == 0 {
		t.Fatalf("%s has no cases", path)
	}
	p := a.NewParser()
	var out adapter.Batch
	for _, c := range cases {
		out.Reset()
		res, err := p.Parse(c.Frame, 1, &out)
		where := path + ":" + itoa(c.Line)
		if c.Sample != "" {
			where += " (" + c.Sample + ")"
		}
		if c.Err != "" {
			if err == nil || !strings.Contains(err.Error(), c.Err) {
				t.Errorf("%s: error = %v, want one containing %q", where, err, c.Err)
			}
			if err != nil && !errors.Is(err, adapter.ErrMalformed) && !errors.Is(err, adapter.ErrUnsupported) && !errors.Is(err, adapter.ErrExchange) {
				t.Errorf("%s: error %v wraps none of the adapter sentinels", where, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: unexpected error %v", where, err)
			continue
		}
		want := c.Result
		if want == "" {
			want = "data"
		}
		if got := resultNames[res]; got != want {
			t.Errorf("%s: result %s, want %s", where, got, want)
		}
		if out.Len() != len(c.Want) {
			t.Errorf("%s: %d records, want %d", where, out.Len(), len(c.Want))
		}
		for i := 0; i < out.Len() && i < len(c.Want); i++ {
			got := string(adapter.AppendJSON(nil, out.At(i)))
			if !sameJSON(t, got, c.Want[i]) {
				t.Errorf("%s: record %d\n got %s\nwant %s", where, i, got, c.Want[i])
			}
			if out.At(i).TsRecv != 1 {
				t.Errorf("%s: record %d: TsRecv not stamped", where, i)
			}
		}
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Errorf("output is not JSON: %v: %s", err, a)
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Errorf("expected line is not JSON: %v: %s", err, b)
		return false
	}
	return reflect.DeepEqual(x, y)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// RequireSamples fails unless every message file in the adapter's samples folder
// (SamplesDir: beside the case file at path) is used by some case of path or named in
// ignore (samples other tests read), so that a new sample cannot go unchecked. The
// folder must exist (its README.md gives the sources; some venues have no message
// samples).
func RequireSamples(t *testing.T, exchange, path string, ignore ...string) {
	t.Helper()
	dir := samplesBeside(path)
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("%s samples: %v", exchange, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, c := range LoadCases(t, path, exchange) {
		if c.Sample != "" {
			used[c.Sample] = true
		}
	}
	for _, i := range ignore {
		used[i] = true
	}
	for _, f := range files {
		if !used[filepath.Base(f)] {
			t.Errorf("sample %s is not checked by any case in %s", filepath.Base(f), path)
		}
	}
}

// Frames returns the frames of a case file that parse without error into records (for
// allocation checks, fuzz seeds and benchmarks).
func Frames(t testing.TB, a adapter.Adapter, path string) [][]byte {
	var out [][]byte
	for _, c := range LoadCases(t, path, a.Exchange().String()) {
		if c.Frame != nil && c.Err == "" && len(c.Want) > 0 {
			out = append(out, c.Frame)
		}
	}
	return out
}

// AssertZeroAlloc fails when parsing any good frame of path allocates in steady state.
func AssertZeroAlloc(t *testing.T, a adapter.Adapter, path string) {
	t.Helper()
	p := a.NewParser()
	var out adapter.Batch
	for _, f := range Frames(t, a, path) {
		out.Reset()
		_, _ = p.Parse(f, 1, &out) // warm up: parser arenas and level slices
		n := testing.AllocsPerRun(50, func() {
			out.Reset()
			if _, err := p.Parse(f, 1, &out); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("parsing %.80s... allocates %v times", f, n)
		}
	}
}

// Fuzz runs a parser over arbitrary input seeded with the frames of the adapter's case
// file (Cases; whole and split): it must never panic, every record it yields must encode,
// and errors must wrap the adapter sentinels.
func Fuzz(f *testing.F, a adapter.Adapter) {
	for _, fr := range Frames(f, a, Cases) {
		f.Add(fr)
		f.Add(fr[:len(fr)/2])
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		p := a.NewParser()
		var out adapter.Batch
		_, err := p.Parse(frame, 1, &out)
		if err != nil && !errors.Is(err, adapter.ErrMalformed) && !errors.Is(err, adapter.ErrUnsupported) && !errors.Is(err, adapter.ErrExchange) {
			t.Fatalf("error %v wraps no adapter sentinel", err)
		}
		var buf []byte
		for i := 0; i < out.Len(); i++ {
			if _, err := wireAppend(buf[:0], out.At(i)); err != nil {
				t.Fatalf("record %d from %q does not encode: %v", i, frame, err)
			}
		}
	})
}

// FuzzSame checks an adapter's fast path (adapter.Shape) against its fastjson path: for
// any input, a's parser and the reference parser (the same adapter with the fast path
// left out) return the same result, the same error text and the same records. Seeds are
// the case file's good frames, whole and split.
func FuzzSame(f *testing.F, a adapter.Adapter, path string, reference func() adapter.Parser) {
	for _, fr := range Frames(f, a, path) {
		f.Add(fr)
		f.Add(fr[:len(fr)/2])
	}
	f.Fuzz(func(t *testing.T, frame []byte) { same(t, a.NewParser(), reference(), frame) })
}

// same fails t unless p and reference give frame the same result, error text and records.
func same(t testing.TB, p, reference adapter.Parser, frame []byte) {
	t.Helper()
	var got, want adapter.Batch
	gotRes, gotErr := p.Parse(frame, 1, &got)
	wantRes, wantErr := reference.Parse(frame, 1, &want)
	if gotRes != wantRes || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%q: result %d, error %v; reference: %d, %v", frame, gotRes, gotErr, wantRes, wantErr)
	}
	if got.Len() != want.Len() {
		t.Fatalf("%q: %d records; reference: %d", frame, got.Len(), want.Len())
	}
	for i := 0; i < got.Len(); i++ {
		g, w := got.At(i), want.At(i)
		gb, gerr := wire.AppendRecord(adapter.AppendJSON(nil, g), g)
		wb, werr := wire.AppendRecord(adapter.AppendJSON(nil, w), w)
		if !bytes.Equal(gb, wb) || fmt.Sprint(gerr) != fmt.Sprint(werr) || g.Checksum != w.Checksum || g.HasChecksum != w.HasChecksum {
			t.Fatalf("%q: record %d differs from the reference:\n%s\n%s", frame, i, gb, wb)
		}
	}
}
