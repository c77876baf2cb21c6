package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickline/tickline/shared/config"
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
	reg.Counter("replay_paused_seconds_total", "Time spent paused, the current pause included, seconds.", nil,
		func() float64 { return r.PausedFor().Seconds() })
	counter("replay_duplicates_total", "Records dropped by arbitration: copies of events already written (another region or gateway).", r.Stats.Duplicates.Load)
	counter("replay_order_inversions_total", "Records written with an earlier merge time than the one before (see --order).", r.Stats.Inversions.Load)
	reg.Gauge("replay_order_max_inversion_seconds", "Largest step back in merge time between consecutive records, seconds.", nil,
		func() float64 { return float64(r.Stats.MaxInversionNs.Load()) / 1e9 })
	reg.Gauge("replay_speed", "Pace factor (0 = max).", nil, r.Speed)
	reg.Gauge("replay_range_records", "Records in the selected offset ranges (0 until Run has planned).", nil,
		func() float64 { return float64(r.Stats.Total.Load()) })
	reg.Gauge("replay_progress_ratio", "Records settled (written, filtered, duplicates, malformed) over records in range, 0..1 (the progress bar's fraction).", nil, r.progress)
	reg.Gauge("replay_record_time_seconds", "Event time of the last record written, Unix seconds (0 before the first).", nil,
		func() float64 { return float64(r.lastTime.Load()) / 1e9 })
	reg.Gauge("replay_paused", "1 while paused (SIGUSR1, POST /control/pause), else 0.", nil, func() float64 {
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

// progress is the fraction of the offset range settled (written, filtered, dropped as a
// copy, malformed — not merely read ahead): 0 until Run has planned, 1 for an empty range.
func (r *Replayer) progress() float64 {
	if !r.planned.Load() {
		return 0
	}
	total := r.Stats.Total.Load()
	if total == 0 {
		return 1
	}
	return min(float64(r.processed())/float64(total), 1)
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

// serveMetrics listens on Options.Metrics and serves the replay's metrics and control
// endpoints until the returned function is called, which waits for the server to stop. A
// listen error is returned: a replay asked for metrics does not run without them.
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
	mux := http.NewServeMux()
	mux.Handle("/", reg.Handler(r.Health))
	mux.Handle("/control/", r.ControlHandler())
	mux.Handle("/control", r.ControlHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	r.log.Info("replay: metrics and control", "addr", addr, "metrics", "http://"+addr+"/metrics", "control", "http://"+addr+"/control")
	// Its own lifetime: the server outlives Run's ctx until Run has closed the output, so
	// the drain of a ZMQ output stays observable.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("replay: metrics server", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		wg.Wait()
	}, nil
}

// ControlState is what GET /control answers (JSON).
type ControlState struct {
	Paused        bool    `json:"paused"`
	PausedSeconds float64 `json:"paused_seconds"`
	Speed         string  `json:"speed"`       // "max" or "<factor>x"
	RecordTime    string  `json:"record_time"` // event time of the last record written, RFC 3339
	Written       int64   `json:"written"`
	Progress      float64 `json:"progress"`
}

// ControlHandler serves the runtime controls (the metrics server mounts it on /control):
//
//	GET  /control                    state (ControlState, JSON)
//	POST /control/pause              pause
//	POST /control/resume             resume
//	POST /control/speed?to=10x|max   change the pace
//	POST /control/seek?to=TIME       go to an event time (RFC 3339 or Unix ns)
//
// Each POST answers the new state; a bad value is 400 with the reason.
func (r *Replayer) ControlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		action := strings.Trim(strings.TrimPrefix(req.URL.Path, "/control"), "/")
		if action == "" {
			if req.Method != http.MethodGet {
				http.Error(w, "GET /control, or POST /control/{pause,resume,speed,seek}", http.StatusMethodNotAllowed)
				return
			}
			r.writeState(w)
			return
		}
		if req.Method != http.MethodPost {
			http.Error(w, "POST /control/"+action, http.StatusMethodNotAllowed)
			return
		}
		to := req.URL.Query().Get("to")
		var err error
		switch action {
		case "pause":
			r.Pause()
			r.log.Info("replay: paused (control)")
		case "resume":
			r.Resume()
			r.log.Info("replay: resumed (control)")
		case "speed":
			var sp float64
			if sp, err = config.ParseSpeed(to); err == nil {
				if err = r.SetSpeed(sp); err == nil {
					r.log.Info("replay: speed changed (control)", "speed", to)
				}
			}
		case "seek":
			var t int64
			if t, err = ParseTime(to); err == nil {
				if err = r.SeekTo(t); err == nil {
					r.log.Info("replay: seek (control)", "to", FormatTime(t))
				}
			}
		default:
			http.Error(w, fmt.Sprintf("unknown control %q (valid: pause, resume, speed, seek)", action), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.writeState(w)
	})
}

func (r *Replayer) writeState(w http.ResponseWriter) {
	st := ControlState{Paused: r.Paused(), PausedSeconds: r.PausedFor().Seconds(), Speed: "max",
		Written: r.Stats.Written.Load(), Progress: r.progress()}
	if sp := r.Speed(); sp > 0 {
		st.Speed = strconv.FormatFloat(sp, 'g', -1, 64) + "x"
	}
	if t := r.lastTime.Load(); t != 0 {
		st.RecordTime = FormatTime(t)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}
