package wire

import (
	"errors"
	"math"
	"math/bits"
)

// MaxScale is the largest number of digits after the decimal point a Decimal holds.
const MaxScale = 30

// Decimal is an exact decimal number: mantissa × 10^-scale, with a 96-bit unsigned
// mantissa and a sign. It keeps the scale the exchange wrote ("158201000.00000000" keeps
// its eight zeros), so two Decimals with the same value but different scales are not ==;
// use Cmp to compare values and Canonical for a map key.
//
// The zero value is 0. Decimals are plain values: copying one is free and they never
// allocate.
type Decimal struct {
	lo    uint64
	hi    uint32
	scale uint8
	neg   bool
}

// Decimal errors. Parse errors wrap ErrDecimalSyntax or ErrDecimalRange.
var (
	// ErrDecimalSyntax: the text is not a decimal number (empty, NaN, Inf, stray characters).
	ErrDecimalSyntax = errors.New("wire: invalid decimal syntax")
	// ErrDecimalRange: the number does not fit 96 bits of mantissa and MaxScale digits of scale.
	ErrDecimalRange = errors.New("wire: decimal out of range")
)

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// mul10 returns (hi:lo)*10^k as 128 bits, and false if that overflows 128 bits.
func mul10(hi, lo uint64, k int) (uint64, uint64, bool) {
	for k > 0 {
		step := min(k, 19)
		m := pow10[step]
		h1, l1 := bits.Mul64(lo, m)
		h2, l2 := bits.Mul64(hi, m)
		if h2 != 0 {
			return 0, 0, false
		}
		var c uint64
		h1, c = bits.Add64(h1, l2, 0)
		if c != 0 {
			return 0, 0, false
		}
		hi, lo = h1, l1
		k -= step
	}
	return hi, lo, true
}

// ParseDecimal parses an exchange's decimal text: an optional sign, digits with at most one
// '.', and an optional exponent ("0E-8", "1.5e+3"). It rejects NaN, Inf, empty input and
// values whose mantissa needs more than 96 bits or whose scale exceeds MaxScale. It does not
// allocate.
func ParseDecimal(b []byte) (Decimal, error) {
	if d, ok := parsePlainDecimal(b); ok {
		return d, nil
	}
	return parseDecimal(b)
}

// parsePlainDecimal is ParseDecimal's fast path for what exchanges send on the hot path:
// unsigned digits with at most one '.', no exponent, at most 19 digits (the mantissa fits
// a uint64 without overflow checks). ok is false for anything else, which parseDecimal
// then handles; where ok is true the result is exactly parseDecimal's (FuzzParseDecimal).
func parsePlainDecimal(b []byte) (Decimal, bool) {
	if len(b) > 20 {
		return Decimal{}, false
	}
	var m uint64
	i := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		m = m*10 + uint64(b[i]-'0')
	}
	intDigits, scale := i, 0
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			m = m*10 + uint64(b[i]-'0')
			scale++
		}
	}
	if digits := intDigits + scale; i != len(b) || digits == 0 || digits > 19 {
		return Decimal{}, false
	}
	return Decimal{lo: m, scale: uint8(scale)}, true
}

// parseDecimal is the general ParseDecimal: signs, exponents and mantissas up to 96 bits.
func parseDecimal(b []byte) (Decimal, error) {
	var d Decimal
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		d.neg = b[i] == '-'
		i++
	}
	var hi, lo uint64
	digits, frac := 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' {
			if seenDot {
				return Decimal{}, ErrDecimalSyntax
			}
			seenDot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		if seenDot {
			frac++
		}
		if hi == 0 && lo < 1e18 { // fast path: 19 digits fit a uint64
			lo = lo*10 + uint64(c-'0')
			continue
		}
		var ok bool
		if hi, lo, ok = mul10(hi, lo, 1); !ok {
			return Decimal{}, ErrDecimalRange
		}
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(c-'0'), 0)
		hi += carry
		if hi>>32 != 0 {
			return Decimal{}, ErrDecimalRange
		}
	}
	if digits == 0 {
		return Decimal{}, ErrDecimalSyntax
	}
	scale := frac
	if i < len(b) {
		exp, err := parseExponent(b[i:])
		if err != nil {
			return Decimal{}, err
		}
		scale -= exp
	}
	if scale < 0 {
		h, l, ok := mul10(hi, lo, -scale)
		if !ok || h>>32 != 0 {
			return Decimal{}, ErrDecimalRange
		}
		hi, lo, scale = h, l, 0
	}
	if scale > MaxScale {
		return Decimal{}, ErrDecimalRange
	}
	d.lo, d.hi, d.scale = lo, uint32(hi), uint8(scale)
	if d.lo == 0 && d.hi == 0 {
		d.neg = false
	}
	return d, nil
}

// parseExponent parses a decimal's exponent suffix, b starting at its 'e' or 'E': an
// optional sign and at least one digit, the magnitude at most 1000. It does not allocate.
func parseExponent(b []byte) (int, error) {
	if b[0] != 'e' && b[0] != 'E' {
		return 0, ErrDecimalSyntax
	}
	i := 1
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	if i == len(b) {
		return 0, ErrDecimalSyntax
	}
	exp := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, ErrDecimalSyntax
		}
		exp = exp*10 + int(c-'0')
		if exp > 1000 {
			return 0, ErrDecimalRange
		}
	}
	if neg {
		return -exp, nil
	}
	return exp, nil
}

// ParseDecimalString is ParseDecimal for a string.
func ParseDecimalString(s string) (Decimal, error) {
	// The conversion does not allocate: the compiler passes the string's bytes.
	return ParseDecimal([]byte(s))
}

// MustDecimal parses s and panics on error. For tests and constants only.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimalString(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DecimalFromInt returns the Decimal v × 10^-scale. It returns ErrDecimalRange when scale is
// above MaxScale.
func DecimalFromInt(v int64, scale int) (Decimal, error) {
	if scale < 0 || scale > MaxScale {
		return Decimal{}, ErrDecimalRange
	}
	d := Decimal{scale: uint8(scale)}
	if v < 0 {
		d.neg = true
		d.lo = uint64(-(v + 1)) + 1
	} else {
		d.lo = uint64(v)
	}
	return d, nil
}

// Scale returns the number of digits after the decimal point as written.
func (d Decimal) Scale() int { return int(d.scale) }

// IsZero reports whether the value is zero (at any scale).
func (d Decimal) IsZero() bool { return d.lo == 0 && d.hi == 0 }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.IsZero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// Canonical returns the same value with trailing fractional zeros removed, so that equal
// values compare == (for map keys).
func (d Decimal) Canonical() Decimal {
	if d.IsZero() {
		return Decimal{}
	}
	hi, lo := uint64(d.hi), d.lo
	for d.scale > 0 {
		qh, r1 := bits.Div64(0, hi, 10)
		ql, r := bits.Div64(r1, lo, 10)
		if r != 0 {
			break
		}
		hi, lo = qh, ql
		d.scale--
	}
	d.hi, d.lo = uint32(hi), lo
	return d
}

// Cmp compares values: -1 if d < o, 0 if equal, +1 if d > o. Scales may differ.
func (d Decimal) Cmp(o Decimal) int {
	ds, os := d.Sign(), o.Sign()
	if ds != os {
		if ds < os {
			return -1
		}
		return 1
	}
	if ds == 0 {
		return 0
	}
	c := cmpMag(d, o)
	if ds < 0 {
		return -c
	}
	return c
}

// cmpMag compares |a| and |b|.
func cmpMag(a, b Decimal) int {
	ah, al := uint64(a.hi), a.lo
	bh, bl := uint64(b.hi), b.lo
	switch {
	case a.scale < b.scale:
		var ok bool
		if ah, al, ok = mul10(ah, al, int(b.scale-a.scale)); !ok {
			return 1 // |a| scaled exceeds 2^128 > any 96-bit mantissa
		}
	case b.scale < a.scale:
		var ok bool
		if bh, bl, ok = mul10(bh, bl, int(a.scale-b.scale)); !ok {
			return -1
		}
	}
	switch {
	case ah < bh:
		return -1
	case ah > bh:
		return 1
	case al < bl:
		return -1
	case al > bl:
		return 1
	}
	return 0
}

// Float64 returns the nearest float64 (for analytics and signal maths, never for storage).
func (d Decimal) Float64() float64 {
	m := float64(d.hi)*(1<<64) + float64(d.lo)
	v := m / math.Pow10(int(d.scale))
	if d.neg {
		return -v
	}
	return v
}

// AppendString appends the decimal text (no exponent, with the stored scale) to dst.
func (d Decimal) AppendString(dst []byte) []byte {
	var buf [64]byte
	i := len(buf)
	hi, lo := uint64(d.hi), d.lo
	n := 0
	for hi != 0 || lo != 0 || n <= int(d.scale) {
		var r uint64
		hi, r = bits.Div64(0, hi, 10)
		lo, r = bits.Div64(r, lo, 10)
		i--
		buf[i] = byte('0' + r)
		n++
		if n == int(d.scale) && d.scale > 0 {
			i--
			buf[i] = '.'
		}
	}
	if d.neg {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// String returns the decimal text. It allocates; the hot path uses AppendString.
func (d Decimal) String() string { return string(d.AppendString(nil)) }

// decimalSize is the encoded size of a Decimal.
const decimalSize = 16

// putDecimal writes d's 16-byte wire form: mantissa low u64, mantissa high u32, scale u8,
// sign u8 (0 or 1), two zero bytes.
func putDecimal(b []byte, d Decimal) {
	_ = b[15]
	le.PutUint64(b[0:], d.lo)
	le.PutUint32(b[8:], d.hi)
	b[12] = d.scale
	b[13] = 0
	if d.neg {
		b[13] = 1
	}
	b[14], b[15] = 0, 0
}

// getDecimal reads a 16-byte wire Decimal, rejecting any form putDecimal would not write.
func getDecimal(b []byte) (Decimal, error) {
	_ = b[15]
	d := Decimal{lo: le.Uint64(b[0:]), hi: le.Uint32(b[8:]), scale: b[12]}
	if d.scale > MaxScale || b[13] > 1 || b[14] != 0 || b[15] != 0 {
		return Decimal{}, ErrDecimalRange
	}
	d.neg = b[13] == 1
	if d.neg && d.IsZero() {
		return Decimal{}, ErrDecimalRange
	}
	return d, nil
}
