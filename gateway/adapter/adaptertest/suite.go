package adaptertest

import (
	"hash/fnv"
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Cases is where every adapter keeps its case file, relative to its package directory.
const Cases = "testdata/cases.txt"

// Suite runs the checks every adapter passes, each as a subtest of t: the case file
// (Run), the reference samples (RequireSamples, with ignore: samples other tests read),
// event identity (CheckIdentity) and zero allocations (AssertZeroAlloc).
func Suite(t *testing.T, a adapter.Adapter, path string, ignore ...string) {
	t.Run("cases", func(t *testing.T) { Run(t, a, path) })
	t.Run("samples", func(t *testing.T) { RequireSamples(t, a.Exchange().String(), path, ignore...) })
	t.Run("identity", func(t *testing.T) { CheckIdentity(t, a, path) })
	t.Run("zeroalloc", func(t *testing.T) { AssertZeroAlloc(t, a, path) })
}

// BenchKinds runs BenchParse for each kind as a sub-benchmark named after the kind
// (BenchmarkParse/bbo, .../trade, ...).
func BenchKinds(b *testing.B, a adapter.Adapter, path string, kinds ...wire.Kind) {
	for _, k := range kinds {
		b.Run(k.String(), func(b *testing.B) { BenchParse(b, a, path, k) })
	}
}

// FuzzSameTree is FuzzSame with the reference built from a parser of the adapter (of type
// *P) and its fastjson-only method tree (the method its Parse falls back to when the fast
// path does not match), e.g. FuzzSameTree(f, New(), Cases, (*Parser).parseTree).
func FuzzSameTree[P any, PP interface {
	*P
	adapter.Parser
}](f *testing.F, a adapter.Adapter, path string, tree func(PP, []byte, int64, *adapter.Batch) (adapter.Result, error)) {
	FuzzSame(f, a, path, func() adapter.Parser { return &treeOnly[P, PP]{p: a.NewParser().(PP), tree: tree} })
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
