package archiver

import (
	"encoding/binary"
	"testing"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkHandle measures the handler path per record (header, arbitration, partition,
// spool entry, archive index, one spool write per 64-record batch; spool_fsync none).
func BenchmarkHandle(b *testing.B) {
	gws := []gw{{"gw-a", 1, "korea"}}
	topo := parseTopo(b, topoYAML(gws, []string{"127.0.0.1:1"}, spoolDir(b), "ticks."))
	a, err := New(topo, Options{}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	sp, _, err := openSpool(topo.Archiver.SpoolDir, 1<<40, 0, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	a.spool = sp
	batch := make([]bus.Message, 64)
	for i := range batch {
		v, _ := wire.AppendRecord(nil, trade(event{wire.Binance, wire.KindTrade, "BTC-USDT", uint64(i + 1)}, false))
		batch[i] = bus.Message{Payload: v}
	}
	seq := uint64(0)
	round := func() {
		for i := range batch {
			seq++
			binary.LittleEndian.PutUint64(batch[i].Payload[40:], seq)
		}
		a.handle(batch)
	}
	round()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
}
