package sim

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
)

// instrument is a canonical BASE-QUOTE pair ("BTC-USDT"), upper case.
type instrument struct{ base, quote string }

func (i instrument) String() string { return i.base + "-" + i.quote }

// quotes are the quote currencies recognised at the end of a concatenated symbol
// ("BTCUSDT"), longest first.
var quotes = []string{"FDUSD", "USDT", "USDC", "BUSD", "EUR", "GBP", "KRW", "USD", "BTC", "ETH", "BNB"}

// splitConcat maps "BTCUSDT" (any case) to BTC-USDT.
func splitConcat(s string) (instrument, bool) {
	s = strings.ToUpper(s)
	for _, q := range quotes {
		if len(s) > len(q) && strings.HasSuffix(s, q) {
			return mkInstrument(s[:len(s)-len(q)], q)
		}
	}
	return instrument{}, false
}

// splitSep maps "BTC<sep>USDT" to BTC-USDT; with quoteFirst "KRW-BTC" is BTC-KRW.
func splitSep(s string, sep byte, quoteFirst bool) (instrument, bool) {
	i := strings.IndexByte(s, sep)
	if i <= 0 || i == len(s)-1 || strings.IndexByte(s[i+1:], sep) >= 0 {
		return instrument{}, false
	}
	a, b := strings.ToUpper(s[:i]), strings.ToUpper(s[i+1:])
	if quoteFirst {
		a, b = b, a
	}
	return mkInstrument(a, b)
}

// mkInstrument validates base and quote: A-Z0-9, at most 10 characters, and a quote the
// model can price.
func mkInstrument(base, quote string) (instrument, bool) {
	if !alnum(base) || !alnum(quote) || len(base) > 10 || base == quote {
		return instrument{}, false
	}
	if _, ok := quoteUSD[quote]; !ok {
		if _, ok := basePrices[quote]; !ok {
			return instrument{}, false
		}
	}
	return instrument{base, quote}, true
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// basePrices are starting USD prices of well-known assets; any other base starts at a
// price derived from its name (deterministic).
var basePrices = map[string]float64{
	"BTC": 65000, "ETH": 3200, "SOL": 150, "XRP": 0.55, "DOGE": 0.15, "BNB": 580,
	"ADA": 0.45, "USDT": 1, "USDC": 1, "TRX": 0.12, "LINK": 14, "DOT": 6.5, "AVAX": 28,
}

// quoteUSD values fiat and stable quotes in USD; KRW is handled by the FX rate.
var quoteUSD = map[string]float64{"USD": 1, "USDT": 1, "USDC": 1, "FDUSD": 1, "BUSD": 1, "EUR": 1.08, "GBP": 1.27, "KRW": 0}

// hash64 mixes a seed with names into a stream seed.
func hash64(seed uint64, parts ...string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0xff})
	}
	return h.Sum64()
}

// asset is the common factor of one base asset: its log USD price follows a random walk
// shared by every exchange and quote.
type asset struct {
	rng  *rand.Rand
	logp float64
}

// model is the seeded market: common factors per asset, an FX rate for KRW, and one book
// per (exchange, instrument). It is not safe for concurrent use: the Server guards it
// with its model lock; tests drive it directly.
type model struct {
	seed   uint64
	depth  int     // default levels per side
	vol    float64 // common-factor volatility per sqrt(second), fraction
	fx     float64 // KRW per USD(T)
	assets map[string]*asset
	books  map[bookKey]*book
	order  []*book // creation order: the generator's iteration order (deterministic)
	events uint64  // events generated so far
}

type bookKey struct {
	ex   string
	inst instrument
}

func newModel(seed uint64, depth int, fx float64) *model {
	return &model{seed: seed, depth: depth, vol: 0.0005, fx: fx,
		assets: make(map[string]*asset), books: make(map[bookKey]*book)}
}

func (m *model) asset(name string) *asset {
	a := m.assets[name]
	if a == nil {
		s := hash64(m.seed, "asset", name)
		p, ok := basePrices[name]
		if !ok {
			p = math.Pow(10, float64(s%5)-1) * (1 + float64(s>>8%900)/100) // 0.1 .. 10000
		}
		a = &asset{rng: rand.New(rand.NewPCG(s, m.seed)), logp: math.Log(p)}
		m.assets[name] = a
	}
	return a
}

// advance moves every common factor by dt seconds of model time.
func (m *model) advance(dt float64) {
	if dt <= 0 {
		return
	}
	sd := m.vol * math.Sqrt(dt)
	for _, a := range m.assets {
		a.logp += sd * a.rng.NormFloat64()
	}
}

// fair returns the fair price of inst on exchange ex in quote units, before the book's
// own noise: common factor × FX × (1 + the exchange's premium).
func (m *model) fair(ex string, inst instrument) float64 {
	p := math.Exp(m.asset(inst.base).logp)
	if inst.base == "USDT" || inst.base == "USDC" {
		p = 1 // stablecoins do not wander; their KRW price carries the premium
	}
	switch q, ok := quoteUSD[inst.quote]; {
	case inst.quote == "KRW":
		p *= m.fx
	case ok:
		p /= q
	default: // crypto quote (ETH-BTC)
		p /= math.Exp(m.asset(inst.quote).logp)
	}
	return p * (1 + premium(ex))
}

// book returns the book of (ex, inst), creating it with depth levels per side.
func (m *model) book(ex string, inst instrument, depth int, v venue) *book {
	k := bookKey{ex, inst}
	if b := m.books[k]; b != nil {
		return b
	}
	if depth <= 0 {
		depth = m.depth
	}
	b := newBook(m, ex, inst, depth, v)
	m.books[k] = b
	m.order = append(m.order, b)
	return b
}

// USD returns the model's current fair USD value of one unit of inst's quote currency
// (1/FX for KRW); tests use it to compare prices across quotes.
func (m *model) quoteValueUSD(quote string) float64 {
	if quote == "KRW" {
		return 1 / m.fx
	}
	if q, ok := quoteUSD[quote]; ok {
		return q
	}
	return math.Exp(m.asset(quote).logp)
}
