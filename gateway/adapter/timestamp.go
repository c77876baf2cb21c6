package adapter

import (
	"fmt"
	"time"
)

// Plausible exchange timestamps lie between these (2009-01-01 and 2100-01-01 UTC, in ns):
// anything else is an absurd value (a unit mix-up or garbage) and is rejected.
const (
	minTsNs = 1230768000 * int64(time.Second)
	maxTsNs = 4102444800 * int64(time.Second)
)

// KST is Korea Standard Time's offset from UTC in seconds (no daylight saving).
const KST = 9 * 3600

func checkTs(ns int64, what string, b []byte) (int64, error) {
	if ns < minTsNs || ns > maxTsNs {
		return 0, fmt.Errorf("%w: %s timestamp %q out of range", ErrMalformed, what, string(b))
	}
	return ns, nil
}

// EpochNs converts a decimal epoch timestamp in the given unit to ns since the epoch.
// unit is time.Second, time.Millisecond, time.Microsecond or time.Nanosecond; the text may
// have a fractional part ("1700000000123.456" ms, "1696613755.219022" s), which is kept
// down to the nanosecond.
func EpochNs(b []byte, unit time.Duration) (int64, error) {
	var whole, frac, fracDiv int64 = 0, 0, 1
	i, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if digits == 18 {
			return 0, fmt.Errorf("%w: timestamp %q too long", ErrMalformed, string(b))
		}
		whole = whole*10 + int64(b[i]-'0')
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("%w: timestamp %q", ErrMalformed, string(b))
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if fracDiv < 1e9 { // finer than 1 ns of a second is dropped
				frac = frac*10 + int64(b[i]-'0')
				fracDiv *= 10
			}
		}
	}
	if i != len(b) {
		return 0, fmt.Errorf("%w: timestamp %q", ErrMalformed, string(b))
	}
	u := int64(unit)
	if whole > maxTsNs/u {
		return 0, fmt.Errorf("%w: timestamp %q out of range", ErrMalformed, string(b))
	}
	return checkTs(whole*u+frac*u/fracDiv, "epoch", b)
}

// EpochIntNs converts an integer epoch timestamp in unit to ns, with the same range check.
func EpochIntNs(v int64, unit time.Duration) (int64, error) {
	u := int64(unit)
	if v <= 0 || v > maxTsNs/u {
		return 0, fmt.Errorf("%w: timestamp %d out of range", ErrMalformed, v)
	}
	return checkTs(v*u, "epoch", nil)
}

// ISONs parses "2006-01-02T15:04:05.999999999Z" style times: 'T' or ' ' between date and
// time, up to nine fractional digits, and a zone of 'Z', "+hh:mm", "+hhmm" or none. With no
// zone, defaultOffset (seconds east of UTC, e.g. KST) applies. It does not allocate.
func ISONs(b []byte, defaultOffset int) (int64, error) {
	t, ok := parseISO(b, defaultOffset)
	// 31 February and the like are rejected; so is 23:59:60, which time.Date (used here
	// before) moved to the next day, failing the same check.
	if !ok || t.day > daysIn(t.year, t.mon) || t.hh == 23 && t.mm == 59 && t.ss == 60 {
		return 0, fmt.Errorf("%w: time %q", ErrMalformed, string(b))
	}
	secs := civilDays(t.year, t.mon, t.day)*86400 + int64(t.hh*3600+t.mm*60+t.ss) // = time.Date(...).Unix()
	return checkTs(secs*1e9+t.nanos-int64(t.offset)*1e9, "ISO", b)
}

// isoTime is an ISO time's fields as written (offset in seconds east of UTC).
type isoTime struct {
	year, mon, day, hh, mm, ss, offset int
	nanos                              int64
}

// parseISO reads the layout ISONs accepts, each field in its range (day only up to 31:
// the month's length is ISONs' check); ok is false for anything else.
func parseISO(b []byte, defaultOffset int) (t isoTime, ok bool) {
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
		return t, false
	}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	t.year, ok1 = num(b[0:4])
	t.mon, ok2 = num(b[5:7])
	t.day, ok3 = num(b[8:10])
	t.hh, ok4 = num(b[11:13])
	t.mm, ok5 = num(b[14:16])
	t.ss, ok6 = num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || t.mon < 1 || t.mon > 12 || t.day < 1 || t.day > 31 || t.hh > 23 || t.mm > 59 || t.ss > 60 {
		return t, false
	}
	rest := b[19:]
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
			return t, false
		}
		t.nanos, rest = n, rest[i:]
	}
	t.offset = defaultOffset
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == 'Z':
		t.offset = 0
	case (rest[0] == '+' || rest[0] == '-') && (len(rest) == 6 && rest[3] == ':' || len(rest) == 5):
		h, okh := num(rest[1:3])
		m, okm := num(rest[len(rest)-2:])
		if !okh || !okm || h > 23 || m > 59 {
			return t, false
		}
		t.offset = h*3600 + m*60
		if rest[0] == '-' {
			t.offset = -t.offset
		}
	default:
		return t, false
	}
	return t, true
}

// civilDays returns the number of days from 1970-01-01 to year-mon-day in the proleptic
// Gregorian calendar (Howard Hinnant's days_from_civil): time.Date's arithmetic without
// its normalization and zone handling, a good share of ISONs' cost.
func civilDays(year, mon, day int) int64 {
	y := year
	if mon <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400                             // year of the era, [0, 399]
	doy := (153*((mon+9)%12)+2)/5 + day - 1        // day of the year from 1 March, [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy         // day of the era, [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468 // 719468: 0000-03-01 to 1970-01-01
}

// daysIn returns the number of days in month mon (1-12) of year.
func daysIn(year, mon int) int {
	switch mon {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
