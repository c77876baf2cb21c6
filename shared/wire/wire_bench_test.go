package wire

import "testing"

func BenchmarkAppendRecordBBO(b *testing.B) {
	r := samples()["bbo"]
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(r.EncodedSize()))
	for b.Loop() {
		buf, _ = AppendRecord(buf[:0], r)
	}
}

func BenchmarkDecodeRecordBBO(b *testing.B) { benchDecodeRecord(b, samples()["bbo"]) }

func BenchmarkDecodeRecordBook50(b *testing.B) {
	r := samples()["book_snapshot"]
	lv := r.Bids[0]
	r.Bids, r.Asks = make([]Level, 50), make([]Level, 50)
	for i := range r.Bids {
		r.Bids[i], r.Asks[i] = lv, lv
	}
	benchDecodeRecord(b, r)
}

func benchDecodeRecord(b *testing.B, r *Record) {
	enc, _ := AppendRecord(nil, r)
	var out Record
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeRecord(enc, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadHeader(b *testing.B) {
	enc, _ := AppendRecord(nil, samples()["bbo"])
	var h Header
	b.ReportAllocs()
	for b.Loop() {
		if err := ReadHeader(enc, &h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDecimal(b *testing.B) { benchParseDecimal(b, "123456789012.123456789") }

// BenchmarkParseDecimalPlain: a price as exchanges write it (the fast path).
func BenchmarkParseDecimalPlain(b *testing.B) { benchParseDecimal(b, "25.35190000") }

func benchParseDecimal(b *testing.B, s string) {
	in := []byte(s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseDecimal(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecimalAppendString(b *testing.B) {
	d := MustDecimal("123456789012.123456789")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = d.AppendString(buf[:0])
	}
}
