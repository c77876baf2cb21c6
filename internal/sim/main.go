package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Main runs `tickline sim` with args (without the program and subcommand names) until ctx
// ends or --duration passes:
//
//	tickline sim --listen 127.0.0.1:18080 --seed 1 --rate 1000 [--replay ex=file]...
//	             [--loop] [--duration 60s] [--max-events N] [--depth 30] [--fx 1380]
//	             [--exchanges binance,okx] [--fault ex:gap=100,dup=50,...]
//	             [--metrics 127.0.0.1:9601] [--events FILE] [--generate-for 60s]
//	             [--frame-per-event]
//
// It prints the listening address (and the metrics address) to stdout and logs to stderr.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickline sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	var replays, faults multiFlag
	var exchanges string
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:18080", "loopback address to serve every exchange on")
	fs.StringVar(&opts.Metrics, "metrics", "", "host:port for /metrics and /healthz (default: none)")
	fs.Uint64Var(&opts.Seed, "seed", 1, "market model seed")
	fs.Float64Var(&opts.Rate, "rate", DefaultRate, "events per second per (exchange, symbol) book; replay: frames per second per connection")
	fs.Uint64Var(&opts.MaxEvents, "max-events", 0, "stop generating after this many events (0: no limit)")
	fs.DurationVar(&opts.Duration, "duration", 0, "stop after this long (0: until interrupted)")
	fs.IntVar(&opts.Depth, "depth", DefaultDepth, "levels per side of every book")
	fs.Float64Var(&opts.FX, "fx", DefaultFX, "KRW per USD before the Korean premium")
	fs.StringVar(&exchanges, "exchanges", "", "comma-separated exchanges to serve (default: all ten)")
	fs.Var(&replays, "replay", "exchange=file: serve that file's lines (one raw frame each) instead of the model (repeatable)")
	fs.BoolVar(&opts.ReplayLoop, "loop", false, "loop replay files")
	fs.StringVar(&opts.Events, "events", "", "write every emitted exchange event to this file as JSON lines (ground truth; internal/sim/events.go)")
	fs.Int64Var(&opts.EventsMaxBytes, "events-max-bytes", DefaultEventsMaxBytes, "bound of the --events file; lines beyond it are counted as dropped")
	fs.DurationVar(&opts.GenerateFor, "generate-for", 0, "stop generating events after this long but keep serving (0: never)")
	fs.BoolVar(&opts.FramePerEvent, "frame-per-event", false, "no batching: each event when due, stamped when generated, in its own frame and write (latency runs)")
	fs.Var(&faults, "fault", "exchange:key=N,...: faults (disconnect, stall, dup, gap, reorder, malformed, oversized, refuse, status); exchange * = all (repeatable)")
	verbose := fs.Bool("v", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("tickline sim: unexpected argument %q", fs.Arg(0))
	}
	if exchanges != "" {
		opts.Exchanges = strings.Split(exchanges, ",")
	}
	for _, r := range replays {
		ex, file, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("tickline sim: --replay %q: want exchange=file", r)
		}
		if opts.Replay == nil {
			opts.Replay = map[string][]string{}
		}
		opts.Replay[ex] = append(opts.Replay[ex], file)
	}
	for _, f := range faults {
		ex, fault, err := ParseFault(f)
		if err != nil {
			return fmt.Errorf("tickline sim: --fault %q: %w", f, err)
		}
		if opts.Faults == nil {
			opts.Faults = map[string]Fault{}
		}
		opts.Faults[ex] = fault
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	s, err := New(opts, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tickline sim: serving %d exchanges on %s (ws://%s/<exchange>/...)\n", len(s.hubs), s.Addr(), s.Addr())
	if a := s.MetricsAddr(); a != "" {
		fmt.Fprintf(stdout, "tickline sim: metrics on %s (/metrics, /healthz)\n", a)
	}
	err = s.Run(ctx)
	st := s.Stats()
	log.Info("sim: stopped", "events", st.Events, "frames", st.Total.Frames, "bytes", st.Total.Bytes,
		"conns", st.Total.Conns, "gaps", st.Total.Gaps, "disconnects", st.Total.Disconnects)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// ParseFault parses "exchange:key=value,..." (keys: disconnect, disconnect-after,
// stall, stall-for, stall-dead, dup, gap, reorder, malformed, oversized, refuse, status,
// retry-after; durations for disconnect-after, stall-for, retry-after).
func ParseFault(s string) (string, Fault, error) {
	ex, spec, ok := strings.Cut(s, ":")
	var f Fault
	if !ok || ex == "" {
		return "", f, errors.New("want exchange:key=value[,key=value]")
	}
	counts := map[string]*int{"disconnect": &f.DisconnectAfter, "stall": &f.StallAfter,
		"dup": &f.DuplicateEvery, "gap": &f.GapEvery, "reorder": &f.ReorderEvery,
		"malformed": &f.MalformedEvery, "oversized": &f.OversizedEvery,
		"refuse": &f.RefuseConnects, "status": &f.RefuseStatus}
	durations := map[string]*time.Duration{"disconnect-after": &f.DisconnectAfterTime,
		"stall-for": &f.StallFor, "retry-after": &f.RetryAfter}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		var err error
		n, isCount := counts[k]
		d, isDuration := durations[k]
		switch {
		case isCount:
			_, err = fmt.Sscan(v, n)
		case isDuration:
			*d, err = time.ParseDuration(v)
		case k == "stall-dead":
			f.StallHeartbeats = true
		default:
			return "", f, fmt.Errorf("unknown fault %q", k)
		}
		if err != nil {
			return "", f, fmt.Errorf("fault %s: %w", k, err)
		}
	}
	return ex, f, f.validate()
}
