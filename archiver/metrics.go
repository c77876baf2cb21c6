package archiver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twmb/franz-go/pkg/kgo"
)

// WriteMetrics writes the counters in the Prometheus text exposition format.
func (a *Archiver) WriteMetrics(w io.Writer) {
	s := &a.Stats
	c := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP tickline_archiver_%s %s\n# TYPE tickline_archiver_%s counter\ntickline_archiver_%s %d\n", name, help, name, name, v)
	}
	g := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP tickline_archiver_%s %s\n# TYPE tickline_archiver_%s gauge\ntickline_archiver_%s %d\n", name, help, name, name, v)
	}
	c("received_total", "Bus messages received.", s.Received.Load())
	c("malformed_total", "Messages that are not wire records.", s.Malformed.Load())
	c("duplicates_total", "Records dropped by line arbitration.", s.Duplicates.Load())
	c("accepted_total", "Records written to the spool.", s.Accepted.Load())
	c("unroutable_total", "Records whose exchange has no partition (not archived).", s.Unroutable.Load())
	c("spool_dropped_total", "Records lost: refused because the spool was full (or a spool write failed).", s.SpoolDropped.Load())
	c("spool_corrupt_lost_total", "Records lost: spool entries inside corrupt spans found at start and not in Kafka.", s.SpoolCorruptLost.Load())
	c("spool_corrupt_bytes_total", "Bytes of corrupt spans skipped inside spool segments at start.", s.SpoolCorruptBytes.Load())
	c("spool_torn_bytes_total", "Bytes of torn or corrupt spool segment tails truncated at start.", s.SpoolTornBytes.Load())
	if sp := a.spool; sp != nil {
		c("spool_fsyncs_total", "fsync calls on spool segments (archiver.spool_fsync).", sp.syncs.Load())
	}
	c("produced_total", "Records acknowledged by Kafka.", s.Produced.Load())
	c("produced_bytes_total", "Value bytes acknowledged by Kafka.", s.ProducedBytes.Load())
	c("skipped_total", "Spool entries found already in Kafka at start.", s.Skipped.Load())
	c("rejected_total", "Records Kafka refused for good (kept in rejected.spool).", s.Rejected.Load())
	c("spool_alarms_total", "Times the spool alarm was raised.", s.Alarms.Load())
	c("retransmit_requests_total", "Ranges asked from gateways' journals (restart windows and in-run gaps).", s.RetransmitRequests.Load())
	c("retransmitted_total", "Records the gateways' journals returned.", s.Retransmitted.Load())
	c("retransmit_accepted_total", "Retransmitted records written to the spool (also in accepted_total).", s.RetransmitAccepted.Load())
	c("retransmit_archived_total", "Retransmitted records whose event the archive holds already (archive index).", s.RetransmitArchived.Load())
	c("retransmit_before_tail_total", "Retransmitted records not archived: older than the partition tail read at start, so the archive may hold them.", s.RetransmitBeforeTail.Load())
	c("retransmit_beyond_index_total", "Retransmitted records not archived: older than the archive index reaches, so the archive may hold them.", s.RetransmitBeyondIndex.Load())
	c("retransmit_status_dropped_total", "Retransmitted status records dropped by the merger's status policy.", s.RetransmitStatusDropped.Load())
	c("retransmit_lost_total", "Records asked for that no journal returned (evicted, never journaled, unreachable): lost unless another line carried them.", s.RetransmitLost.Load())
	c("retransmit_failed_total", "Retransmit requests given up after every attempt.", s.RetransmitFailed.Load())
	c("retransmit_retries_total", "Retransmit attempts repeated after a failure.", s.RetransmitRetries.Load())
	c("retransmit_skipped_total", "Records of in-run gaps not asked for because the request queue was full.", s.RetransmitSkipped.Load())
	c("gateway_restarts_total", "Gateway sequences seen beginning again (a gateway restarted).", s.GatewayRestarts.Load())
	for _, q := range a.produceLatency.quantiles() {
		fmt.Fprintf(w, "tickline_archiver_produce_latency_microseconds{quantile=%q} %d\n", q.q, q.us)
	}
	alarm := int64(0)
	if s.Alarm.Load() {
		alarm = 1
	}
	g("spool_alarm", "1 while records wait in the spool and Kafka acknowledges nothing.", alarm)
	g("spool_backlog_records", "Records in the spool not yet acknowledged.", s.SpoolBacklog.Load())
	g("spool_bytes", "Bytes the spool occupies on disk.", s.SpoolBytes.Load())
	if rep := a.topics.Load(); rep != nil {
		g("kafka_brokers", "Brokers the cluster listed at start.", int64(rep.Brokers))
		g("durability_warnings", "Start-up durability warnings: replication_factor below min(brokers, 3), or an existing topic with fewer replicas or a lower min.insync.replicas than configured.", int64(len(rep.Warnings)))
		for _, t := range rep.Topics {
			fmt.Fprintf(w, "tickline_archiver_topic_replicas{topic=%q} %d\n", t.Topic, t.Replicas)
			fmt.Fprintf(w, "tickline_archiver_topic_min_insync_replicas{topic=%q} %d\n", t.Topic, t.MinISR)
		}
	}
	for _, l := range a.Lines() {
		for line := range l.Merge.SeqGaps {
			if v := l.Merge.SeqGaps[line]; v > 0 {
				fmt.Fprintf(w, "tickline_archiver_line_seq_gaps_total{region=%q,line=\"%d\"} %d\n", l.Region, line, v)
			}
		}
		for line := 0; line < l.Lines; line++ {
			for _, m := range [...]struct {
				name string
				v    uint64
			}{
				{"arbiter_wins_total", l.Arb.Wins[line]},
				{"arbiter_duplicates_total", l.Arb.Duplicates[line]},
				{"arbiter_late_total", l.Arb.Late[line]},
				{"arbiter_resets_total", l.Arb.Resets[line]},
				{"arbiter_evictions_total", l.Arb.Evictions[line]},
			} {
				fmt.Fprintf(w, "tickline_archiver_%s{region=%q,line=\"%d\"} %d\n", m.name, l.Region, line, m.v)
			}
		}
		fmt.Fprintf(w, "tickline_archiver_arbiter_untracked_total{region=%q} %d\n", l.Region, l.Arb.Untracked)
		fmt.Fprintf(w, "tickline_archiver_arbiter_keys{region=%q} %d\n", l.Region, l.Arb.Keys)
		fmt.Fprintf(w, "tickline_archiver_real_gaps_total{region=%q} %d\n", l.Region, l.Merge.RealGaps)
		fmt.Fprintf(w, "tickline_archiver_failovers_total{region=%q} %d\n", l.Region, l.Merge.Failovers)
	}
}

func (a *Archiver) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		a.WriteMetrics(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.Ready() || a.Stats.Alarm.Load() {
			http.Error(w, "not ready or spool alarm", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
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
