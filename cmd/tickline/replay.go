package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tickline/tickline/archiver/replay"
	"github.com/tickline/tickline/shared/config"
)

// runReplay runs `tickline replay`: read the archive back from Kafka, filtered, merged in
// time order and arbitrated (each exchange event once), paced, onto the bus or into a
// file. SIGUSR1 pauses, SIGUSR2 resumes; the metrics server's /control endpoints pause,
// resume, change speed and seek. The flags fill replay.Args, which the replay package
// resolves against the topology.
func runReplay(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	var a replay.Args
	fs.Var((*listFlag)(&a.Regions), "regions", "comma-separated regions (default: every region with a topic)")
	fs.Var((*listFlag)(&a.Topics), "topics", "comma-separated topics (in addition to --regions)")
	fs.Var((*listFlag)(&a.Exchanges), "exchanges", "comma-separated exchanges (default: all)")
	fs.Var((*listFlag)(&a.Instruments), "instruments", "comma-separated canonical instruments, e.g. BTC-USDT (default: all)")
	fs.Var((*listFlag)(&a.Kinds), "kinds", "comma-separated kinds: "+strings.Join(replay.KindNames(), ",")+" (default: all)")
	fs.StringVar(&a.From, "from", "", "start time, inclusive: RFC 3339 (sub-second allowed) or Unix ns")
	fs.StringVar(&a.To, "to", "", "end time, exclusive: RFC 3339 or Unix ns")
	fs.StringVar(&a.Speed, "speed", "", `"max" or "<factor>x" (1x, 10x, 0.5x); default replay.speed`)
	fs.StringVar(&a.Output, "output", "", strings.Join(replay.OutputNames(), ", ")+"; default replay.output")
	fs.StringVar(&a.Publish, "publish", "", "endpoint for zmq output; default replay.publish")
	fs.StringVar(&a.Path, "path", "", `file for file outputs ("-" = stdout); default replay.path`)
	fs.IntVar(&a.WaitSubscribers, "wait-subscribers", 1, "zmq output: wait for this many subscribers before the first record")
	progress := fs.Bool("progress", true, "progress bar on stderr (records written, rate, ETA), for every output")
	fs.BoolVar(&a.Follow, "follow", false, "keep reading what the archiver writes after the end (a live tail) until interrupted or --to")
	metricsAddr := fs.String("metrics", "", "host:port for /metrics, /healthz and /control (port 0 picks a free port, logged); default replay.metrics (none)")
	fs.StringVar(&a.Order, "order", "event", "merge order: event (exchange time, for analysis) or publish (each gateway's publish order: what a live subscriber saw, for a strategy)")
	fs.DurationVar(&a.Reorder, "reorder", 250*time.Millisecond, "event order: also order each partition's records by event time within this window (0 = archive order within a partition)")
	fs.BoolVar(&a.AllCopies, "all-copies", false, "keep every archived copy of an event (default: each exchange event once, arbitrated like the live receivers)")
	applySeeds := seedsFlag(fs)
	topo, err := parseConfig(fs, args, e)
	if err != nil {
		return err
	}
	applySeeds(topo)
	if *metricsAddr != "" {
		if err := checkMetricsFlag(topo, *metricsAddr); err != nil {
			return err
		}
	}
	if *progress {
		a.Progress = e.stderr
	}
	a.ReorderSet = flagSet(fs, "reorder")
	r, err := replay.Open(ctx, topo, a, e.stdout, e.log)
	if err != nil {
		return err
	}
	defer pauseOnSignals(ctx, r, e)()
	start := time.Now()
	if err := r.Run(ctx); err != nil {
		return err
	}
	return r.Report(ctx.Err() != nil, time.Since(start))
}

// pauseOnSignals pauses r on SIGUSR1 and resumes it on SIGUSR2 until ctx ends or the
// returned function is called (which waits for the signal goroutine).
func pauseOnSignals(ctx context.Context, r *replay.Replayer, e *env) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	return func() { signal.Stop(sigs); cancel(); <-done }
}

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

// listFlag is a comma-separated list flag: each use appends its items.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *listFlag) Set(s string) error {
	*l = append(*l, split(s)...)
	return nil
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
