package wire

import (
	"errors"
	"math"
	"testing"
)

func TestDecimalRoundTripText(t *testing.T) {
	tests := []struct{ in, out string }{
		{"0.00001234", "0.00001234"},
		{"158201000.00000000", "158201000.00000000"},
		{"0E-8", "0.00000000"},
		{"123456789012.123456789", "123456789012.123456789"},
		{"0", "0"},
		{"-0", "0"},
		{"-1.5", "-1.5"},
		{"+42", "42"},
		{".5", "0.5"},
		{"5.", "5"},
		{"1.5e3", "1500"},
		{"1.5E+3", "1500"},
		{"2.5e-3", "0.0025"},
		{"79228162514264337593543950335", "79228162514264337593543950335"}, // 2^96-1
		{"0.000000000000000000000000000001", "0.000000000000000000000000000001"},
		{"00012.3400", "12.3400"},
	}
	for _, tt := range tests {
		d, err := ParseDecimalString(tt.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.out {
			t.Errorf("ParseDecimal(%q).String() = %q, want %q", tt.in, got, tt.out)
		}
		// And through the 16-byte wire form.
		var b [16]byte
		putDecimal(b[:], d)
		back, err := getDecimal(b[:])
		if err != nil || back != d {
			t.Errorf("wire round trip of %q: %v, %v", tt.in, back, err)
		}
	}
}

func TestDecimalRejects(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrDecimalSyntax},
		{"NaN", ErrDecimalSyntax},
		{"nan", ErrDecimalSyntax},
		{"Inf", ErrDecimalSyntax},
		{"-Infinity", ErrDecimalSyntax},
		{"1.2.3", ErrDecimalSyntax},
		{"1e", ErrDecimalSyntax},
		{"1e+", ErrDecimalSyntax},
		{"12a", ErrDecimalSyntax},
		{".", ErrDecimalSyntax},
		{"-", ErrDecimalSyntax},
		{"1 ", ErrDecimalSyntax},
		{"79228162514264337593543950336", ErrDecimalRange}, // 2^96
		{"1e29", ErrDecimalRange},
		{"1e-31", ErrDecimalRange},
		{"1e99999", ErrDecimalRange},
		{"0.0000000000000000000000000000001", ErrDecimalRange},
		{"999999999999999999999999999999999999999", ErrDecimalRange},
	}
	for _, tt := range tests {
		_, err := ParseDecimalString(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseDecimal(%q) error = %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestDecimalCmpCanonicalFloat(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1", 0},
		{"158201000.00000000", "158201000", 0},
		{"0E-8", "0", 0},
		{"0.1", "0.09", 1},
		{"-0.1", "0.09", -1},
		{"-0.1", "-0.09", -1},
		{"79228162514264337593543950335", "0.000000000000000000000000000001", 1},
		{"0.000000000000000000000000000001", "79228162514264337593543950335", -1},
		{"123456789012.123456789", "123456789012.12345679", -1},
	}
	for _, tt := range tests {
		a, b := MustDecimal(tt.a), MustDecimal(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		if (a.Canonical() == b.Canonical()) != (tt.want == 0) {
			t.Errorf("Canonical(%s) == Canonical(%s) disagrees with Cmp", tt.a, tt.b)
		}
	}
	if got := MustDecimal("158201000.00000000").Canonical().String(); got != "158201000" {
		t.Errorf("Canonical = %s", got)
	}
	if f := MustDecimal("0.00001234").Float64(); math.Abs(f-0.00001234) > 1e-18 {
		t.Errorf("Float64 = %v", f)
	}
	if f := MustDecimal("-2.5").Float64(); f != -2.5 {
		t.Errorf("Float64 = %v", f)
	}
}

func TestDecimalFromInt(t *testing.T) {
	d, err := DecimalFromInt(-12345, 2)
	if err != nil || d.String() != "-123.45" {
		t.Fatalf("DecimalFromInt = %s, %v", d, err)
	}
	d, _ = DecimalFromInt(math.MinInt64, 0)
	if d.String() != "-9223372036854775808" {
		t.Fatalf("MinInt64 = %s", d)
	}
	if _, err := DecimalFromInt(1, MaxScale+1); !errors.Is(err, ErrDecimalRange) {
		t.Fatalf("scale over max: %v", err)
	}
}

func TestDecimalZeroAlloc(t *testing.T) {
	in := []byte("123456789012.123456789")
	buf := make([]byte, 0, 64)
	var sink Decimal
	n := testing.AllocsPerRun(100, func() {
		d, err := ParseDecimal(in)
		if err != nil {
			t.Fatal(err)
		}
		buf = d.AppendString(buf[:0])
		sink = d
	})
	if n != 0 {
		t.Fatalf("ParseDecimal+AppendString allocates %v times", n)
	}
	_ = sink
}

// FuzzParseDecimal: parsing never panics, the fast path agrees with the general parser,
// and whatever parses prints to text that parses back to the identical Decimal.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.00001234", "158201000.00000000", "0E-8", "123456789012.123456789",
		"-1.5e-3", "NaN", "1e99999", "79228162514264337593543950335", "", ".", "5.", ".5", "1..2",
		"9999999999999999999", "99999999999999999999", "999999999.9999999999", "18446744073709551616"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimalString(s)
		if ref, refErr := parseDecimal([]byte(s)); d != ref || err != refErr {
			t.Fatalf("%q: ParseDecimal = %#v, %v; general parser = %#v, %v", s, d, err, ref, refErr)
		}
		if err != nil {
			return
		}
		text := d.String()
		back, err := ParseDecimalString(text)
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", s, text, err)
		}
		if back != d {
			t.Fatalf("%q -> %q -> %#v, want %#v", s, text, back, d)
		}
	})
}
