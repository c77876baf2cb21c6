// Package normbench measures parse + normalize + encode per exchange and channel, in
// process, with testing.Benchmark: ns/op, allocs/op and msgs/s on one core (one
// goroutine), over each adapter's own testdata frames.
package normbench

import (
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

// Run benchmarks every adapter over the case file in its package directory; root is the
// repository root (for testdata paths).
func Run(root string) []Result {
	var out []Result
	for _, ex := range wire.Exchanges() {
		a, err := gateway.Adapter(ex)
		if err != nil {
			continue
		}
		path := filepath.Join(root, "gateway", ex.String(), adaptertest.Cases)
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
