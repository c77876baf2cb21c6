package sim

import (
	"errors"
	"maps"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickline/tickline/shared/metrics"
)

// Register adds the simulator's metrics to reg: per served exchange (label "exchange") the
// Counters and the connections open now, and the market events generated. Everything is
// read at scrape time from the counters the server keeps anyway.
func (s *Server) Register(reg *metrics.Registry) {
	for _, name := range slices.Sorted(maps.Keys(s.hubs)) {
		h := s.hubs[name]
		l := prometheus.Labels{"exchange": name}
		counter := func(metric, help string, v *atomic.Uint64) {
			reg.Counter(metric, help, l, func() float64 { return float64(v.Load()) })
		}
		counter("sim_connections_total", "WebSocket connections accepted.", &h.cnt.conns)
		counter("sim_refused_total", "WebSocket upgrades refused (fault refuse).", &h.cnt.refused)
		counter("sim_frames_total", "Data frames written (fault frames excluded).", &h.cnt.frames)
		counter("sim_bytes_total", "Payload bytes written.", &h.cnt.bytes)
		counter("sim_disconnects_total", "Sockets closed by the disconnect faults.", &h.cnt.disconnects)
		counter("sim_stalls_total", "Stalls started (fault stall).", &h.cnt.stalls)
		counter("sim_duplicates_total", "Frames sent twice (fault dup).", &h.cnt.duplicates)
		counter("sim_gaps_total", "Book deltas dropped (fault gap).", &h.cnt.gaps)
		counter("sim_reorders_total", "Book deltas swapped with the next one (fault reorder).", &h.cnt.reorders)
		counter("sim_malformed_total", "Truncated frames sent (fault malformed).", &h.cnt.malformed)
		counter("sim_oversized_total", "Frames over 4 MiB sent (fault oversized).", &h.cnt.oversized)
		counter("sim_slow_closes_total", "Connections closed for queueing more than MaxQueueBytes.", &h.cnt.slowCloses)
		reg.Gauge("sim_open_connections", "WebSocket connections open now.", l, func() float64 { return float64(s.openConns(h)) })
	}
	reg.Counter("sim_events_total", "Market events generated (all books).", nil, func() float64 { return float64(s.events.Load()) })
}

// openConns counts h's connections open now.
func (s *Server) openConns(h *hub) int {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	n := 0
	for c := range s.conns {
		if c.hub == h {
			n++
		}
	}
	return n
}

// errNotServing is the simulator's health outside Run.
var errNotServing = errors.New("sim: not serving")

// Health is nil while Run serves the exchanges, errNotServing before and once it stops.
func (s *Server) Health() error {
	if !s.serving.Load() {
		return errNotServing
	}
	return nil
}

// MetricsAddr returns the address /metrics and /healthz are served on (Options.Metrics
// with the port chosen for port 0), or "" without Options.Metrics.
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}
