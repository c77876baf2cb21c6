package gwbench

import (
	"context"
	"testing"
	"time"

	"github.com/tickline/tickline/shared/bus"
)

func BenchmarkZZVenue(b *testing.B) {
	c, err := capture(context.Background(), ".", 300, 500*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range sortedVenues(c) {
		b.Run(v, func(b *testing.B) {
			pub, _ := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{}, quiet)
			defer pub.Close()
			p, _ := newPipeline(c, pub)
			var in []*entry
			for i := range c.entries {
				if c.conns[c.entries[i].conn].venue == v {
					in = append(in, &c.entries[i])
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%len(in) == 0 {
					p.reset()
				}
				p.handle(in[i%len(in)])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(p.records), "ns/rec")
		})
	}
}
