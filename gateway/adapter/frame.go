package adapter

import (
	"fmt"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// ParseFrame parses a frame of at most MaxFrameBytes with p (the parser's own
// fastjson.Parser: the value lives until p's next parse). Errors wrap ErrMalformed.
func ParseFrame(p *fastjson.Parser, frame []byte) (*fastjson.Value, error) {
	if len(frame) > MaxFrameBytes {
		return nil, fmt.Errorf("%w: %d-byte frame", ErrMalformed, len(frame))
	}
	v, err := p.ParseBytes(frame)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return v, nil
}

// ParseObject is ParseFrame for venues whose every frame is a JSON object.
func ParseObject(p *fastjson.Parser, frame []byte) (*fastjson.Value, error) {
	v, err := ParseFrame(p, frame)
	if err != nil {
		return nil, err
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%w: frame is %s, want object", ErrMalformed, v.Type())
	}
	return v, nil
}

// Fail drops the half-built last record of out and returns err.
func Fail(out *Batch, err error) error {
	out.Drop()
	return err
}

// Top reads the best level of a side written as [[price, size, ...], ...] at key field of
// o (a BBO channel that sends a one-level book).
func (rd *Reader) Top(o *fastjson.Value, field string) (px, sz wire.Decimal, err error) {
	v := o.Get(field)
	if v == nil {
		return px, sz, fmt.Errorf("%w: missing %s", ErrMalformed, field)
	}
	lv, err := v.Array()
	if err != nil || len(lv) == 0 {
		return px, sz, fmt.Errorf("%w: %s has no level", ErrMalformed, field)
	}
	pair, err := lv[0].Array()
	if err != nil || len(pair) < 2 {
		return px, sz, fmt.Errorf("%w: %s level is not [price, size]", ErrMalformed, field)
	}
	if px, err = rd.Decimal(pair[0], field); err != nil {
		return px, sz, err
	}
	sz, err = rd.Decimal(pair[1], field)
	return px, sz, err
}

// KeyedDecimal is Decimal that also folds the value's text, as the exchange wrote it,
// into the content key h (ContentKey).
func (rd *Reader) KeyedDecimal(v *fastjson.Value, field string, h uint64) (wire.Decimal, uint64, error) {
	d, b, err := rd.DecimalText(v, field)
	return d, ContentKey(h, b), err
}
