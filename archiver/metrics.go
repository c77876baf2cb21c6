package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/tickline/tickline/shared/metrics"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twmb/franz-go/pkg/kgo"
)

// collector exports the archiver's counters through shared/metrics: a Prometheus collector
// reading the atomic Stats, the regions' arbitration and the topic report at scrape time.
// Describe sends nothing (an unchecked collector): the per-topic and per-line series are
// known only once the archiver has started.
type collector struct{ a *Archiver }

func (collector) Describe(chan<- *prometheus.Desc) {}

// emitFunc sends one tickline_archiver_<name> sample with label pairs kv (name, value, ...).
type emitFunc func(name, help string, t prometheus.ValueType, v float64, kv ...string)

func (c collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(name, help string, t prometheus.ValueType, v float64, kv ...string) {
		var names, vals []string
		for i := 0; i+1 < len(kv); i += 2 {
			names, vals = append(names, kv[i]), append(vals, kv[i+1])
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("tickline_archiver_"+name, help, names, nil), t, v, vals...)
	}
	c.stats(emit)
	c.topicReport(emit)
	c.lines(emit)
}

// stats sends the archiver's own counters and gauges (Stats, spool, produce latency).
func (c collector) stats(emit emitFunc) {
	a := c.a
	s := &a.Stats
	cnt := func(name, help string, v uint64) { emit(name, help, prometheus.CounterValue, float64(v)) }
	g := func(name, help string, v int64) { emit(name, help, prometheus.GaugeValue, float64(v)) }
	cnt("received_total", "Bus messages received.", s.Received.Load())
	cnt("malformed_total", "Messages that are not wire records.", s.Malformed.Load())
	cnt("duplicates_total", "Records dropped by line arbitration.", s.Duplicates.Load())
	cnt("accepted_total", "Records written to the spool.", s.Accepted.Load())
	cnt("unroutable_total", "Records whose exchange has no partition (not archived).", s.Unroutable.Load())
	cnt("spool_dropped_total", "Records lost: refused because the spool was full (or a spool write failed).", s.SpoolDropped.Load())
	cnt("spool_corrupt_lost_total", "Records lost: spool entries inside corrupt spans found at start and not in Kafka.", s.SpoolCorruptLost.Load())
	cnt("spool_corrupt_bytes_total", "Bytes of corrupt spans skipped inside spool segments at start.", s.SpoolCorruptBytes.Load())
	cnt("spool_torn_bytes_total", "Bytes of torn or corrupt spool segment tails truncated at start.", s.SpoolTornBytes.Load())
	if sp := a.spool; sp != nil {
		cnt("spool_fsyncs_total", "fsync calls on spool segments (archiver.spool_fsync).", sp.syncs.Load())
	}
	cnt("produced_total", "Records acknowledged by Kafka.", s.Produced.Load())
	cnt("produced_bytes_total", "Value bytes acknowledged by Kafka.", s.ProducedBytes.Load())
	cnt("skipped_total", "Spool entries found already in Kafka at start.", s.Skipped.Load())
	cnt("rejected_total", "Records Kafka refused for good (kept in rejected.spool).", s.Rejected.Load())
	cnt("spool_alarms_total", "Times the spool alarm was raised.", s.Alarms.Load())
	cnt("retransmit_requests_total", "Ranges asked from gateways' journals (restart windows and in-run gaps).", s.RetransmitRequests.Load())
	cnt("retransmitted_total", "Records the gateways' journals returned.", s.Retransmitted.Load())
	cnt("retransmit_accepted_total", "Retransmitted records written to the spool (also in accepted_total).", s.RetransmitAccepted.Load())
	cnt("retransmit_archived_total", "Retransmitted records whose event the archive holds already (archive index).", s.RetransmitArchived.Load())
	cnt("retransmit_before_tail_total", "Retransmitted records not archived: older than the partition tail read at start, so the archive may hold them.", s.RetransmitBeforeTail.Load())
	cnt("retransmit_beyond_index_total", "Retransmitted records not archived: older than the archive index reaches, so the archive may hold them.", s.RetransmitBeyondIndex.Load())
	cnt("retransmit_status_dropped_total", "Retransmitted status records dropped by the merger's status policy.", s.RetransmitStatusDropped.Load())
	cnt("retransmit_lost_total", "Records asked for that no journal returned (evicted, never journaled, unreachable): lost unless another line carried them.", s.RetransmitLost.Load())
	cnt("retransmit_failed_total", "Retransmit requests given up after every attempt.", s.RetransmitFailed.Load())
	cnt("retransmit_retries_total", "Retransmit attempts repeated after a failure.", s.RetransmitRetries.Load())
	cnt("retransmit_skipped_total", "Records of in-run gaps not asked for because the request queue was full.", s.RetransmitSkipped.Load())
	cnt("gateway_restarts_total", "Gateway sequences seen beginning again (a gateway restarted).", s.GatewayRestarts.Load())
	for _, q := range a.produceLatency.quantiles() {
		emit("produce_latency_microseconds", "Kafka produce request round trip (µs), from franz-go's broker hook.", prometheus.GaugeValue, float64(q.us), "quantile", q.q)
	}
	alarm := int64(0)
	if s.Alarm.Load() {
		alarm = 1
	}
	g("spool_alarm", "1 while records wait in the spool and Kafka acknowledges nothing.", alarm)
	g("spool_backlog_records", "Records in the spool not yet acknowledged.", s.SpoolBacklog.Load())
	g("spool_bytes", "Bytes the spool occupies on disk.", s.SpoolBytes.Load())
}

// topicReport sends what the start-up topic check found.
func (c collector) topicReport(emit emitFunc) {
	if rep := c.a.topics.Load(); rep != nil {
		g := func(name, help string, v int64) { emit(name, help, prometheus.GaugeValue, float64(v)) }
		g("kafka_brokers", "Brokers the cluster listed at start.", int64(rep.Brokers))
		g("durability_warnings", "Start-up durability warnings: replication_factor below min(brokers, 3), or an existing topic with fewer replicas or a lower min.insync.replicas than configured.", int64(len(rep.Warnings)))
		for _, t := range rep.Topics {
			emit("topic_replicas", "Replicas of each archive topic's partitions.", prometheus.GaugeValue, float64(t.Replicas), "topic", t.Topic)
			emit("topic_min_insync_replicas", "min.insync.replicas of each archive topic.", prometheus.GaugeValue, float64(t.MinISR), "topic", t.Topic)
		}
	}
}

// lines sends each region's arbitration and line health, per line.
func (c collector) lines(emit emitFunc) {
	for _, l := range c.a.Lines() {
		for line := 0; line < l.Lines; line++ {
			ln := strconv.Itoa(line)
			for _, m := range [...]struct {
				name, help string
				v          uint64
			}{
				{"line_seq_gaps_total", "Records missing in this line's gateway sequence (bus drops).", l.Merge.SeqGaps[line]},
				{"arbiter_wins_total", "Exchange events first delivered by this line.", l.Arb.Wins[line]},
				{"arbiter_duplicates_total", "Copies dropped from this line.", l.Arb.Duplicates[line]},
				{"arbiter_late_total", "Records from this line beyond the arbitration tolerance: dropped, lost unless another line brought them in time.", l.Arb.Late[line]},
				{"arbiter_resets_total", "Exchange sequence resets (new epochs) first seen on this line.", l.Arb.Resets[line]},
				{"arbiter_evictions_total", "Event keys forgotten before the tolerance because the key budget was spent.", l.Arb.Evictions[line]},
			} {
				emit(m.name, m.help, prometheus.CounterValue, float64(m.v), "region", l.Region, "line", ln)
			}
		}
		emit("arbiter_untracked_total", "Records delivered without de-duplication (stream table or key budget full).", prometheus.CounterValue, float64(l.Arb.Untracked), "region", l.Region)
		emit("arbiter_keys", "Event keys the region's arbiter remembers now.", prometheus.GaugeValue, float64(l.Arb.Keys), "region", l.Region)
		emit("real_gaps_total", "Gaps no line could cover.", prometheus.CounterValue, float64(l.Merge.RealGaps), "region", l.Region)
		emit("failovers_total", "Lines that went silent while another carried on.", prometheus.CounterValue, float64(l.Merge.Failovers), "region", l.Region)
	}
}

// WriteMetrics writes the archiver's metrics in the Prometheus text format (what /metrics
// serves, without the Go runtime's).
func (a *Archiver) WriteMetrics(w io.Writer) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{a})
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(w, "# gather: %v\n", err)
	}
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return
		}
	}
}

// registry returns the archiver's metrics registry (Go runtime metrics included).
func (a *Archiver) registry() *metrics.Registry {
	reg := metrics.NewRegistry()
	reg.Collector(collector{a})
	return reg
}

// health is /healthz: ready and no spool alarm.
func (a *Archiver) health() error {
	switch {
	case !a.Ready():
		return errors.New("recovering: not accepting records yet")
	case a.Stats.Alarm.Load():
		return errors.New("spool alarm: Kafka acknowledges nothing")
	}
	return nil
}

// kgoLogger adapts slog to franz-go's logger at warn level and above (franz-go logs
// connection churn at info, which an outage would turn into noise).
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelWarn
	if level == kgo.LogLevelError {
		lv = slog.LevelError
	}
	l.log.Log(context.Background(), lv, "kafka: "+msg, keyvals...)
}

// produceLatency records the round trip of every produce request franz-go sends (request
// written → response read), in µs, through kgo's HookBrokerE2E.
type produceLatency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// OnBrokerE2E implements kgo.HookBrokerE2E; it runs on franz-go's goroutines.
func (p *produceLatency) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != 0 || e2e.WriteErr != nil || e2e.ReadErr != nil { // 0 = Produce
		return
	}
	p.mu.Lock()
	if p.h == nil {
		p.h = hdrhistogram.New(1, 60_000_000, 3)
	}
	p.h.RecordValue(max(e2e.DurationE2E().Microseconds(), 1))
	p.mu.Unlock()
}

type quantile struct {
	q  string
	us int64
}

func (p *produceLatency) quantiles() []quantile {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h == nil {
		return nil
	}
	return []quantile{{"0.5", p.h.ValueAtQuantile(50)}, {"0.99", p.h.ValueAtQuantile(99)}, {"0.999", p.h.ValueAtQuantile(99.9)}, {"1", p.h.Max()}}
}
