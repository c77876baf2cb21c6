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

func BenchmarkOfferContentKey(b *testing.B) {
	a := New(Options{})
	h := hdr(wire.Upbit, wire.KindBookSnapshot, "BTC-KRW", 0)
	h.Flags = wire.FlagNoSeq
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Seq = uint64(i/2 + 1)
		a.Offer(i&1, h, int64(i))
		i++
	}
}
