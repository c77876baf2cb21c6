package adapter

import (
	"fmt"
	"time"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// Fields indexes the one-byte keys of a JSON object ("s", "b", "u", ...) in one pass, for
// exchanges whose hot messages use single-letter keys (Binance): one scan of the object
// instead of one per field. Keys longer than one byte are ignored.
type Fields [128]*fastjson.Value

// Load indexes v's one-byte keys; it returns false when v is not an object.
func (f *Fields) Load(v *fastjson.Value) bool {
	*f = Fields{}
	o, err := v.Object()
	if err != nil {
		return false
	}
	o.Visit(func(k []byte, x *fastjson.Value) {
		if len(k) == 1 && k[0] < 128 {
			f[k[0]] = x
		}
	})
	return true
}

// String returns the bytes of the JSON string v (aliasing the parser's memory).
func String(v *fastjson.Value, field string) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: missing %s", ErrMalformed, field)
	}
	b, err := v.StringBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %s is %s, want string", ErrMalformed, field, v.Type())
	}
	return b, nil
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

// SymbolCache remembers the canonical instrument of each exchange symbol a parser has
// seen, so that the per-message cost is one map lookup instead of a conversion. It is
// bounded (cleared past 4096 symbols) and owned by one parser.
type SymbolCache struct {
	m map[wire.Name]wire.Name
}

// Resolve sets r.Symbol to sym and r.Instrument to conv(sym), cached.
func (c *SymbolCache) Resolve(r *wire.Record, sym []byte, conv func(dst *wire.Name, sym []byte) error) error {
	if err := r.Symbol.Set(sym); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if inst, ok := c.m[r.Symbol]; ok {
		r.Instrument = inst
		return nil
	}
	if err := conv(&r.Instrument, sym); err != nil {
		return err
	}
	if c.m == nil || len(c.m) >= 4096 {
		c.m = make(map[wire.Name]wire.Name, 64)
	}
	c.m[r.Symbol] = r.Instrument
	return nil
}
