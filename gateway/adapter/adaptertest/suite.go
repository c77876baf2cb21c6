package adaptertest

import (
	"errors"
	"hash/fnv"
	"path/filepath"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Cases is where every adapter keeps its case file, relative to its package directory.
const Cases = "testdata/cases.txt"

// Suite runs the checks every adapter passes, each as a subtest of t: its case file
// (Cases below dir, the adapter's package directory, with Run), the reference samples
// (RequireSamples, with ignore: samples other tests read), event identity
// (CheckIdentity), zero allocations (AssertZeroAlloc), the static facts (CheckFacts) and,
// for venues without a REST snapshot step, that none is offered (CheckNoSnapshot).
// The gateway's TestAdapters runs it over every registered adapter.
func Suite(t *testing.T, a adapter.Adapter, dir string, ignore ...string) {
	path := filepath.Join(dir, Cases)
	t.Run("facts", func(t *testing.T) { CheckFacts(t, a) })
	t.Run("treecount", func(t *testing.T) { CheckTreeCount(t, a) })
	t.Run("cases", func(t *testing.T) { Run(t, a, path) })
	t.Run("samples", func(t *testing.T) { RequireSamples(t, a.Exchange().String(), path, ignore...) })
	t.Run("identity", func(t *testing.T) { CheckIdentity(t, a, path) })
	t.Run("zeroalloc", func(t *testing.T) { AssertZeroAlloc(t, a, path) })
	if a.BookRule() != adapter.BookRESTSnapshot {
		t.Run("nosnapshot", func(t *testing.T) { CheckNoSnapshot(t, a) })
	}
}

// CheckTreeCount: the adapter's parser counts the frames its fast paths do not take
// (adapter.TreeCounter, which the gateway exports per exchange): a frame no Shape matches
// counts once.
func CheckTreeCount(t *testing.T, a adapter.Adapter) {
	p := a.NewParser()
	tc, ok := p.(adapter.TreeCounter)
	if !ok {
		t.Fatal("parser does not count its fastjson-path frames (adapter.TreeCounter: embed adapter.ParserBase and parse with Object or Frame)")
	}
	var out adapter.Batch
	_, _ = p.Parse([]byte(`{"tickline":"no venue's message"}`), 1, &out)
	if n := tc.TreeFrames(); n != 1 {
		t.Errorf("a frame no fast path takes: TreeFrames %d, want 1", n)
	}
}

// CheckFacts checks what every adapter's static facts must satisfy: its exchange is a row
// of the venue table (which also gives its book rule and limits), a dead socket is
// noticed (StaleAfter) and subscribing is paced; the adapter's client heartbeat matches
// the row's PingInterval (the session sends none without one, and a row's interval
// without a heartbeat kind is a slip) and a text heartbeat has a payload; a frame over MaxFrameBytes is
// malformed and appends nothing.
func CheckFacts(t *testing.T, a adapter.Adapter) {
	if !a.Exchange().Valid() {
		t.Errorf("exchange %v is not in the venue table", a.Exchange())
	}
	l := a.Limits()
	if l.StaleAfter <= 0 || l.SubscribeInterval <= 0 || l.MaxSubsPerConn < 0 {
		t.Errorf("limits %+v", l)
	}
	k, p := a.Ping()
	if (k != adapter.PingNone) != (l.PingInterval > 0) || (k == adapter.PingText) != (len(p) > 0) {
		t.Errorf("ping %v %q every %v", k, p, l.PingInterval)
	}
	var out adapter.Batch
	if _, err := a.NewParser().Parse(make([]byte, adapter.MaxFrameBytes+1), 1, &out); !errors.Is(err, adapter.ErrMalformed) || out.Len() != 0 {
		t.Errorf("oversized frame: %v, %d records", err, out.Len())
	}
}

// CheckNoSnapshot checks a venue whose books come over the stream: ParseSnapshot fails
// with ErrUnsupported and appends nothing, SnapshotURL is empty, and where every push is
// a whole book (BookFullEachPush) Resubscribe offers no frames.
func CheckNoSnapshot(t *testing.T, a adapter.Adapter) {
	var out adapter.Batch
	if err := a.NewParser().ParseSnapshot([]byte(`{}`), "BTC", 1, &out); !errors.Is(err, adapter.ErrUnsupported) || out.Len() != 0 {
		t.Errorf("ParseSnapshot: %v, %d records", err, out.Len())
	}
	if u := a.SnapshotURL("https://api.example.com", "BTC", 50); u != "" {
		t.Errorf("SnapshotURL %q", u)
	}
	if a.BookRule() == adapter.BookFullEachPush && a.Resubscribe(adapter.Sub{Symbol: "BTC"}) != nil {
		t.Error("a full-book venue offers resubscribe frames")
	}
}

// BenchKinds runs BenchParse over the adapter's case file for each kind as a
// sub-benchmark named after the kind (BenchmarkParse/bbo, .../trade, ...).
func BenchKinds(b *testing.B, a adapter.Adapter, kinds ...wire.Kind) {
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) { BenchParse(b, a, Cases, k) })
	}
}

// FuzzSameTree is FuzzSame with the reference built from a parser of the adapter (of type
// *P) and its fastjson-only method tree (the method its Parse falls back to when the fast
// path does not match), e.g. FuzzSameTree(f, New(), Cases, (*Parser).parseTree).
func FuzzSameTree[P any, PP interface {
	*P
	adapter.Parser
}](f *testing.F, a adapter.Adapter, tree func(PP, []byte, int64, *adapter.Batch) (adapter.Result, error)) {
	FuzzSame(f, a, Cases, func() adapter.Parser { return &treeOnly[P, PP]{p: a.NewParser().(PP), tree: tree} })
}

// FastTaken checks the frames a fast path was written for: each one takes fast (a method
// of the adapter's parser) with the given number of records — FuzzSame alone would pass
// with a fast path that never matched — and the adapter's Parse gives it exactly what tree
// (the fastjson path) gives, on every test run rather than only under the fuzzer.
func FastTaken[P any, PP interface {
	*P
	adapter.Parser
}](t *testing.T, a adapter.Adapter, tree func(PP, []byte, int64, *adapter.Batch) (adapter.Result, error),
	fast func(PP, []byte, int64, *adapter.Batch) bool, frames map[string]int) {
	t.Helper()
	for fr, n := range frames {
		var out adapter.Batch
		if !fast(a.NewParser().(PP), []byte(fr), 1, &out) || out.Len() != n {
			t.Errorf("%.70s: not taken by the fast path with %d records (%d)", fr, n, out.Len())
			continue
		}
		p := a.NewParser()
		same(t, p, &treeOnly[P, PP]{p: a.NewParser().(PP), tree: tree}, []byte(fr))
		if tc, ok := p.(adapter.TreeCounter); ok && tc.TreeFrames() != 0 {
			t.Errorf("%.70s: taken by the fast path, counted as a fastjson-path frame", fr)
		}
	}
}

// treeOnly is a parser with its fast path left out: FuzzSameTree's reference.
type treeOnly[P any, PP interface {
	*P
	adapter.Parser
}] struct {
	p    PP
	tree func(PP, []byte, int64, *adapter.Batch) (adapter.Result, error)
}

func (t *treeOnly[P, PP]) Parse(frame []byte, recvNs int64, out *adapter.Batch) (adapter.Result, error) {
	return t.tree(t.p, frame, recvNs, out)
}

func (t *treeOnly[P, PP]) ParseSnapshot(body []byte, symbol string, recvNs int64, out *adapter.Batch) error {
	return t.p.ParseSnapshot(body, symbol, recvNs, out)
}

func (t *treeOnly[P, PP]) Reply() []byte { return t.p.Reply() }

// ContentKey is the documented content key computed independently of the adapters (with
// hash/fnv): FNV-1a 64 over each field text followed by a 0xff byte.
func ContentKey(fields ...string) uint64 {
	h := fnv.New64a()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}

// ParseOne parses frame with p and returns its only record, a copy that owns its levels;
// anything else (an error, no record, several) fails the test.
func ParseOne(t testing.TB, p adapter.Parser, frame string) *wire.Record {
	t.Helper()
	rs := ParseAll(t, p, frame)
	if len(rs) != 1 {
		t.Fatalf("%.80s: %d records, want 1", frame, len(rs))
	}
	return &rs[0]
}

// ParseAll parses frame with p and returns copies of its records (owning their levels);
// a parse error fails the test.
func ParseAll(t testing.TB, p adapter.Parser, frame string) []wire.Record {
	t.Helper()
	var out adapter.Batch
	if _, err := p.Parse([]byte(frame), 1, &out); err != nil {
		t.Fatalf("%.80s: %v", frame, err)
	}
	rs := make([]wire.Record, out.Len())
	for i := range rs {
		rs[i] = *out.At(i)
		rs[i].Bids = append([]wire.Level(nil), rs[i].Bids...)
		rs[i].Asks = append([]wire.Level(nil), rs[i].Asks...)
	}
	return rs
}

// Seq is one row of a sequence-mapping table: what a frame's only record carries that its
// JSON form does not show.
type Seq struct {
	Frame         string
	SeqFirst, Seq uint64
	NoSeq         bool      // FlagNoSeq
	Reset         bool      // FlagSeqReset
	Kind          wire.Kind // 0: not checked
	ContinuesPrev bool      // SeqFirst == the previous row's Seq + 1 (the book chain rule)
}

// SeqMapping parses each row's frame with a fresh parser of a and checks its only record
// against the row.
func SeqMapping(t *testing.T, a adapter.Adapter, rows []Seq) {
	t.Helper()
	var prev uint64
	for _, c := range rows {
		r := ParseOne(t, a.NewParser(), c.Frame)
		if (c.Kind != 0 && r.Kind != c.Kind) || r.SeqFirst != c.SeqFirst || r.Seq != c.Seq ||
			(r.Flags&wire.FlagNoSeq != 0) != c.NoSeq || (r.Flags&wire.FlagSeqReset != 0) != c.Reset {
			t.Errorf("%s:\n got kind %s SeqFirst %d Seq %d flags %#x\nwant kind %s SeqFirst %d Seq %d noSeq %v reset %v",
				c.Frame, r.Kind, r.SeqFirst, r.Seq, r.Flags, c.Kind, c.SeqFirst, c.Seq, c.NoSeq, c.Reset)
		}
		if c.ContinuesPrev && r.SeqFirst != prev+1 {
			t.Errorf("%s: SeqFirst %d does not continue the previous Seq %d", c.Frame, r.SeqFirst, prev)
		}
		prev = r.Seq
	}
}
