package busbench

import (
	"fmt"
	"strings"
)

// Ratios are the targets, computed from one run's results.
type Ratios struct {
	Transport         string  `json:"transport"`
	P50VsFloor        float64 `json:"bus_p50_vs_floor"`     // target ≤ 1.5
	P99VsFloor        float64 `json:"bus_p99_vs_floor"`     // target ≤ 3
	FloodVsZmq4       float64 `json:"bus_flood_vs_zmq4"`    // target ≥ 4
	StalledP99VsAlone float64 `json:"stalled_p99_vs_alone"` // target ≤ 1.2 (tcp only)
	// The cost of CURVE (tcp only): bus-curve over bus in the same run.
	CurveP50VsNull   float64 `json:"curve_p50_vs_null,omitempty"`
	CurveP99VsNull   float64 `json:"curve_p99_vs_null,omitempty"`
	CurveFloodVsNull float64 `json:"curve_flood_vs_null,omitempty"`
}

func find(rs []Result, name string) *Result {
	for i := range rs {
		if rs[i].Name == name {
			return &rs[i]
		}
	}
	return nil
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ComputeRatios derives the target ratios per transport.
func ComputeRatios(rs []Result) []Ratios {
	var out []Ratios
	for _, tr := range []string{"tcp", "ipc"} {
		fl, zq, bs := find(rs, "floor/"+tr), find(rs, "zmq4/"+tr), find(rs, "bus/"+tr)
		if fl == nil || zq == nil || bs == nil {
			continue
		}
		r := Ratios{Transport: tr, P50VsFloor: div(bs.P50us, fl.P50us), P99VsFloor: div(bs.P99us, fl.P99us),
			FloodVsZmq4: div(bs.FloodMsgs, zq.FloodMsgs)}
		if st := find(rs, "bus/"+tr+"+stalled"); st != nil {
			r.StalledP99VsAlone = div(st.P99us, bs.P99us)
		}
		if cv := find(rs, "bus-curve/"+tr); cv != nil {
			r.CurveP50VsNull, r.CurveP99VsNull, r.CurveFloodVsNull = div(cv.P50us, bs.P50us), div(cv.P99us, bs.P99us), div(cv.FloodMsgs, bs.FloodMsgs)
		}
		out = append(out, r)
	}
	return out
}

// Markdown renders the results and ratios as tables.
func Markdown(rs []Result, cfg Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Paced: %d msgs/s for %s, %d-byte records; flood: %d messages (max %s).\n\n", cfg.Rate, cfg.PacedFor, PayloadBytes, cfg.FloodCount, cfg.FloodMaxDur)
	b.WriteString("| scenario | p50 µs | p99 µs | p99.9 µs | max µs | paced recv/sent | flood msgs/s | flood recv/sent | heap MiB start/peak/end | note |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rs {
		heap := ""
		if r.HeapPeakMiB > 0 {
			heap = fmt.Sprintf("%.1f / %.1f / %.1f", r.HeapStartMiB, r.HeapPeakMiB, r.HeapEndMiB)
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.0f | %.0f | %d/%d | %.0f | %d/%d | %s | %s |\n", r.Name, r.P50us, r.P99us, r.P999us, r.Maxus,
			r.Received, r.Sent, r.FloodMsgs, r.FloodRecv, r.FloodSent, heap, strings.TrimSpace(r.Note))
	}
	b.WriteString("\n| transport | bus p50 / floor p50 (≤ 1.5) | bus p99 / floor p99 (≤ 3) | bus flood / zmq4 flood (≥ 4) | healthy p99 with stalled / alone (≤ 1.2) |\n|---|---:|---:|---:|---:|\n")
	for _, r := range ComputeRatios(rs) {
		st := "n/a"
		if r.StalledP99VsAlone > 0 {
			st = fmt.Sprintf("%.2f %s", r.StalledP99VsAlone, mark(r.StalledP99VsAlone <= 1.2))
		}
		fmt.Fprintf(&b, "| %s | %.2f %s | %.2f %s | %.2f %s | %s |\n", r.Transport, r.P50VsFloor, mark(r.P50VsFloor <= 1.5),
			r.P99VsFloor, mark(r.P99VsFloor <= 3), r.FloodVsZmq4, mark(r.FloodVsZmq4 >= 4), st)
	}
	for _, r := range ComputeRatios(rs) {
		if r.CurveFloodVsNull > 0 {
			fmt.Fprintf(&b, "\nCURVE cost (%s, bus-curve / bus, same run): p50 %.2f×, p99 %.2f×, flood %.2f×\n", r.Transport, r.CurveP50VsNull, r.CurveP99VsNull, r.CurveFloodVsNull)
		}
	}
	return b.String()
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}
