package adapter

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestISONs(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		want   int64 // 0: error
	}{
		{"2022-10-19T23:28:22.061769Z", 0, 1666222102061769000},
		{"2022-10-19T23:28:22Z", KST, 1666222102000000000},
		{"2022-10-20 08:28:22", KST, 1666222102000000000}, // Bithumb: KST without a zone
		{"2022-10-20T08:28:22+09:00", 0, 1666222102000000000},
		{"2022-10-19T18:28:22.5-0500", 0, 1666222102500000000},
		{"2024-02-29T00:00:00Z", 0, 1709164800000000000},
		{"2016-06-30T12:00:60Z", 0, 1467288060000000000}, // second 60: the next minute, as time.Date
		{"2016-12-31T23:59:60Z", 0, 0},                   // ... which here is the next day: rejected
		{"2023-02-29T00:00:00Z", 0, 0},
		{"2022-04-31T00:00:00Z", 0, 0},
		{"2022-13-01T00:00:00Z", 0, 0},
		{"2008-12-31T23:59:59Z", 0, 0}, // before 2009: out of range
		{"2022-10-19T23:28:22.Z", 0, 0},
		{"2022-10-19", 0, 0},
	}
	for _, tt := range tests {
		got, err := ISONs([]byte(tt.in), tt.offset)
		if tt.want == 0 {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ISONs(%q) = %d, %v; want ErrMalformed", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ISONs(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestCivilDays checks the calendar arithmetic against time.Date for every date of years
// 0 to 9999, including the days past a month's end that time.Date normalizes.
func TestCivilDays(t *testing.T) {
	for y := 0; y <= 9999; y++ {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 31; d++ {
				tm := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
				if valid := tm.Day() == d; valid != (d <= daysIn(y, m)) {
					t.Fatalf("%04d-%02d-%02d: daysIn says valid=%v, time.Date %v", y, m, d, !valid, valid)
				}
				if d <= daysIn(y, m) && civilDays(y, m, d)*86400 != tm.Unix() {
					t.Fatalf("%04d-%02d-%02d: civilDays %d, time.Date %d", y, m, d, civilDays(y, m, d), tm.Unix()/86400)
				}
			}
		}
	}
}

// isoTimeDate is ISONs as it was written with time.Date, kept as FuzzISONs' reference.
func isoTimeDate(b []byte, defaultOffset int) (int64, error) {
	bad := func() (int64, error) { return 0, fmt.Errorf("%w: time %q", ErrMalformed, string(b)) }
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, len(s) > 0
	}
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return bad()
	}
	year, ok1 := num(b[0:4])
	mon, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hh, ok4 := num(b[11:13])
	mm, ok5 := num(b[14:16])
	ss, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return bad()
	}
	rest := b[19:]
	var nanos int64
	if len(rest) > 0 && rest[0] == '.' {
		rest = rest[1:]
		n, scale := int64(0), int64(1e9)
		i := 0
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if scale > 1 {
				scale /= 10
				n += int64(rest[i]-'0') * scale
			}
		}
		if i == 0 {
			return bad()
		}
		nanos, rest = n, rest[i:]
	}
	offset := defaultOffset
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == 'Z':
		offset = 0
	case (rest[0] == '+' || rest[0] == '-') && (len(rest) == 6 && rest[3] == ':' || len(rest) == 5):
		h, okh := num(rest[1:3])
		m, okm := num(rest[len(rest)-2:])
		if !okh || !okm || h > 23 || m > 59 {
			return bad()
		}
		offset = h*3600 + m*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return bad()
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC)
	if t.Day() != day { // 31 February and the like
		return bad()
	}
	return checkTs(t.Unix()*1e9+nanos-int64(offset)*1e9, "ISO", b)
}

func FuzzISONs(f *testing.F) {
	for _, s := range []string{"2022-10-19T23:28:22.061769Z", "2022-10-20 08:28:22", "2024-02-29T00:00:00+09:00",
		"2023-02-29T00:00:00Z", "2099-12-31T23:59:60.999999999-0000", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ISONs([]byte(s), KST)
		want, werr := isoTimeDate([]byte(s), KST)
		if got != want || fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("%q: ISONs = %d, %v; time.Date reference = %d, %v", s, got, err, want, werr)
		}
	})
}
