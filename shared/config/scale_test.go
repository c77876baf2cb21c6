package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigTopology returns base.yaml with n more symbols on gw-b's binance feed.
func bigTopology(t *testing.T, n int) []byte {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "          S%dUSDT: [bbo]\n", i)
	}
	const at = "          BTCUSDT: [bbo, trade, book]\n"
	return []byte(strings.Replace(readBase(t), at, at+sb.String(), 1))
}

// TestParseScalesLinearly: loading 40k symbols takes about 4× as long as 10k, not 16×
// (yaml.v3's pairwise duplicate-key check made it quadratic: 15 s for 40k). The bound is
// loose (8×, the best of three runs each) so that a loaded machine does not fail it, and
// still far from quadratic.
func TestParseScalesLinearly(t *testing.T) {
	best := func(n int) time.Duration {
		doc := bigTopology(t, n)
		var b time.Duration
		for range 3 {
			start := time.Now()
			top, err := Parse(doc)
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(top.Gateways[1].Feeds["binance"].Symbols); got != n+1 {
				t.Fatalf("%d symbols, want %d", got, n+1)
			}
			if b == 0 || d < b {
				b = d
			}
		}
		return b
	}
	small, large := best(10000), best(40000)
	ratio := float64(large) / float64(small)
	t.Logf("10k symbols %v, 40k %v: ratio %.1f (linear 4, quadratic 16)", small, large, ratio)
	if ratio > 8 {
		t.Fatalf("40k symbols take %.1f× as long as 10k: worse than linear", ratio)
	}
}

// TestSymbolMapErrors: the linear decoder reports what yaml.v3 did, at the same paths.
func TestSymbolMapErrors(t *testing.T) {
	for _, tc := range []struct{ add, want string }{
		{"          S1USDT: [trade]\n", `gateways[1].exchanges.binance.symbols.S1USDT: duplicate key "S1USDT" (first at line 34) (line 35)`},
		{"          S9USDT: 5\n", `gateways[1].exchanges.binance.symbols.S9USDT: cannot use integer "5": want a list (line 35)`},
		{"          S8USDT: {a: b}\n", `gateways[1].exchanges.binance.symbols.S8USDT: cannot use a mapping: want a list (line 35)`},
	} {
		doc := strings.Replace(string(bigTopology(t, 3)), "          S1USDT: [bbo]\n", "          S1USDT: [bbo]\n"+tc.add, 1)
		if _, err := Parse([]byte(doc)); err == nil || err.Error() != tc.want {
			t.Errorf("got  %v\nwant %s", err, tc.want)
		}
	}
}
