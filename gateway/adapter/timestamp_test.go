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

// isoTimeDate is ISONs as it was written with time.Date (its layout reading shared),
// kept as FuzzISONs' reference for the calendar arithmetic that replaced it.
func isoTimeDate(b []byte, defaultOffset int) (int64, error) {
	p, ok := parseISO(b, defaultOffset)
	t := time.Date(p.year, time.Month(p.mon), p.day, p.hh, p.mm, p.ss, 0, time.UTC)
	if !ok || t.Day() != p.day { // 31 February and the like
		return 0, fmt.Errorf("%w: time %q", ErrMalformed, string(b))
	}
	return checkTs(t.Unix()*1e9+p.nanos-int64(p.offset)*1e9, "ISO", b)
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
