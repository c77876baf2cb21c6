// Package normbench measures parse + normalize + encode per exchange and channel, in
// process, with testing.Benchmark: ns/op, allocs/op and msgs/s on one core (one
// goroutine), over each adapter's own testdata frames.
package normbench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// Result is one (exchange, kind) figure.
type Result struct {
	Exchange    string  `json:"exchange"`
	Kind        string  `json:"kind"`
	NsPerOp     float64 `json:"ns_per_msg"`
	AllocsPerOp int64   `json:"allocs_per_msg"`
	MsgsPerCore float64 `json:"msgs_per_s_per_core"`
}

// Run benchmarks every adapter; root is the repository root (for testdata paths).
//
// Case files name samples relative to their adapter's directory (adaptertest.SamplesDir),
// so Run works from inside each adapter's directory in turn and returns to the working
// directory it started in; nothing else may depend on the working directory meanwhile.
func Run(root string) []Result {
	var out []Result
	wd, err := os.Getwd()
	if err != nil {
		return nil
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil
	}
	defer os.Chdir(wd)
	for _, ex := range wire.Exchanges() {
		a, err := gateway.Adapter(ex)
		if err != nil {
			continue
		}
		if os.Chdir(filepath.Join(root, "gateway", ex.String())) != nil {
			continue
		}
		path := filepath.Join("testdata", "cases.txt")
		for _, k := range []wire.Kind{wire.KindBBO, wire.KindTrade, wire.KindBookDelta, wire.KindBookSnapshot, wire.KindTicker} {
			var has bool
			testing.Benchmark(func(b *testing.B) { has = len(adaptertest.FramesOfKind(b, a, path, k)) > 0 })
			if !has {
				continue
			}
			r := testing.Benchmark(func(b *testing.B) { adaptertest.BenchParse(b, a, path, k) })
			if r.N == 0 {
				continue
			}
			ns := float64(r.T.Nanoseconds()) / float64(r.N)
			out = append(out, Result{Exchange: ex.String(), Kind: k.String(), NsPerOp: ns, AllocsPerOp: r.AllocsPerOp(), MsgsPerCore: 1e9 / ns})
		}
	}
	return out
}
