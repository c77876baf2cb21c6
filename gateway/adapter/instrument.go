package adapter

import (
	"bytes"
	"fmt"

	"github.com/tickline/tickline/shared/wire"
)

// Quotes lists the quote currencies recognised at the end of a concatenated symbol
// ("NKNUSDT" → NKN-USDT), longest first so that "FDUSD" wins over "USD".
var Quotes = []string{"FDUSD", "USDT", "USDC", "TUSD", "BUSD", "USDE", "DAI", "EUR", "TRY", "BRL",
	"GBP", "JPY", "AUD", "KRW", "USD", "BTC", "ETH", "BNB", "SOL", "XRP", "DOGE"}

// SetInstrument writes the canonical "BASE-QUOTE" name (upper case) into dst.
func SetInstrument(dst *wire.Name, base, quote []byte) error {
	if len(base) == 0 || len(quote) == 0 {
		return fmt.Errorf("%w: empty base or quote in %q-%q", ErrMalformed, string(base), string(quote))
	}
	if len(base)+1+len(quote) > wire.NameLen {
		return fmt.Errorf("%w: instrument %s-%s longer than %d bytes", ErrMalformed, string(base), string(quote), wire.NameLen)
	}
	*dst = wire.Name{}
	n := 0
	for _, part := range [2][]byte{base, quote} {
		if n > 0 {
			dst[n] = '-'
			n++
		}
		for _, c := range part {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return fmt.Errorf("%w: bad character %q in %s-%s", ErrMalformed, c, string(base), string(quote))
			}
			dst[n] = c
			n++
		}
	}
	return nil
}

// InstrumentSep handles "BASE<sep>QUOTE" symbols ("BTC_USDT", "BTC/USD", "BTC-USD",
// "btc_krw"). With quoteFirst it reads "QUOTE<sep>BASE" (Upbit's "KRW-BTC").
func InstrumentSep(dst *wire.Name, sym []byte, sep byte, quoteFirst bool) error {
	i := bytes.IndexByte(sym, sep)
	if i <= 0 || i == len(sym)-1 || bytes.IndexByte(sym[i+1:], sep) >= 0 {
		return fmt.Errorf("%w: symbol %q is not A%cB", ErrMalformed, string(sym), sep)
	}
	a, b := sym[:i], sym[i+1:]
	// Upbit order book depth suffix: "KRW-BTC.5".
	if j := bytes.IndexByte(b, '.'); j > 0 {
		b = b[:j]
	}
	if quoteFirst {
		a, b = b, a
	}
	return SetInstrument(dst, a, b)
}

// InstrumentConcat handles concatenated symbols ("BTCUSDT", "nknusdt") by matching a known
// quote currency at the end.
func InstrumentConcat(dst *wire.Name, sym []byte) error {
	var up [wire.NameLen]byte
	if len(sym) > len(up) {
		return fmt.Errorf("%w: symbol %q too long", ErrMalformed, string(sym))
	}
	for i, c := range sym {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	s := up[:len(sym)]
	for _, q := range Quotes {
		if len(s) > len(q) && string(s[len(s)-len(q):]) == q {
			return SetInstrument(dst, s[:len(s)-len(q)], s[len(s)-len(q):])
		}
	}
	return fmt.Errorf("%w: symbol %q has no known quote currency", ErrMalformed, string(sym))
}
