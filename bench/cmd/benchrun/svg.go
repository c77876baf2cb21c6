package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/tickline/tickline/bench/busbench"
)

// writeSVG draws the bus scenarios' p50/p99/p99.9 latencies as grouped bars on a log
// scale, so the report has a picture without any plotting dependency.
func writeSVG(path string, rs []busbench.Result) error {
	const w, rowH, left = 760, 26, 170
	h := 40 + len(rs)*rowH + 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, w, h)
	b.WriteString(`<text x="10" y="18" font-size="13">Bus latency at a paced rate (µs, log scale): p50 / p99 / p99.9</text>`)
	scale := func(us float64) float64 { // 1 µs .. 1 s over the plot width
		if us < 1 {
			us = 1
		}
		l := 0.0
		for v := us; v >= 10; v /= 10 {
			l++
		}
		frac := us
		for frac >= 10 {
			frac /= 10
		}
		return (l + (frac-1)/9) / 6 * float64(w-left-20)
	}
	colors := []string{"#4c78a8", "#f58518", "#e45756"}
	for i, r := range rs {
		y := 40 + i*rowH
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text>`, y+14, r.Name)
		for j, v := range []float64{r.P50us, r.P99us, r.P999us} {
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="6" fill="%s"><title>%.0f µs</title></rect>`, left, y+2+j*7, scale(v), colors[j], v)
		}
	}
	for p := 0; p <= 6; p++ {
		x := left + float64(p)/6*float64(w-left-20)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="34" x2="%.0f" y2="%d" stroke="#ddd"/><text x="%.0f" y="%d">1e%d</text>`, x, x, h-24, x-8, h-10, p)
	}
	b.WriteString(`</svg>`)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
