package adaptertest

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

var wireAppend = wire.AppendRecord

// BenchParse measures parse+normalize+encode of each good frame of path whose first record
// has the given kind, reporting msgs/s and allocs/op.
func BenchParse(b *testing.B, a adapter.Adapter, path string, kind wire.Kind) {
	frames := FramesOfKind(b, a, path, kind)
	if len(frames) == 0 {
		b.Skipf("no %s frames in %s", kind, path)
	}
	p := a.NewParser()
	var out adapter.Batch
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := frames[i%len(frames)]
		i++
		out.Reset()
		if _, err := p.Parse(f, 1, &out); err != nil {
			b.Fatal(err)
		}
		buf = buf[:0]
		for j := 0; j < out.Len(); j++ {
			var err error
			if buf, err = wire.AppendRecord(buf, out.At(j)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// FramesOfKind returns the good frames of path whose first record has the given kind.
func FramesOfKind(tb testing.TB, a adapter.Adapter, path string, kind wire.Kind) [][]byte {
	p := a.NewParser()
	var out adapter.Batch
	var frames [][]byte
	for _, f := range Frames(tb, a, path) {
		out.Reset()
		if _, err := p.Parse(f, 1, &out); err == nil && out.Len() > 0 && out.At(0).Kind == kind {
			frames = append(frames, f)
		}
	}
	return frames
}
