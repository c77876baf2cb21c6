package adapter

import "testing"

// BenchmarkShapeMatch: a Binance bookTicker frame through its Shape (the floor of every
// fast path: go test -bench ShapeMatch ./gateway/adapter).
func BenchmarkShapeMatch(b *testing.B) {
	s := MustShape(`{"stream":"%s","data":{"u":%n,"s":"%s","b":"%s","B":"%s","a":"%s","A":"%s"}}`)
	frame := []byte(`{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"64899.00000000","B":"0.20779600","a":"64900.01000000","A":"0.40000000"}}`)
	var v [7][]byte
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		if !s.Match(frame, v[:]) {
			b.Fatal("no match")
		}
	}
}
