package arbiter

import (
	"testing"

	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkOffer: two lines, every event offered twice (the second is a duplicate), over
// 30 streams.
func BenchmarkOffer(b *testing.B) {
	a := New(Options{})
	insts := []string{"BTC-USDT", "ETH-USDT", "SOL-USDT"}
	var hs []*wire.Header
	for ex := wire.Binance; ex <= wire.Coinone; ex++ {
		for _, in := range insts {
			hs = append(hs, hdr(ex, wire.KindBBO, in, 0))
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := hs[i%len(hs)]
		h.Seq = uint64(i/len(hs)/2 + 1)
		a.Offer(i&1, h, int64(i))
		i++
	}
}

// BenchmarkOfferContentKey: content keys with exchange time (Upbit books), two lines, one
// event per µs (10M keys would be within the tolerance: the key budget evicts).
func BenchmarkOfferContentKey(b *testing.B) {
	a := New(Options{})
	h := hdr(wire.Upbit, wire.KindBookSnapshot, "BTC-KRW", 0)
	h.Flags = wire.FlagNoSeq
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Seq, h.TsExchange = uint64(i/2+1)*0x9e3779b97f4a7c15, int64(i/2+1)
		a.Offer(i&1, h, int64(i)*500)
		i++
	}
}

// BenchmarkOfferContentOnly: content keys without exchange time (Kraken ticker), two
// lines, an event per ms: 10,000 keys within the tolerance, bounded by maxContentOnly.
func BenchmarkOfferContentOnly(b *testing.B) {
	a := New(Options{})
	h := hdr(wire.Kraken, wire.KindBBO, "BTC-USD", 0)
	h.Flags = wire.FlagNoSeq
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Seq = uint64(i/2+1) * 0x9e3779b97f4a7c15
		a.Offer(i&1, h, int64(i/2)*1_000_000+int64(i&1)*1000)
		i++
	}
}

// BenchmarkOfferSteady: one busy stream at the tolerance's edge (an event per 100 µs: 100k
// keys remembered, one aging out per event), two lines.
func BenchmarkOfferSteady(b *testing.B) {
	a := New(Options{})
	h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Seq = uint64(i/2 + 1)
		a.Offer(i&1, h, int64(i/2)*100_000)
		i++
	}
}

// BenchmarkOfferAtBudget: an event per µs with a 64k-key budget: the stream lives at its
// key budget and forgets early (the replay's scale test found this path quadratic).
func BenchmarkOfferAtBudget(b *testing.B) {
	a := New(Options{MaxKeys: 1 << 16})
	h := hdr(wire.Binance, wire.KindTrade, "BTC-USDT", 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Seq = uint64(i/2 + 1)
		a.Offer(i&1, h, int64(i/2)*1000)
		i++
	}
}
