// Package metrics serves a process's Prometheus /metrics and its /healthz. Processes keep
// their counters in their own atomic stats (the hot path counts, it does not touch
// Prometheus); they register CounterFunc/GaugeFunc collectors that read those counters at
// scrape time, so metrics cost nothing per message.
package metrics

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry collects a process's metrics under the "tickline_" namespace.
type Registry struct {
	reg *prometheus.Registry
	// Server counts the metrics server's refusals (registered as metrics_*_total).
	Server ServerStats
}

// NewRegistry returns a registry with Go runtime and process collectors.
func NewRegistry() *Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg := &Registry{reg: r}
	reg.Counter("metrics_refused_total", "Metrics connections refused: the connection cap was reached with every held connection mid-request.", nil,
		func() float64 { return float64(reg.Server.Refused.Load()) })
	reg.Counter("metrics_evicted_total", "Idle metrics keep-alive connections closed to make room for a new one.", nil,
		func() float64 { return float64(reg.Server.Evicted.Load()) })
	return reg
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

// Server limits: a scraper is untrusted. Headers must arrive within ReadHeaderTimeout,
// the request within ReadTimeout, the answer be taken within WriteTimeout; an idle
// keep-alive is closed after IdleTimeout, and at most MaxConns connections are held: a new
// one beyond it closes the longest-idle connection to make room, or is refused (closed at
// once, counted) when every held one is mid-request (which ReadTimeout bounds).
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxConns          = 64
	MaxHeaderBytes    = 16 << 10
)

// serverLimits are the limits ServeListener applies (tests shorten them).
type serverLimits struct {
	readHeader, read, write, idle time.Duration
	maxConns                      int
}

var limits = serverLimits{ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, MaxConns}

// ServerStats count the metrics server's refusals (exported as tickline_metrics_*).
type ServerStats struct {
	// Refused: connections closed on accept, every held one being mid-request.
	Refused atomic.Uint64
	// Evicted: idle keep-alive connections closed to make room for a new one.
	Evicted atomic.Uint64
}

// Listen listens on addr (host:port) for a metrics server. An empty host means loopback
// (127.0.0.1), not every interface: write 0.0.0.0 or [::] to serve beyond the host.
// Processes call it before they start anything else, so a taken port is a start error
// like any other port.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	if host == "" {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve listens on addr (see Listen) and serves until ctx ends. An empty addr serves
// nothing and returns when ctx ends.
func (r *Registry) Serve(ctx context.Context, addr string, health Health, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	return r.ServeListener(ctx, ln, health, log)
}

// ServeListener serves on ln, which it closes, until ctx ends; it returns after the server
// has shut down (open scrapes get up to 2 s). Processes that must know the address before
// serving (port 0, a bind error reported at start) listen first and call this. The limits
// above apply.
func (r *Registry) ServeListener(ctx context.Context, ln net.Listener, health Health, log *slog.Logger) error {
	lim := limits
	cl := &capListener{Listener: ln, max: lim.maxConns, conns: make(map[net.Conn]*connState), stats: &r.Server}
	srv := &http.Server{Handler: r.Handler(health), ReadHeaderTimeout: lim.readHeader, ReadTimeout: lim.read,
		WriteTimeout: lim.write, IdleTimeout: lim.idle, MaxHeaderBytes: MaxHeaderBytes, ConnState: cl.state,
		ErrorLog: slogLogger(log)}
	log.Info("metrics", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(cl) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close() // scrapes still open after 2 s are cut
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serving on %s: %w", ln.Addr(), err)
	}
	return nil
}

// slogLogger routes net/http's own error lines (TLS junk, bad requests) to debug level.
func slogLogger(log *slog.Logger) *stdlog.Logger {
	return slog.NewLogLogger(log.Handler(), slog.LevelDebug)
}

// capListener holds at most max connections, evicting idle ones first: keep-alives between
// requests, and new connections that have not sent a request yet.
type capListener struct {
	net.Listener
	max   int
	stats *ServerStats
	mu    sync.Mutex
	conns map[net.Conn]*connState
}

type connState struct {
	idle  bool
	since time.Time // when it went idle
}

// Accept returns the next connection that fits under the cap.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit(c) {
			return c, nil
		}
		c.Close()
	}
}

func (l *capListener) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var oldest net.Conn
		var since time.Time
		for oc, st := range l.conns {
			if st.idle && (oldest == nil || st.since.Before(since)) {
				oldest, since = oc, st.since
			}
		}
		if oldest == nil {
			l.stats.Refused.Add(1)
			return false
		}
		delete(l.conns, oldest)
		oldest.Close()
		l.stats.Evicted.Add(1)
	}
	l.conns[c] = &connState{idle: true, since: time.Now()}
	return true
}

// state is the http.Server's ConnState hook.
func (l *capListener) state(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.conns[c]
	switch {
	case s == http.StateClosed || s == http.StateHijacked:
		delete(l.conns, c)
	case !ok:
	case s == http.StateIdle:
		st.idle, st.since = true, time.Now()
	case s == http.StateActive:
		st.idle = false
	} // StateNew: still idle since accept (no request yet)
}
