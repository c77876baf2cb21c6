package wire

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current encoder")

func name(s string) Name {
	var n Name
	if err := n.SetString(s); err != nil {
		panic(err)
	}
	return n
}

// samples returns one record of every kind, with values that exercise the decimal edge
// cases the issue names.
func samples() map[string]*Record {
	base := Record{Exchange: Binance, GatewayID: 7, GatewaySeq: 1234567, TsExchange: 1732147200123000000,
		TsRecv: 1732147200123456789, Seq: 51234567890, Instrument: name("BTC-USDT"), Symbol: name("BTCUSDT")}
	bbo := base
	bbo.Kind = KindBBO
	bbo.BidPx, bbo.BidSz = MustDecimal("158201000.00000000"), MustDecimal("0.00001234")
	bbo.AskPx, bbo.AskSz = MustDecimal("123456789012.123456789"), MustDecimal("0E-8")
	trade := base
	trade.Kind, trade.Side = KindTrade, SideSell
	trade.Exchange, trade.Instrument, trade.Symbol = Coinbase, name("BTC-USD"), name("BTC-USD")
	trade.Price, trade.Size = MustDecimal("97000.01"), MustDecimal("0.5")
	ticker := base
	ticker.Kind, ticker.Flags = KindTicker, FlagNoSeq
	ticker.Exchange, ticker.Instrument, ticker.Symbol = Upbit, name("BTC-KRW"), name("KRW-BTC")
	ticker.Price, ticker.Size = MustDecimal("143250000"), MustDecimal("0.0012")
	snap := base
	snap.Kind, snap.SeqFirst = KindBookSnapshot, 0
	snap.Exchange, snap.Instrument, snap.Symbol = Kraken, name("BTC-USD"), name("BTC/USD")
	snap.Bids = []Level{{MustDecimal("97000.1"), MustDecimal("1.25")}, {MustDecimal("96999.9"), MustDecimal("0.004")}}
	snap.Asks = []Level{{MustDecimal("97000.2"), MustDecimal("3")}}
	delta := base
	delta.Kind, delta.SeqFirst, delta.Flags = KindBookDelta, 51234567801, FlagBookInvalid
	delta.Bids = []Level{{MustDecimal("97000.10000000"), MustDecimal("0.00000000")}}
	status := base
	status.Kind, status.Status, status.Expected, status.Got = KindStatus, StatusGap, 100, 105
	status.Instrument, status.Symbol = Name{}, Name{}
	status.Exchange = OKX
	return map[string]*Record{"bbo": &bbo, "trade": &trade, "ticker": &ticker,
		"book_snapshot": &snap, "book_delta": &delta, "status": &status}
}

func TestRecordRoundTrip(t *testing.T) {
	for kind, r := range samples() {
		b, err := AppendRecord(nil, r)
		if err != nil {
			t.Fatalf("%s: encode: %v", kind, err)
		}
		if len(b) != r.EncodedSize() {
			t.Fatalf("%s: encoded %d bytes, EncodedSize says %d", kind, len(b), r.EncodedSize())
		}
		var got Record
		n, err := DecodeRecord(b, &got)
		if err != nil || n != len(b) {
			t.Fatalf("%s: decode: n=%d err=%v", kind, n, err)
		}
		normalize(&got)
		normalize(r)
		if !reflect.DeepEqual(&got, r) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", kind, got, *r)
		}
	}
}

// normalize turns empty level slices into nil so that DeepEqual compares values only.
func normalize(r *Record) {
	if len(r.Bids) == 0 {
		r.Bids = nil
	}
	if len(r.Asks) == 0 {
		r.Asks = nil
	}
}

// TestGolden pins the byte layout: a change to the format fails here unless the golden files
// are rewritten on purpose (go test ./shared/wire -run TestGolden -update) with a Version bump.
func TestGolden(t *testing.T) {
	for kind, r := range samples() {
		b, err := AppendRecord(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", kind+".golden")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update to create)", kind, err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: encoding differs from %s\n got %x\nwant %x", kind, path, b, want)
		}
		var got Record
		if _, err := DecodeRecord(want, &got); err != nil {
			t.Errorf("%s: golden does not decode: %v", kind, err)
		}
	}
}

func TestGoldenLayoutOffsets(t *testing.T) {
	// Spot-check fixed offsets against the package doc, independently of the encoder.
	b, err := os.ReadFile("testdata/bbo.golden")
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 1 || b[1] != byte(KindBBO) || b[8] != byte(Binance) {
		t.Fatalf("header bytes % x", b[:10])
	}
	if le.Uint32(b[4:]) != uint32(len(b)) || len(b) != 152 {
		t.Fatalf("length field %d, file %d", le.Uint32(b[4:]), len(b))
	}
	if string(b[56:64]) != "BTC-USDT" || string(b[72:79]) != "BTCUSDT" {
		t.Fatalf("names %q %q", b[56:72], b[72:88])
	}
	// bid px 158201000.00000000 = 15820100000000000 scale 8
	if le.Uint64(b[88:]) != 15820100000000000 || b[88+12] != 8 {
		t.Fatalf("bid px bytes % x", b[88:104])
	}
}

func TestConcatenatedRecords(t *testing.T) {
	var buf []byte
	s := samples()
	order := []string{"bbo", "book_snapshot", "status", "trade"}
	for _, k := range order {
		var err error
		if buf, err = AppendRecord(buf, s[k]); err != nil {
			t.Fatal(err)
		}
	}
	var r Record
	for i := 0; len(buf) > 0; i++ {
		n, err := DecodeRecord(buf, &r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind.String() != order[i] {
			t.Fatalf("record %d is %s, want %s", i, r.Kind, order[i])
		}
		buf = buf[n:]
	}
}

func TestEncodeRejects(t *testing.T) {
	s := samples()
	mut := []struct {
		name string
		f    func(r *Record)
	}{
		{"kind", func(r *Record) { r.Kind = 99 }},
		{"exchange", func(r *Record) { r.Exchange = 0 }},
		{"flags", func(r *Record) { r.Flags = 1 << 15 }},
		{"status", func(r *Record) { r.Kind, r.Status = KindStatus, 0 }},
		{"side", func(r *Record) { r.Kind, r.Side = KindTrade, 9 }},
		{"levels on bbo", func(r *Record) { r.Bids = []Level{{}} }},
		{"too many levels", func(r *Record) { r.Kind, r.Bids = KindBookDelta, make([]Level, MaxLevels+1) }},
		{"instrument", func(r *Record) { r.Instrument[0] = ' ' }},
	}
	for _, m := range mut {
		r := *s["bbo"]
		m.f(&r)
		out, err := AppendRecord([]byte("x"), &r)
		if !errors.Is(err, ErrRange) {
			t.Errorf("%s: err = %v, want ErrRange", m.name, err)
		}
		if string(out) != "x" {
			t.Errorf("%s: dst changed on error", m.name)
		}
	}
	var n Name
	if err := n.SetString("THIS-NAME-IS-TOO-LONG"); !errors.Is(err, ErrRange) {
		t.Errorf("long name: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := AppendRecord(nil, samples()["book_snapshot"])
	mut := []struct {
		name string
		f    func(b []byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:40] }},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }},
		{"version", func(b []byte) []byte { b[0] = 2; return b }},
		{"kind", func(b []byte) []byte { b[1] = 0; return b }},
		{"flags", func(b []byte) []byte { b[3] = 0x80; return b }},
		{"length", func(b []byte) []byte { le.PutUint32(b[4:], uint32(len(b)-32)); return b }},
		{"exchange", func(b []byte) []byte { b[8] = 200; return b }},
		{"aux", func(b []byte) []byte { b[9] = 1; return b }},
		{"level count", func(b []byte) []byte { b[12] = 9; return b }},
		{"name padding", func(b []byte) []byte { b[70] = 'X'; return b }},
		{"decimal scale", func(b []byte) []byte { b[HeaderSize+12] = MaxScale + 1; return b }},
		{"decimal sign", func(b []byte) []byte { b[HeaderSize+13] = 2; return b }},
		{"decimal reserved", func(b []byte) []byte { b[HeaderSize+15] = 1; return b }},
	}
	for _, m := range mut {
		b := m.f(append([]byte(nil), good...))
		var r Record
		if _, err := DecodeRecord(b, &r); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: err = %v, want ErrMalformed", m.name, err)
		}
	}
}

func TestStampAndTopic(t *testing.T) {
	r := samples()["bbo"]
	b, _ := AppendRecord(nil, r)
	if err := Stamp(b, 3, 99, 42); err != nil {
		t.Fatal(err)
	}
	var h Header
	if err := ReadHeader(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.GatewayID != 3 || h.GatewaySeq != 99 || h.TsRecv != 42 || h.Seq != r.Seq {
		t.Fatalf("header after stamp: %+v", h)
	}
	if got := string(AppendTopic(nil, h.Kind, h.Exchange, &h.Instrument)); got != "bbo.binance.BTC-USDT" {
		t.Fatalf("topic %q", got)
	}
	var empty Name
	if got := string(AppendTopic(nil, KindStatus, OKX, &empty)); got != "status.okx" {
		t.Fatalf("topic %q", got)
	}
}

func TestZeroAllocs(t *testing.T) {
	s := samples()
	buf := make([]byte, 0, 4096)
	var r Record
	var h Header
	topic := make([]byte, 0, 64)
	for kind, in := range s {
		// Warm the decoder's level slices once; steady state must not allocate.
		b, _ := AppendRecord(buf[:0], in)
		if _, err := DecodeRecord(b, &r); err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(200, func() {
			b, err := AppendRecord(buf[:0], in)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeRecord(b, &r); err != nil {
				t.Fatal(err)
			}
			if err := ReadHeader(b, &h); err != nil {
				t.Fatal(err)
			}
			topic = AppendTopic(topic[:0], h.Kind, h.Exchange, &h.Instrument)
		})
		if n != 0 {
			t.Errorf("%s: encode+decode allocates %v times per record", kind, n)
		}
	}
}

// FuzzDecodeRecord: decoding arbitrary bytes never panics, and whatever decodes re-encodes to
// exactly the same bytes (one encoding per record).
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range samples() {
		b, _ := AppendRecord(nil, r)
		f.Add(b)
		f.Add(b[:len(b)/2]) // split input
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		n, err := DecodeRecord(b, &r)
		if err != nil {
			return
		}
		out, err := AppendRecord(nil, &r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v (%+v)", err, r)
		}
		if !bytes.Equal(out, b[:n]) {
			t.Fatalf("encode(decode(b)) != b\n got %x\nwant %x", out, b[:n])
		}
	})
}

// TestAccessorsMatchDecode: ExchangeOf and InstrumentOf read what ReadHeader reads.
func TestAccessorsMatchDecode(t *testing.T) {
	for _, inst := range []string{"BTC-USDT", "A", "ABCDEFGHIJKLMNOP", ""} {
		r := Record{Kind: KindTrade, Exchange: Upbit, Side: SideBuy}
		if inst != "" {
			r.Instrument.SetString(inst)
		}
		b, err := AppendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		if ExchangeOf(b) != Upbit || string(InstrumentOf(b)) != inst {
			t.Fatalf("%q: exchange %v instrument %q", inst, ExchangeOf(b), InstrumentOf(b))
		}
		if got := InstrumentOf(b); got != nil && cap(got) != len(got) {
			t.Fatal("instrument slice can grow into the record")
		}
	}
	if ExchangeOf(make([]byte, HeaderSize-1)) != 0 || InstrumentOf(make([]byte, 3)) != nil {
		t.Fatal("short input")
	}
	if int(kindMax) >= KindCount {
		t.Fatal("KindCount does not cover every kind")
	}
}

// TestKindOfAndSetFlags: KindOf reads and SetFlags writes what ReadHeader reads.
func TestKindOfAndSetFlags(t *testing.T) {
	for _, k := range []Kind{KindBBO, KindBookSnapshot, KindBookDelta} {
		r := Record{Kind: k, Exchange: Kraken, Flags: FlagNoSeq}
		b, err := AppendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		if KindOf(b) != k {
			t.Fatalf("KindOf = %v, want %v", KindOf(b), k)
		}
		SetFlags(b, FlagNoSeq|FlagReplay)
		var h Header
		if err := ReadHeader(b, &h); err != nil || h.Flags != FlagNoSeq|FlagReplay || h.Kind != k {
			t.Fatalf("%v: flags %v kind %v, err %v", k, h.Flags, h.Kind, err)
		}
	}
	if KindOf(make([]byte, HeaderSize-1)) != 0 {
		t.Fatal("KindOf of a short record is not 0")
	}
}

func TestSetGatewaySeq(t *testing.T) {
	r := Record{Kind: KindTrade, Exchange: OKX, GatewaySeq: 5, Side: SideSell}
	b, err := AppendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	SetGatewaySeq(b, 1<<40+3)
	var h Header
	if err := ReadHeader(b, &h); err != nil || h.GatewaySeq != 1<<40+3 {
		t.Fatalf("gateway seq %d, err %v", h.GatewaySeq, err)
	}
}

func TestSetFlags(t *testing.T) {
	r := Record{Kind: KindTrade, Exchange: OKX, Flags: FlagNoSeq, Side: SideSell}
	b, err := AppendRecord(nil, &r)
	if err != nil {
		t.Fatal(err)
	}
	SetFlags(b, FlagNoSeq|FlagReplay)
	var got Record
	if _, err := DecodeRecord(b, &got); err != nil || got.Flags != FlagNoSeq|FlagReplay {
		t.Fatalf("flags %#x, err %v", uint16(got.Flags), err)
	}
	if got.Kind != r.Kind || got.Exchange != r.Exchange || got.Side != r.Side {
		t.Fatalf("SetFlags changed more than the flags: %+v", got)
	}
}
