package adapter

import (
	"fmt"
	"time"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Reader reads typed fields out of fastjson values without allocating. It owns scratch
// memory for number texts, so each Parser keeps one Reader and uses it from its goroutine.
type Reader struct {
	scratch []byte
}

// Raw returns the exact text of a JSON string or number value without allocating: the
// string's bytes, or the number as the exchange wrote it (valid until the next call).
// Other types are ErrMalformed.
func (rd *Reader) Raw(v *fastjson.Value) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: missing value", ErrMalformed)
	}
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return b, nil
	case fastjson.TypeNumber:
		rd.scratch = v.MarshalTo(rd.scratch[:0])
		return rd.scratch, nil
	}
	return nil, fmt.Errorf("%w: want string or number, got %s", ErrMalformed, v.Type())
}

// Decimal reads an exact decimal from a JSON string ("0.001") or number (0.001) value,
// keeping the digits as written. It rejects NaN, Inf and negative values (prices and sizes
// are never negative).
func (rd *Reader) Decimal(v *fastjson.Value, field string) (wire.Decimal, error) {
	d, _, err := rd.DecimalText(v, field)
	return d, err
}

// DecimalText is Decimal that also returns the value's text (valid until the next call),
// for content keys hashed over the exchange's own text.
func (rd *Reader) DecimalText(v *fastjson.Value, field string) (wire.Decimal, []byte, error) {
	b, err := rd.Raw(v)
	if err != nil {
		return wire.Decimal{}, nil, fmt.Errorf("%s: %w", field, err)
	}
	d, err := ParseDecimal(b, field)
	return d, b, err
}

// ParseDecimal parses the text b of field as a non-negative exact decimal, with
// Reader.Decimal's errors.
func ParseDecimal(b []byte, field string) (wire.Decimal, error) {
	d, err := wire.ParseDecimal(b)
	if err != nil {
		return wire.Decimal{}, fmt.Errorf("%w: %s %q: %w", ErrMalformed, field, string(b), err)
	}
	if d.Sign() < 0 {
		return wire.Decimal{}, fmt.Errorf("%w: %s %q is negative", ErrMalformed, field, string(b))
	}
	return d, nil
}

// DecimalAt is Decimal(o.Get(key), key).
func (rd *Reader) DecimalAt(o *fastjson.Value, key string) (wire.Decimal, error) {
	return rd.Decimal(o.Get(key), key)
}

// Uint reads a non-negative integer id from a JSON number or a string of digits.
func (rd *Reader) Uint(v *fastjson.Value, field string) (uint64, error) {
	b, err := rd.Raw(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	n, ok := ParseID(b)
	if !ok {
		return 0, fmt.Errorf("%w: %s %q is not an unsigned integer", ErrMalformed, field, string(b))
	}
	return n, nil
}

// UintAt is Uint(o.Get(key), key).
func (rd *Reader) UintAt(o *fastjson.Value, key string) (uint64, error) {
	return rd.Uint(o.Get(key), key)
}

// Epoch reads an epoch timestamp (number or string, possibly fractional) in unit from v.
func (rd *Reader) Epoch(v *fastjson.Value, field string, unit time.Duration) (int64, error) {
	b, err := rd.Raw(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	ns, err := EpochNs(b, unit)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return ns, nil
}

// EpochAt reads an epoch timestamp (number or string, possibly fractional) in unit at key.
func (rd *Reader) EpochAt(o *fastjson.Value, key string, unit time.Duration) (int64, error) {
	return rd.Epoch(o.Get(key), key, unit)
}

// StringAt is String(o.Get(key), key): the bytes of the JSON string at key (aliasing the
// parser's memory).
func StringAt(o *fastjson.Value, key string) ([]byte, error) {
	return String(o.Get(key), key)
}

// LevelList returns the levels of the book side named field (v its value): missing, not
// an array, or more than wire.MaxLevels levels is ErrMalformed.
func LevelList(v *fastjson.Value, field string) ([]*fastjson.Value, error) {
	return boundedList(v, field, "levels")
}

// ArrayAt returns the JSON array at key of o (a list of trades, of book units), with
// LevelList's rules: at most wire.MaxLevels entries.
func ArrayAt(o *fastjson.Value, key string) ([]*fastjson.Value, error) {
	return boundedList(o.Get(key), key, "entries")
}

// boundedList returns the JSON array v of field, of at most wire.MaxLevels elements
// (what they are, for the error); missing or not an array is ErrMalformed.
func boundedList(v *fastjson.Value, field, what string) ([]*fastjson.Value, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: missing %s", ErrMalformed, field)
	}
	arr, err := v.Array()
	if err != nil {
		return nil, fmt.Errorf("%w: %s is %s, want array", ErrMalformed, field, v.Type())
	}
	if len(arr) > wire.MaxLevels {
		return nil, fmt.Errorf("%w: %s has %d %s", ErrMalformed, field, len(arr), what)
	}
	return arr, nil
}

// LevelPair returns the elements of a level of side field written [price, size, ...].
func LevelPair(lv *fastjson.Value, field string) ([]*fastjson.Value, error) {
	pair, err := lv.Array()
	if err != nil || len(pair) < 2 {
		return nil, fmt.Errorf("%w: %s level is not [price, size]", ErrMalformed, field)
	}
	return pair, nil
}

// LevelObject checks that a level of side field is an object ({"price","qty"} and the
// like).
func LevelObject(lv *fastjson.Value, field string) error {
	if lv.Type() != fastjson.TypeObject {
		return fmt.Errorf("%w: %s level is %s, want {price, qty}", ErrMalformed, field, lv.Type())
	}
	return nil
}

// Levels appends [price, size] pairs from a JSON array of arrays (["p","s"] or [p, s, ...]
// with extra elements ignored) to dst.
func (rd *Reader) Levels(dst []wire.Level, v *fastjson.Value, field string) ([]wire.Level, error) {
	arr, err := LevelList(v, field)
	if err != nil {
		return dst, err
	}
	for _, lv := range arr {
		pair, err := LevelPair(lv, field)
		if err != nil {
			return dst, err
		}
		p, err := rd.Decimal(pair[0], field)
		if err != nil {
			return dst, err
		}
		s, err := rd.Decimal(pair[1], field)
		if err != nil {
			return dst, err
		}
		dst = append(dst, wire.Level{Price: p, Size: s})
	}
	return dst, nil
}

// Book reads both sides of a book written as arrays of [price, size] pairs (Levels) into
// r: the bids at key bids of o, then the asks at key asks.
func (rd *Reader) Book(r *wire.Record, o *fastjson.Value, bids, asks string) error {
	var err error
	if r.Bids, err = rd.Levels(r.Bids, o.Get(bids), bids); err != nil {
		return err
	}
	r.Asks, err = rd.Levels(r.Asks, o.Get(asks), asks)
	return err
}

// KeyedLevels is Levels that also folds every price and size text, as the exchange wrote
// it, into the content key h.
func (rd *Reader) KeyedLevels(dst []wire.Level, v *fastjson.Value, field string, h uint64) ([]wire.Level, uint64, error) {
	arr, err := LevelList(v, field)
	if err != nil {
		return dst, h, err
	}
	for _, lv := range arr {
		pair, err := LevelPair(lv, field)
		if err != nil {
			return dst, h, err
		}
		var l wire.Level
		if l.Price, h, err = rd.KeyedDecimal(pair[0], field, h); err != nil {
			return dst, h, err
		}
		if l.Size, h, err = rd.KeyedDecimal(pair[1], field, h); err != nil {
			return dst, h, err
		}
		dst = append(dst, l)
	}
	return dst, h, nil
}

// ParseID parses decimal digits into a uint64, rejecting empty input, signs, fractions
// and overflow, without an error value (for ids that may legitimately not be numbers).
func ParseID(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// FNVOffset64 starts an FNV-1a 64 hash (FNV64a).
const FNVOffset64 = 14695981039346656037

// FNV64a folds b into the FNV-1a 64 hash h. Content keys for FlagNoSeq records are built
// with it from message fields only, so every gateway computes the same key.
func FNV64a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// ContentKey folds one field's text and a separator byte (0xff, never in ASCII text) into
// h, an FNV-1a 64 content key started at FNVOffset64: the key of a record the exchange
// gives no id for, built from message fields only.
func ContentKey(h uint64, b []byte) uint64 {
	return (FNV64a(h, b) ^ 0xff) * 1099511628211
}

// ContentKeyNUL is ContentKey with a 0x00 separator instead of 0xff: Gate's ticker key,
// as its tests compute it independently. A different key from ContentKey for the same
// fields, on purpose: it must stay what it is, bit for bit.
func ContentKeyNUL(h uint64, b []byte) uint64 {
	return FNV64a(h, b) * 1099511628211 // (h' ^ 0x00) * prime
}

// ISOAt reads the ISO-8601 / RFC 3339 time string at key of o (ISONs, UTC unless it says
// otherwise), returning its text too (for content keys); a missing key is 0 unless
// required.
func ISOAt(o *fastjson.Value, key string, required bool) (int64, []byte, error) {
	v := o.Get(key)
	if v == nil && !required {
		return 0, nil, nil
	}
	b, err := String(v, key)
	if err != nil {
		return 0, nil, err
	}
	ns, err := ISONs(b, 0)
	return ns, b, err
}
