package replay

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickline/tickline/shared/metrics"
)

// Register adds the replay's metrics to reg: the Stats counters, progress, the archive
// time reached, pause state and, for a ZMQSink, its publisher's totals and drops per
// subscriber. Everything is read at scrape time from counters Run keeps anyway.
func (r *Replayer) Register(reg *metrics.Registry) {
	counter := func(name, help string, v func() int64) {
		reg.Counter(name, help, nil, func() float64 { return float64(v()) })
	}
	counter("replay_read_total", "Records read from Kafka.", r.Stats.Read.Load)
	counter("replay_written_total", "Records written to the output.", r.Stats.Written.Load)
	counter("replay_written_bytes_total", "Record bytes written to the output.", r.Stats.Bytes.Load)
	counter("replay_filtered_total", "Records read but not selected (time, instrument, kind, exchange).", r.Stats.Filtered.Load)
	counter("replay_malformed_total", "Archived values that are not wire records.", r.Stats.Malformed.Load)
	reg.Counter("replay_paused_seconds_total", "Time spent paused (counted when a pause ends), seconds.", nil,
		func() float64 { return float64(r.paused.Load()) / 1e9 })
	reg.Gauge("replay_range_records", "Records in the selected offset ranges (0 until Run has planned).", nil,
		func() float64 { return float64(r.Stats.Total.Load()) })
	reg.Gauge("replay_progress_ratio", "Records read over records in range, 0..1 (the progress bar's fraction).", nil, r.progress)
	reg.Gauge("replay_record_time_seconds", "Event time of the last record written, Unix seconds (0 before the first).", nil,
		func() float64 { return float64(r.lastTime.Load()) / 1e9 })
	reg.Gauge("replay_paused", "1 while paused (SIGUSR1), else 0.", nil, func() float64 {
		if r.Paused() {
			return 1
		}
		return 0
	})
	z, ok := r.sink.(*ZMQSink)
	if !ok {
		return
	}
	reg.Counter("replay_bus_dropped_total", "Messages dropped from full subscriber queues (all subscribers).", nil,
		func() float64 { return float64(z.pub.Totals().Dropped) })
	reg.Counter("replay_bus_paced_total", "Times the ZMQ output waited for subscribers to catch up.", nil,
		func() float64 { return float64(z.Paced.Load()) })
	reg.Gauge("replay_bus_subscribers", "Subscribers connected.", nil, func() float64 { return float64(z.pub.Totals().Subscribers) })
	reg.Gauge("replay_bus_max_queued", "Longest subscriber queue, messages.", nil, func() float64 { return float64(z.pub.MaxQueued()) })
	reg.Collector(&subscriberDrops{z: z})
}

// progress is the fraction of the offset range read: 0 until Run has planned, 1 for an
// empty range.
func (r *Replayer) progress() float64 {
	if !r.planned.Load() {
		return 0
	}
	total := r.Stats.Total.Load()
	if total == 0 {
		return 1
	}
	return min(float64(r.Stats.Read.Load())/float64(total), 1)
}

// subscriberDrops exports the ZMQ output's drops per connected subscriber (a label per
// remote address).
type subscriberDrops struct{ z *ZMQSink }

var subscriberDropsDesc = prometheus.NewDesc("tickline_replay_bus_subscriber_dropped_total",
	"Messages dropped for one subscriber of the ZMQ output (its queue was full).", []string{"subscriber"}, nil)

func (c *subscriberDrops) Describe(ch chan<- *prometheus.Desc) { ch <- subscriberDropsDesc }

func (c *subscriberDrops) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.z.pub.Stats() {
		ch <- prometheus.MustNewConstMetric(subscriberDropsDesc, prometheus.CounterValue, float64(st.Dropped), st.Remote)
	}
}

// Health is nil while the replay runs, and the error that ended it once a step failed
// (say the output refused a record): /healthz answers 503 while Run closes the output.
func (r *Replayer) Health() error {
	if err := r.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// MetricsAddr returns the address /metrics is served on ("" before Run listens, or without
// Options.Metrics); with port 0 in Options.Metrics, the port chosen.
func (r *Replayer) MetricsAddr() string {
	if a := r.metricsAddr.Load(); a != nil {
		return *a
	}
	return ""
}

// serveMetrics listens on Options.Metrics and serves the replay's metrics until the
// returned function is called, which waits for the server to stop. A listen error is
// returned: a replay asked for metrics does not run without them.
func (r *Replayer) serveMetrics() (stop func(), err error) {
	if r.opts.Metrics == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", r.opts.Metrics)
	if err != nil {
		return nil, fmt.Errorf("replay: metrics: listening on %s: %w", r.opts.Metrics, err)
	}
	addr := ln.Addr().String()
	r.metricsAddr.Store(&addr)
	reg := metrics.NewRegistry()
	r.Register(reg)
	// Its own context: the server outlives ctx until Run has closed the output, so the
	// drain of a ZMQ output stays observable.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := reg.ServeListener(ctx, ln, r.Health, r.log); err != nil {
			r.log.Error("replay: metrics server", "err", err)
		}
	}()
	return func() { cancel(); wg.Wait() }, nil
}
