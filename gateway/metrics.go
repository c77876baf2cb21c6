package gateway

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickline/tickline/gateway/session"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/metrics"
)

// Register adds the gateway's metrics to reg: per exchange (label "exchange") the session
// counters, and the publisher's totals. Everything is read at scrape time from the
// counters the hot path keeps anyway.
func (g *Gateway) Register(reg *metrics.Registry) {
	gw := prometheus.Labels{"gateway": g.cfg.ID}
	seen := map[string]bool{}
	for _, name := range g.names {
		if seen[name] {
			continue
		}
		seen[name] = true
		l := prometheus.Labels{"gateway": g.cfg.ID, "exchange": name}
		ex := name
		sum := func(f func(*session.Stats) *atomic.Uint64) func() float64 {
			return func() float64 {
				var n uint64
				for i, s := range g.sessions {
					if g.names[i] == ex {
						n += f(&s.Stats).Load()
					}
				}
				return float64(n)
			}
		}
		reg.Counter("gateway_frames_total", "WebSocket frames received from the exchange.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Frames }))
		reg.Counter("gateway_tree_frames_total", "Frames the adapter's fast paths did not take, parsed by its fastjson path instead: control messages, other message types, and data in a layout the fast paths do not match (correct, slower).", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.TreeFrames }))
		reg.Counter("gateway_records_total", "Records produced for publication.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Records }))
		reg.Counter("gateway_parse_errors_total", "Frames that failed to parse (malformed).", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.ParseErrors }))
		reg.Counter("gateway_unsupported_total", "Well-formed frames of unsupported types.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Unsupported }))
		reg.Counter("gateway_exchange_errors_total", "Error answers from the exchange.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.ExchangeErrors }))
		reg.Counter("gateway_reconnects_total", "Reconnections after a lost connection.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Reconnects }))
		reg.Counter("gateway_dial_failures_total", "Failed connection attempts.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.DialFailures }))
		reg.Counter("gateway_rate_limited_total", "Rate-limit answers honoured.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.RateLimited }))
		reg.Counter("gateway_stale_total", "Dead sockets detected (no frame within the stale bound).", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Stale }))
		reg.Counter("gateway_gaps_total", "Book sequence gaps.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Gaps }))
		reg.Counter("gateway_trade_gaps_total", "Holes in dense trade-id sequences (venues whose trade ids are consecutive), each marked with a gap status.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.TradeGaps }))
		reg.Counter("gateway_content_repeats_total", "Id-less records repeating an earlier content key of their symbol and kind at the same exchange time (one event to the receivers).", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.ContentRepeats }))
		reg.Counter("gateway_resyncs_total", "Books made whole again.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Resyncs }))
		reg.Counter("gateway_checksum_failures_total", "Book checksum mismatches.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.ChecksumFailures }))
		reg.Counter("gateway_crossed_books_total", "Crossed books detected.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Crossed }))
		reg.Counter("gateway_rollovers_total", "Planned disconnects rolled over without a gap.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Rollovers }))
		reg.Counter("gateway_oversized_total", "Frames over the size limit.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.Oversized }))
		reg.Counter("gateway_snapshot_fetches_total", "REST book snapshots requested.", l, sum(func(s *session.Stats) *atomic.Uint64 { return &s.SnapshotFetches }))
	}
	reg.Counter("gateway_published_total", "Records published on the bus.", gw, func() float64 { return float64(g.Stats.Published.Load()) })
	reg.Counter("gateway_encode_errors_total", "Records that did not fit the wire format.", gw, func() float64 { return float64(g.Stats.EncodeErrors.Load()) })
	reg.Counter("bus_dropped_total", "Messages dropped from full subscriber queues (all subscribers).", gw, func() float64 { return float64(g.pub.Totals().Dropped) })
	reg.Counter("bus_stall_disconnects_total", "Subscribers disconnected for stalling.", gw, func() float64 { return float64(g.pub.Totals().StallDisconnects) })
	reg.Gauge("bus_subscribers", "Subscribers connected.", gw, func() float64 { return float64(g.pub.Totals().Subscribers) })
	reg.Gauge("bus_max_queued", "Longest subscriber queue, messages.", gw, func() float64 { return float64(g.pub.MaxQueued()) })
	reg.Gauge("bus_handshakes", "Connections in the ZMTP handshake now.", gw, func() float64 { return float64(g.pub.Totals().Handshaking) })
	for r := range bus.NumRefusals {
		l := prometheus.Labels{"gateway": g.cfg.ID, "reason": r.String()}
		reg.Counter("bus_refused_total", "Bus connections refused or disconnected, by reason (handshake limits, timeouts, bad or unauthorized handshakes, oversized frames, subscription limits, malformed input).", l,
			func() float64 { return float64(g.pub.Totals().Refused[r]) })
	}
	reg.Collector(&subscriberDrops{g: g})
	if js := g.jsrv; js != nil {
		st := &js.Stats
		reg.Counter("journal_requests_total", "Retransmit requests answered (including responses cut at the per-request limits).", gw, func() float64 { return float64(st.Requests.Load()) })
		reg.Counter("journal_records_sent_total", "Records sent to retransmit clients.", gw, func() float64 { return float64(st.Records.Load()) })
		reg.Counter("journal_bytes_sent_total", "Record bytes sent to retransmit clients.", gw, func() float64 { return float64(st.Bytes.Load()) })
		reg.Counter("journal_cut_total", "Retransmit responses cut at the per-request record or byte limit (the client asks again).", gw, func() float64 { return float64(st.Cut.Load()) })
		for reason, c := range map[string]*atomic.Uint64{"conn_limit": &st.Refused, "bad_request": &st.BadRequests,
			"write_timeout": &st.WriteTimeouts, "write_error": &st.WriteErrors,
			"unauthorized": &st.Unauthorized, "handshake": &st.HandshakeFailed, "accept_error": &st.AcceptErrors} {
			reg.Counter("journal_refused_total", "Retransmit connections refused or abandoned, by reason: conn_limit (over the connection cap), bad_request (no whole request within the read timeout), write_timeout (the client did not read), write_error, unauthorized (CURVE: client key not on the allow list), handshake (CURVE: no completed handshake within the read timeout: plaintext client, wrong server key, silent or broken peer), accept_error (accept failed, e.g. file descriptors exhausted: served again after a short pause).",
				prometheus.Labels{"gateway": g.cfg.ID, "reason": reason}, func() float64 { return float64(c.Load()) })
		}
	}
}

// subscriberDrops exports drops per connected subscriber (a label per remote address).
type subscriberDrops struct{ g *Gateway }

var subscriberDropsDesc = prometheus.NewDesc("tickline_bus_subscriber_dropped_total",
	"Messages dropped for one subscriber (its queue was full).", []string{"gateway", "subscriber"}, nil)

func (c *subscriberDrops) Describe(ch chan<- *prometheus.Desc) { ch <- subscriberDropsDesc }

func (c *subscriberDrops) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.g.pub.Stats() {
		ch <- prometheus.MustNewConstMetric(subscriberDropsDesc, prometheus.CounterValue, float64(st.Dropped), c.g.cfg.ID, st.Remote)
	}
}

// Health is healthy while at least one session delivered a frame recently.
func (g *Gateway) Health() error {
	var frames uint64
	for _, s := range g.sessions {
		frames += s.Stats.Frames.Load()
	}
	if len(g.sessions) == 0 {
		return errors.New("no exchange sessions")
	}
	if frames == 0 {
		return fmt.Errorf("no frame from any of %d sessions yet", len(g.sessions))
	}
	return nil
}
