package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tickline/tickline/archiver/replay"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// runReplay runs `tickline replay`: read the archive back from Kafka, filtered, merged in
// time order and arbitrated (each exchange event once), paced, onto the bus or into a
// file. SIGUSR1 pauses, SIGUSR2 resumes; the metrics server's /control endpoints pause,
// resume, change speed and seek.
func runReplay(ctx context.Context, args []string, e *env) error {
	fs := newFlags("replay", e)
	cfgPath := fs.String("config", "", "topology file")
	regions := fs.String("regions", "", "comma-separated regions (default: every region with a topic)")
	topics := fs.String("topics", "", "comma-separated topics (in addition to --regions)")
	exchanges := fs.String("exchanges", "", "comma-separated exchanges (default: all)")
	instruments := fs.String("instruments", "", "comma-separated canonical instruments, e.g. BTC-USDT (default: all)")
	kinds := fs.String("kinds", "", "comma-separated kinds: "+strings.Join(kindNames(), ",")+" (default: all)")
	from := fs.String("from", "", "start time, inclusive: RFC 3339 (sub-second allowed) or Unix ns")
	to := fs.String("to", "", "end time, exclusive: RFC 3339 or Unix ns")
	speed := fs.String("speed", "", `"max" or "<factor>x" (1x, 10x, 0.5x); default replay.speed`)
	output := fs.String("output", "", "zmq, jsonl, csv or parquet; default replay.output")
	publish := fs.String("publish", "", "endpoint for zmq output; default replay.publish")
	path := fs.String("path", "", `file for jsonl/csv/parquet ("-" = stdout); default replay.path`)
	waitSubs := fs.Int("wait-subscribers", 1, "zmq output: wait for this many subscribers before the first record")
	progress := fs.Bool("progress", true, "progress bar on stderr (records written, rate, ETA), for every output")
	follow := fs.Bool("follow", false, "keep reading what the archiver writes after the end (a live tail) until interrupted or --to")
	metricsAddr := fs.String("metrics", "", "host:port for /metrics, /healthz and /control (port 0 picks a free port, logged); default replay.metrics (none)")
	order := fs.String("order", "event", "merge order: event (exchange time, for analysis) or publish (each gateway's publish order: what a live subscriber saw, for a strategy)")
	reorder := fs.Duration("reorder", 250*time.Millisecond, "event order: also order each partition's records by event time within this window (0 = archive order within a partition)")
	allCopies := fs.Bool("all-copies", false, "keep every archived copy of an event (default: each exchange event once, arbitrated like the live receivers)")
	seeds := fs.String("seeds", "", "comma-separated Kafka bootstrap brokers; default archiver.seeds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() != 0 {
		return errUsage
	}
	topo, err := loadTopology(*cfgPath, e)
	if err != nil {
		return err
	}
	if *seeds != "" {
		topo.Archiver.Seeds = split(*seeds)
	}
	if *metricsAddr != "" {
		if err := checkMetricsFlag(topo, *metricsAddr); err != nil {
			return err
		}
	}
	rc := topo.Replay
	pick := func(flag, def string) string {
		if flag != "" {
			return flag
		}
		return def
	}
	opts := replay.Options{Regions: split(*regions), Topics: split(*topics), Instruments: split(*instruments), Metrics: rc.Metrics,
		AllCopies: *allCopies, Follow: *follow}
	if *progress {
		opts.Progress = e.stderr
	}
	switch *order {
	case "event":
		opts.Order = replay.OrderEvent
	case "publish":
		opts.Order = replay.OrderPublish
		if flagSet(fs, "reorder") && *reorder != 0 {
			return fmt.Errorf("--reorder: applies to --order event only (publish order is exact per gateway)")
		}
		*reorder = 0
	default:
		return fmt.Errorf("--order: unknown order %q (valid: event, publish)", *order)
	}
	opts.Reorder = *reorder
	if opts.Speed, err = config.ParseSpeed(pick(*speed, rc.Speed)); err != nil {
		return fmt.Errorf("--speed: %w", err)
	}
	for _, s := range split(*exchanges) {
		ex, err := wire.ParseExchange(s)
		if err != nil {
			return fmt.Errorf("--exchanges: unknown exchange %q (valid: %s)", s, strings.Join(exchangeNames(), ", "))
		}
		opts.Exchanges = append(opts.Exchanges, ex)
	}
	for _, s := range split(*kinds) {
		k, err := wire.ParseKind(s)
		if err != nil {
			return fmt.Errorf("--kinds: unknown kind %q (valid: %s)", s, strings.Join(kindNames(), ", "))
		}
		opts.Kinds = append(opts.Kinds, k)
	}
	if *from != "" {
		if opts.From, err = replay.ParseTime(*from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if *to != "" {
		if opts.To, err = replay.ParseTime(*to); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}

	var sink replay.Sink
	switch out := pick(*output, rc.Output); out {
	case "zmq":
		ep := pick(*publish, rc.Publish)
		if ep == "" {
			return fmt.Errorf("--publish: required for zmq output")
		}
		z, err := replay.NewZMQSink(ctx, ep, replay.ZMQOptions{WaitSubscribers: *waitSubs,
			Bus: bus.Options{QueueDepth: topo.Bus.QueueDepth, MaxMessageBytes: topo.Bus.MaxMessageBytes}}, e.log)
		if err != nil {
			return err
		}
		sink = z
	case "jsonl", "csv", "parquet":
		w, err := openOutput(pick(*path, rc.Path), e)
		if err != nil {
			return err
		}
		switch out {
		case "jsonl":
			sink = replay.NewJSONLSink(w)
		case "csv":
			sink = replay.NewCSVSink(w)
		default:
			sink = replay.NewParquetSink(w)
		}
	default:
		return fmt.Errorf("--output: unknown output %q (want zmq, jsonl, csv or parquet)", out)
	}

	r, err := replay.New(topo, opts, sink, e.log)
	if err != nil {
		sink.Close()
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGUSR1 {
					r.Pause()
					e.log.Info("replay: paused (SIGUSR2 resumes)")
				} else {
					r.Resume()
					e.log.Info("replay: resumed")
				}
			}
		}
	}()
	start := time.Now()
	if err := r.Run(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	e.log.Info("replay: done", "written", r.Stats.Written.Load(), "duplicates_dropped", r.Stats.Duplicates.Load(),
		"filtered", r.Stats.Filtered.Load(), "malformed", r.Stats.Malformed.Load(), "order_inversions", r.Stats.Inversions.Load(),
		"paused", r.PausedFor().Round(time.Millisecond).String(), "elapsed", el.Round(time.Millisecond).String(),
		"records_per_s", int64(float64(r.Stats.Written.Load())/max(el.Seconds(), 1e-9)), "interrupted", ctx.Err() != nil)
	if ctx.Err() == nil && r.Stats.Written.Load() == 0 {
		// Nothing matched: say so and fail, so a typo in a filter is not a silent success.
		e.log.Warn("replay: nothing matched the selection", "read", r.Stats.Read.Load(), "filtered", r.Stats.Filtered.Load(),
			"in_range", r.Stats.Total.Load())
		return fmt.Errorf("%w: %d records in range, %d read, %d filtered out (check --regions, --exchanges, --instruments, --kinds, --from, --to)",
			errNothingMatched, r.Stats.Total.Load(), r.Stats.Read.Load(), r.Stats.Filtered.Load())
	}
	return nil
}

// errNothingMatched: the replay ran but its selection matched no record (exit status 1).
var errNothingMatched = errors.New("nothing matched the selection")

// checkMetricsFlag checks --metrics like the file's replay.metrics key (format, no clash
// with another address of the topology) and sets it; port 0 (a free port, logged when
// the replay starts) cannot clash and skips the topology check.
func checkMetricsFlag(topo *config.Topology, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && port == "0" {
		if strings.ContainsAny(host, "/ \t?#@") {
			return fmt.Errorf("--metrics: address %q: bad host", addr)
		}
		topo.Replay.Metrics = addr
		return nil
	}
	topo.Replay.Metrics = addr
	if err := topo.Validate(); err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	return nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// kindNames lists the record kinds --kinds accepts.
func kindNames() []string {
	var out []string
	for k := wire.Kind(1); k.Valid(); k++ {
		out = append(out, k.String())
	}
	return out
}

// exchangeNames lists the exchanges --exchanges accepts.
func exchangeNames() []string {
	var out []string
	for x := wire.Exchange(1); x.Valid(); x++ {
		out = append(out, x.String())
	}
	return out
}

// openOutput opens the file output; "-" is stdout, which the sink must not close.
func openOutput(path string, e *env) (io.Writer, error) {
	if path == "-" {
		return struct{ io.Writer }{e.stdout}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("replay output: %w", err)
	}
	return f, nil
}

// split splits a comma-separated flag, dropping empty items.
func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
