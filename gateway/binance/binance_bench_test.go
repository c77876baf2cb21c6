package binance

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// BenchmarkParse: parse+normalize+encode per kind (BenchmarkParse/bbo, ...).
func BenchmarkParse(b *testing.B) {
	adaptertest.BenchKinds(b, New(), wire.KindBBO, wire.KindTrade, wire.KindBookDelta)
}
