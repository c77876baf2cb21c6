package adapter

import (
	"fmt"

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

// SymbolCache remembers the wire names of each exchange symbol a parser has seen: the
// symbol as a wire.Name and its canonical instrument. Per message that is one map lookup
// keyed by the symbol's bytes (no allocation), instead of validating and converting the
// symbol again. It is bounded (cleared past 4096 symbols) and owned by one parser.
type SymbolCache struct {
	m map[string]symbolNames
}

type symbolNames struct{ symbol, instrument wire.Name }

// Resolve sets r.Symbol to sym and r.Instrument to conv(sym), cached. A symbol that fails
// (not a valid wire.Name, or conv's error) is not cached, so it fails the same way again.
func (c *SymbolCache) Resolve(r *wire.Record, sym []byte, conv func(dst *wire.Name, sym []byte) error) error {
	if n, ok := c.m[string(sym)]; ok {
		r.Symbol, r.Instrument = n.symbol, n.instrument
		return nil
	}
	if err := r.Symbol.Set(sym); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := conv(&r.Instrument, sym); err != nil {
		return err
	}
	if c.m == nil || len(c.m) >= 4096 {
		c.m = make(map[string]symbolNames, 64)
	}
	c.m[string(sym)] = symbolNames{r.Symbol, r.Instrument}
	return nil
}
