// Package metrics serves a process's Prometheus /metrics and its /healthz. Processes keep
// their counters in their own atomic stats (the hot path counts, it does not touch
// Prometheus); they register CounterFunc/GaugeFunc collectors that read those counters at
// scrape time, so metrics cost nothing per message.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry collects a process's metrics under the "tickline_" namespace.
type Registry struct {
	reg *prometheus.Registry
}

// NewRegistry returns a registry with Go runtime and process collectors.
func NewRegistry() *Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: r}
}

// Counter registers a counter read from f at scrape time.
func (r *Registry) Counter(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "tickline", Name: name, Help: help, ConstLabels: labels}, f))
}

// Gauge registers a gauge read from f at scrape time.
func (r *Registry) Gauge(name, help string, labels prometheus.Labels, f func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "tickline", Name: name, Help: help, ConstLabels: labels}, f))
}

// Collector registers any Prometheus collector (e.g. a histogram snapshot collector).
func (r *Registry) Collector(c prometheus.Collector) { r.reg.MustRegister(c) }

// Health reports nil when the process is healthy, or why not.
type Health func() error

// Handler returns the mux serving /metrics and /healthz.
func (r *Registry) Handler(health Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if health != nil {
			if err := health(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve listens on addr (host:port; loopback by default in the configs) and serves until
// ctx ends. An empty addr serves nothing and returns when ctx ends.
func (r *Registry) Serve(ctx context.Context, addr string, health Health, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	return r.ServeListener(ctx, ln, health, log)
}

// ServeListener serves on ln, which it closes, until ctx ends; it returns after the server
// has shut down (open scrapes get up to 2 s). Processes that must know the address before
// serving (port 0, a bind error reported at start) listen first and call this.
func (r *Registry) ServeListener(ctx context.Context, ln net.Listener, health Health, log *slog.Logger) error {
	srv := &http.Server{Handler: r.Handler(health), ReadHeaderTimeout: 5 * time.Second}
	log.Info("metrics", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}
