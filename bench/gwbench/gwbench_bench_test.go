package gwbench

import (
	"context"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/bus"
)

// BenchmarkPipelineMixed replays a captured stream through the pipeline in-process (a
// publisher without subscribers: the encode runs, the socket write does not), for CPU
// profiles of the gateway path: go test -bench Mixed -cpuprofile cpu.out ./bench/gwbench
func BenchmarkPipelineMixed(b *testing.B) {
	c, err := capture(context.Background(), ".", 300, 500*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	pub, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	p, err := newPipeline(c, pub)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := &c.entries[i%len(c.entries)]
		if i%len(c.entries) == 0 {
			p.reset()
		}
		p.handle(e)
	}
	b.ReportMetric(float64(p.records)/b.Elapsed().Seconds(), "records/s")
}
