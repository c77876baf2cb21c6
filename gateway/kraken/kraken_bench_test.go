package kraken

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkParse: parse+normalize+encode per kind (BenchmarkParse/bbo, ...).
func BenchmarkParse(b *testing.B) {
	adaptertest.BenchKinds(b, New(), wire.KindBBO, wire.KindTrade, wire.KindBookDelta)
}

// BenchmarkChecksum: the CRC32 over a 10×10 book, run after every applied update.
func BenchmarkChecksum(b *testing.B) {
	a := New()
	var bids, asks []wire.Level
	for i := 0; i < 10; i++ {
		bids = append(bids, wire.Level{Price: wire.MustDecimal("45283.5"), Size: wire.MustDecimal("1.54582015")})
		asks = append(asks, wire.Level{Price: wire.MustDecimal("45285.2"), Size: wire.MustDecimal("0.00100000")})
	}
	b.ReportAllocs()
	for b.Loop() {
		a.Checksum(bids, asks)
	}
}
