package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// Args are `tickline replay`'s settings as typed on the command line (lists already split
// at commas), which Options and Open parse, naming the flag at fault. An empty text takes
// the topology's replay default (replay.speed, replay.output, replay.publish, replay.path).
type Args struct {
	Regions, Topics, Exchanges, Instruments, Kinds []string
	From, To, Speed                                string
	Output, Publish, Path                          string
	// Order is "event" or "publish"; Reorder applies to event order only (ReorderSet: the
	// flag was given, so publish order with a non-zero window is an error).
	Order      string
	Reorder    time.Duration
	ReorderSet bool
	// WaitSubscribers: a publishing output waits for this many subscribers.
	WaitSubscribers int
	AllCopies       bool
	Follow          bool
	// Progress receives the progress bar (nil = none).
	Progress io.Writer
}

// ErrNothingMatched: the replay ran to its end but its selection matched no record.
var ErrNothingMatched = errors.New("nothing matched the selection")

// Options resolves the selection and pacing against topo's replay defaults.
func (a Args) Options(topo *config.Topology) (Options, error) {
	rc := topo.Replay
	opts := Options{Regions: a.Regions, Topics: a.Topics, Instruments: a.Instruments,
		Metrics: rc.Metrics, AllCopies: a.AllCopies, Follow: a.Follow, Progress: a.Progress, Reorder: a.Reorder}
	switch a.Order {
	case "event", "":
		opts.Order = OrderEvent
	case "publish":
		opts.Order = OrderPublish
		if a.ReorderSet && a.Reorder != 0 {
			return Options{}, fmt.Errorf("--reorder: applies to --order event only (publish order is exact per gateway)")
		}
		opts.Reorder = 0
	default:
		return Options{}, fmt.Errorf("--order: unknown order %q (valid: event, publish)", a.Order)
	}
	var err error
	if opts.Speed, err = config.ParseSpeed(or(a.Speed, rc.Speed)); err != nil {
		return Options{}, fmt.Errorf("--speed: %w", err)
	}
	if opts.Exchanges, err = parseList(a.Exchanges, "--exchanges", "exchange", wire.ParseExchange, ExchangeNames()); err != nil {
		return Options{}, err
	}
	if opts.Kinds, err = parseList(a.Kinds, "--kinds", "kind", wire.ParseKind, KindNames()); err != nil {
		return Options{}, err
	}
	if a.From != "" {
		if opts.From, err = ParseTime(a.From); err != nil {
			return Options{}, fmt.Errorf("--from: %w", err)
		}
	}
	if a.To != "" {
		if opts.To, err = ParseTime(a.To); err != nil {
			return Options{}, fmt.Errorf("--to: %w", err)
		}
	}
	return opts, nil
}

// parseList parses a list flag's items with parse; an unknown item is an error that lists
// the valid ones.
func parseList[T any](items []string, flag, what string, parse func(string) (T, error), valid []string) ([]T, error) {
	var out []T
	for _, item := range items {
		v, err := parse(item)
		if err != nil {
			return nil, fmt.Errorf("%s: unknown %s %q (valid: %s)", flag, what, item, strings.Join(valid, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}

// KindNames lists the record kinds a selection may name.
func KindNames() []string {
	var out []string
	for k := wire.Kind(1); k.Valid(); k++ {
		out = append(out, k.String())
	}
	return out
}

// ExchangeNames lists the exchanges a selection may name.
func ExchangeNames() []string {
	var out []string
	for _, x := range wire.Exchanges() {
		out = append(out, x.String())
	}
	return out
}

// Open resolves a against topo, opens the output and returns the replayer, ready to Run
// (which closes the output). stdout is the file output "-".
func Open(ctx context.Context, topo *config.Topology, a Args, stdout io.Writer, log *slog.Logger) (*Replayer, error) {
	opts, err := a.Options(topo)
	if err != nil {
		return nil, err
	}
	rc := topo.Replay
	sink, err := OpenOutput(ctx, or(a.Output, rc.Output), OutputConfig{Publish: or(a.Publish, rc.Publish),
		Path: or(a.Path, rc.Path), Stdout: stdout, WaitSubscribers: a.WaitSubscribers, Log: log,
		Bus: bus.PublisherOptions(&topo.Bus)})
	if err != nil {
		return nil, err
	}
	r, err := New(topo, opts, sink, log)
	if err != nil {
		sink.Close()
		return nil, err
	}
	return r, nil
}

// Report logs the end-of-run summary of a replay that ran for elapsed and returns
// ErrNothingMatched (wrapped, with the counts and the filters to check) when it wrote
// nothing without being interrupted: a typo in a filter is not a silent success.
func (r *Replayer) Report(interrupted bool, elapsed time.Duration) error {
	s := &r.Stats
	r.log.Info("replay: done", "written", s.Written.Load(), "duplicates_dropped", s.Duplicates.Load(),
		"filtered", s.Filtered.Load(), "malformed", s.Malformed.Load(), "order_inversions", s.Inversions.Load(),
		"paused", r.PausedFor().Round(time.Millisecond).String(), "elapsed", elapsed.Round(time.Millisecond).String(),
		"records_per_s", int64(float64(s.Written.Load())/max(elapsed.Seconds(), 1e-9)), "interrupted", interrupted)
	if interrupted || s.Written.Load() != 0 {
		return nil
	}
	r.log.Warn("replay: nothing matched the selection", "read", s.Read.Load(), "filtered", s.Filtered.Load(),
		"in_range", s.Total.Load())
	return fmt.Errorf("%w: %d records in range, %d read, %d filtered out (check --regions, --exchanges, --instruments, --kinds, --from, --to)",
		ErrNothingMatched, s.Total.Load(), s.Read.Load(), s.Filtered.Load())
}

// or returns flag when set, else def.
func or(flag, def string) string {
	if flag != "" {
		return flag
	}
	return def
}
