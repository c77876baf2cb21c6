package strategy

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/metrics"
)

// Register adds the strategy's metrics: records in and delivered, arbitration wins and
// duplicates per line, gateway-sequence gaps per line (bus drops), covered and real gaps,
// failovers, opportunities, paper P&L and per-hop latency quantiles. Values are read
// under the handler's lock at scrape time.
func (s *Strategy) Register(reg *metrics.Registry) {
	reg.Counter("strategy_received_total", "Records received from all lines.", nil, func() float64 { return float64(s.Stats.Received.Load()) })
	reg.Counter("strategy_delivered_total", "Records delivered after line arbitration.", nil, func() float64 { return float64(s.Stats.Delivered.Load()) })
	reg.Counter("strategy_malformed_total", "Records that did not decode.", nil, func() float64 { return float64(s.Stats.Malformed.Load()) })
	reg.Counter("strategy_opportunities_total", "Arbitrage opportunities emitted.", nil, func() float64 { return float64(s.Stats.Opportunities.Load()) })
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return f()
		}
	}
	for i, ep := range s.eps {
		l := prometheus.Labels{"line": strconv.Itoa(i), "endpoint": ep}
		i := i
		for r := range bus.NumRefusals {
			rl := prometheus.Labels{"line": strconv.Itoa(i), "endpoint": ep, "reason": r.String()}
			reg.Counter("bus_line_refused_total", "Connections to this gateway that failed the handshake or broke the protocol, by reason (see SECURITY.md).", rl,
				func() float64 {
					if s.sub == nil {
						return 0
					}
					return float64(s.sub.Stats()[i].Refused[r])
				})
		}
		reg.Counter("arbiter_wins_total", "Exchange events first delivered by this line.", l, locked(func() float64 { return float64(s.merger.Arb.Stats.Wins[i]) }))
		reg.Counter("arbiter_duplicates_total", "Later copies dropped from this line.", l, locked(func() float64 { return float64(s.merger.Arb.Stats.Duplicates[i]) }))
		reg.Counter("arbiter_late_total", "Records from this line beyond the arbitration tolerance: dropped, lost unless another line brought them in time.", l, locked(func() float64 { return float64(s.merger.Arb.Stats.Late[i]) }))
		reg.Counter("arbiter_resets_total", "Exchange sequence resets (new epochs) first seen on this line.", l, locked(func() float64 { return float64(s.merger.Arb.Stats.Resets[i]) }))
		reg.Counter("arbiter_evictions_total", "Event keys forgotten before the tolerance because the key budget was spent (on this line's records).", l, locked(func() float64 { return float64(s.merger.Arb.Stats.Evictions[i]) }))
		reg.Counter("line_seq_gaps_total", "Records missing in this line's gateway sequence (bus drops).", l, locked(func() float64 { return float64(s.merger.Stats.SeqGaps[i]) }))
		reg.Gauge("line_down", "1 while the line is silent and another line carries on.", l, locked(func() float64 {
			if s.merger.Down(i) {
				return 1
			}
			return 0
		}))
	}
	reg.Counter("arbiter_untracked_total", "Records delivered without de-duplication (stream table or key budget full).", nil, locked(func() float64 { return float64(s.merger.Arb.Stats.Untracked) }))
	reg.Gauge("arbiter_keys", "Event keys the arbiter remembers now.", nil, locked(func() float64 { return float64(s.merger.Arb.Stats.Keys) }))
	reg.Counter("arbiter_snapshot_repairs_total", "Snapshot copies delivered because the merged book was not whole.", nil, locked(func() float64 { return float64(s.merger.Stats.Repairs) }))
	reg.Counter("arbiter_refreshes_total", "Gateway refresh snapshots delivered.", nil, locked(func() float64 { return float64(s.merger.Stats.Refreshes) }))
	reg.Counter("gaps_covered_total", "Line gaps covered by another line.", nil, locked(func() float64 { return float64(s.merger.Stats.Covered) }))
	reg.Counter("gaps_real_total", "Gaps no line could cover (book invalid until resync).", nil, locked(func() float64 { return float64(s.merger.Stats.RealGaps) }))
	reg.Counter("chain_breaks_total", "Holes in the merged book stream not filled in time.", nil, locked(func() float64 { return float64(s.engine.Stats.ChainBreaks) }))
	reg.Counter("failovers_total", "Lines that went silent while another carried on.", nil, locked(func() float64 { return float64(s.merger.Stats.Failovers) }))
	reg.Gauge("fx_krw_per_usd", "FX rate used for KRW markets.", nil, locked(func() float64 { return s.engine.FX() }))
	reg.Gauge("paper_profit_usd", "What taking every opportunity at its quoted size would have earned.", nil, locked(func() float64 { return s.engine.Paper.ProfitUSD }))
	reg.Collector(&hopCollector{s: s})
}

// hopCollector exports each hop's latency quantiles from the HDR histograms.
type hopCollector struct{ s *Strategy }

var hopDesc = prometheus.NewDesc("tickline_hop_latency_microseconds", "Per-hop latency quantiles (HDR histogram, since start).",
	[]string{"hop", "quantile"}, nil)
var hopNegDesc = prometheus.NewDesc("tickline_hop_negative_total", "Observations below zero: clock offset between hosts.",
	[]string{"hop"}, nil)

func (c *hopCollector) Describe(ch chan<- *prometheus.Desc) { ch <- hopDesc; ch <- hopNegDesc }

func (c *hopCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.s.Latency.Snapshot() {
		for q, v := range map[string]float64{"0.5": h.P50us, "0.99": h.P99us, "0.999": h.P999us, "1": h.Maxus} {
			ch <- prometheus.MustNewConstMetric(hopDesc, prometheus.GaugeValue, v, h.Hop, q)
		}
		ch <- prometheus.MustNewConstMetric(hopNegDesc, prometheus.CounterValue, float64(h.Negative), h.Hop)
	}
}

// Health is healthy once records flow.
func (s *Strategy) Health() error {
	if s.Stats.Received.Load() == 0 {
		return errors.New("no record received yet")
	}
	return nil
}
