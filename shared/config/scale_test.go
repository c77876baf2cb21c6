package config

import (
	"fmt"
	"strings"
	"syscall"
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

// TestParseScalesLinearly: loading 40k symbols costs about 4× the CPU time of 10k, not 16×
// (yaml.v3's pairwise duplicate-key check made it quadratic: 15 s for 40k). Time is the
// process's CPU time (getrusage), not the wall clock, so other work on the machine does
// not count (wall time under a CI load gave 9.2×); the bound is loose (8×, the best of
// three runs each) and still far from quadratic.
func TestParseScalesLinearly(t *testing.T) {
	best := func(n int) time.Duration {
		doc := bigTopology(t, n)
		var b time.Duration
		for range 3 {
			start := cpuTime(t)
			top, err := Parse(doc)
			d := cpuTime(t) - start
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

// cpuTime is the process's user + system CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
