package archiver

import (
	"testing"
)

// BenchmarkHandle measures the handler path per record (header, arbitration, partition,
// spool entry, archive index, one spool write per 64-record batch; spool_fsync none).
func BenchmarkHandle(b *testing.B) {
	_, round, batchLen := handleRig(b, 1<<40)
	round()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchLen), "ns/record")
}
