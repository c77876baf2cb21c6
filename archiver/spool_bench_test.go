package archiver

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/config"
)

// BenchmarkSpoolWrite measures one spool write of a 64-record batch (150-byte records, the
// size of a trade) under each fsync policy (archiver.spool_fsync), on the spool directory's
// file system (the test's temporary directory). "interval" runs its sync loop at the
// default 100 ms beside the writer. The ratio to "none" is the policy's cost.
func BenchmarkSpoolWrite(b *testing.B) {
	const perBatch = 64
	record := make([]byte, 150)
	var batch []byte
	for i := range perBatch {
		batch = appendEntry(batch, uint64(i+1), 0, []byte("korea"), record)
	}
	for _, policy := range []string{config.SpoolFsyncNone, config.SpoolFsyncInterval, config.SpoolFsyncBatch} {
		b.Run(policy, func(b *testing.B) {
			sp, _, err := openSpoolSync(b.TempDir(), 1<<40, 64<<20, policy, testkit.Log(b))
			if err != nil {
				b.Fatal(err)
			}
			defer sp.Close()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if policy == config.SpoolFsyncInterval {
				wg.Add(1)
				go func() { defer wg.Done(); sp.syncLoop(ctx, config.DefaultSpoolFsyncEvery) }()
			}
			b.SetBytes(int64(len(batch)))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := sp.Write(batch, perBatch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perBatch)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(sp.syncs.Load()), "fsyncs")
			cancel()
			wg.Wait()
		})
	}
}
