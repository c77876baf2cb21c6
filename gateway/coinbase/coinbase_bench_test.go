package coinbase

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

func BenchmarkParseBBO(b *testing.B)   { adaptertest.BenchParse(b, New(), cases, wire.KindBBO) }
func BenchmarkParseTrade(b *testing.B) { adaptertest.BenchParse(b, New(), cases, wire.KindTrade) }
func BenchmarkParseBook(b *testing.B)  { adaptertest.BenchParse(b, New(), cases, wire.KindBookDelta) }
