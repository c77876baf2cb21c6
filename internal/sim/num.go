package sim

import (
	"strconv"
	"time"
)

// numStyle is how an exchange writes a decimal number. All styles append to a caller's
// slice and never allocate.
type numStyle uint8

const (
	// styleTrim: no trailing fractional zeros, no '.' for integers ("30243.5", "43730").
	styleTrim numStyle = iota
	// styleFixed8: always eight fractional digits ("0.35210000"), Binance's habit.
	styleFixed8
	// styleNatural: exactly the instrument's scale ("14.7550" for a 0.0001 tick).
	styleNatural
	// stylePoint0: trimmed, but integers keep ".0" ("127.0"), Upbit's JSON numbers.
	stylePoint0
)

// pow10 holds 10^0..10^18.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// appendDec appends mant × 10^-scale written in style st. scale may be negative (a tick of
// 10 KRW is mant × 10^1). mant must be >= 0.
func appendDec(dst []byte, mant int64, scale int, st numStyle) []byte {
	if scale < 0 {
		mant *= pow10[-scale]
		scale = 0
	}
	want := scale // fractional digits to print
	switch st {
	case styleFixed8:
		if scale < 8 {
			mant *= pow10[8-scale]
			scale, want = 8, 8
		}
	case styleTrim, stylePoint0:
		for want > 0 && mant%pow10[scale-want+1] == 0 {
			want--
		}
	}
	ip, fp := mant/pow10[scale], mant%pow10[scale]
	dst = strconv.AppendInt(dst, ip, 10)
	if want == 0 {
		if st == stylePoint0 {
			dst = append(dst, '.', '0')
		}
		return dst
	}
	dst = append(dst, '.')
	// fp has scale digits; print the first want of them, zero-padded.
	fp /= pow10[scale-want]
	for d := want - 1; d >= 0; d-- {
		dst = append(dst, byte('0'+fp/pow10[d]%10))
	}
	return dst
}

// appendQuoted appends "s" (s must need no escaping: symbols, ids).
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendUint appends v in decimal.
func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// appendInt appends v in decimal.
func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// appendMs appends ns as integer milliseconds.
func appendMs(dst []byte, ns int64) []byte { return strconv.AppendInt(dst, ns/1e6, 10) }

// appendRFC3339Micro appends t (ns since the epoch) as 2006-01-02T15:04:05.000000Z in
// the zone loc (UTC when nil, with "Z"); Coinbase and Kraken write microseconds.
func appendRFC3339Micro(dst []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
}

// kst is Korea Standard Time (UTC+9, no daylight saving), the zone of Bithumb's legacy
// timestamps.
var kst = time.FixedZone("KST", 9*3600)

// appendLower appends s in lower case (ASCII).
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
