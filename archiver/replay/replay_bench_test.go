package replay

import (
	"context"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkReplayMax replays an archive of 300k records (three streams, two partitions)
// from an in-process kfake broker at max speed into a null sink: fetch, decode headers,
// merge, arbitrate, write. Target ≥ 1M records/s. Sub-benchmarks: null-reorder-100ms puts
// each partition in exact event order within a 100 ms window; jsonl-discard adds decoding
// and the JSONL encoder.
func BenchmarkReplayMax(b *testing.B) {
	seeds, topo := newArchive(b, "bench.")
	const perStream = 100_000
	threeStreams(b, seeds, "bench.", perStream)
	total := 3 * perStream
	run := func(b *testing.B, sink func() Sink, reorder time.Duration) {
		b.ReportAllocs()
		b.SetBytes(int64(total) * int64(wire.HeaderSize+32))
		start := time.Now()
		for i := 0; i < b.N; i++ {
			r, err := New(topo, Options{Regions: []string{"korea"}, Reorder: reorder}, sink(), testkit.Log(b))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			if n := r.Stats.Written.Load(); n != int64(total) {
				b.Fatalf("replayed %d of %d", n, total)
			}
		}
		b.ReportMetric(float64(total*b.N)/time.Since(start).Seconds(), "records/s")
	}
	b.Run("null", func(b *testing.B) { run(b, func() Sink { return NullSink{} }, 0) })
	b.Run("null-reorder-100ms", func(b *testing.B) { run(b, func() Sink { return NullSink{} }, 100*time.Millisecond) })
	b.Run("null-reorder-5s-wider-than-queue", func(b *testing.B) { run(b, func() Sink { return NullSink{} }, 5*time.Second) })
	b.Run("jsonl-discard", func(b *testing.B) { run(b, func() Sink { return NewJSONLSink(discard{}) }, 0) })
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
