// Package gwbench measures the gateway's cost per record on one core: frames captured
// from the simulator (a whole gateway's connections of the demo topology: every venue,
// its symbols and channels, REST book snapshots where the venue needs them) are replayed
// from memory through the gateway path — parse, chain, stamp, encode, publish — to one bus
// subscriber in another process.
//
// The measured process is a child started with GOMAXPROCS=1 (the current binary re-run
// with ChildEnv=1, see IsChild and ChildMain): its CPU time (getrusage: user + system,
// every goroutine included, the bus writer's socket writes too) over each phase gives
// records per CPU-second, i.e. records/s on one core. The subscriber runs in the parent
// and is the oracle: it must receive every record the child published, with gateway
// sequence numbers 1, 2, 3, … without a hole.
//
// Phases: each venue's frames alone, then all venues' frames interleaved in capture order
// ("mixed"). A phase replays the captured stream (books reset between passes) until it
// has used Config.Measure of CPU.
package gwbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tickline/tickline/bench/proc"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/wire"
)

// ChildEnv marks a process started by Run as the measured child.
const ChildEnv = "TICKLINE_GWBENCH_CHILD"

// ProfileEnv, set to a file name in the environment of Run (benchrun), makes the measured
// child write a CPU profile of its phases there: go tool pprof <binary> <file>.
const ProfileEnv = "TICKLINE_GWBENCH_CPUPROFILE"

// IsChild reports whether this process is Run's measured child; its main must then call
// ChildMain instead of doing its own work.
func IsChild() bool { return os.Getenv(ChildEnv) == "1" }

// Config bounds a run.
type Config struct {
	Root    string        `json:"-"`                  // a directory at or below the repository root (configs/demo.yaml)
	SimRate float64       `json:"sim_rate"`           // simulator events/book/s while capturing
	Capture time.Duration `json:"capture"`            // capture length
	Measure time.Duration `json:"measure_cpu"`        // CPU time per phase
	Venues  []string      `json:"venues,omitempty"`   // phases to run alone (nil: every captured venue)
	NoMixed bool          `json:"no_mixed,omitempty"` // skip the mixed phase
}

// DefaultConfig is what `make bench` runs.
func DefaultConfig(root string) Config {
	return Config{Root: root, SimRate: 1000, Capture: 2 * time.Second, Measure: 2 * time.Second}
}

// Result is one phase.
type Result struct {
	Venue         string  `json:"venue"` // exchange, or "mixed"
	Frames        uint64  `json:"frames"`
	Records       uint64  `json:"records"`
	ParseErrors   uint64  `json:"parse_errors"`
	CPUSeconds    float64 `json:"cpu_s"`
	WallSeconds   float64 `json:"wall_s"`
	RecordsPerCPU float64 `json:"records_per_cpu_s"` // records/s on one core
	NsPerRecord   float64 `json:"ns_per_record"`
	FramesPerCPU  float64 `json:"frames_per_cpu_s"`
}

// Report is a run's phases and what the subscriber saw.
type Report struct {
	Results   []Result `json:"results"`
	Published uint64   `json:"published"` // by the child, all phases
	Received  uint64   `json:"received"`  // by the subscriber
	Holes     uint64   `json:"holes"`     // gateway-sequence holes the subscriber saw
	Captured  int      `json:"captured_inputs"`
}

// Run starts the child (exe re-executed with ChildEnv=1 and GOMAXPROCS=1), subscribes to
// its publisher, collects its phase results and checks every record arrived.
func Run(ctx context.Context, cfg Config, exe string, progress func(string)) (Report, error) {
	var rep Report
	c, err := startChild(ctx, cfg, exe)
	if err != nil {
		return rep, err
	}
	defer func() { c.In.Close(); _ = c.Cmd.Wait() }()
	l, err := c.Next(cfg.Capture + time.Minute)
	if err != nil {
		return rep, c.fail(err)
	}
	ep, ok := strings.CutPrefix(l, "EP ")
	if !ok {
		return rep, c.fail(fmt.Errorf("child said %q, want EP", l))
	}
	sub := newCounter()
	if err := sub.start(ep); err != nil {
		return rep, c.fail(err)
	}
	defer sub.stop()
	if err := c.readReport(&rep, cfg.Measure*20+time.Minute, progress); err != nil {
		return rep, c.fail(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sub.received() < rep.Published && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling the subscriber's count
	}
	io.WriteString(c.In, "quit\n")
	rep.Received, rep.Holes = sub.received(), sub.holes()
	if err := sub.err(); err != nil {
		return rep, c.fail(err)
	}
	if rep.Received != rep.Published || rep.Holes != 0 {
		return rep, c.fail(fmt.Errorf("subscriber received %d of %d published records, %d sequence holes", rep.Received, rep.Published, rep.Holes))
	}
	return rep, nil
}

// childProc is the measured child.
type childProc struct{ *proc.Proc }

// startChild re-executes exe as the measuring child with cfg's flags, on one CPU.
func startChild(ctx context.Context, cfg Config, exe string) (childProc, error) {
	args := []string{"-root", cfg.Root, "-rate", fmt.Sprint(cfg.SimRate), "-capture", cfg.Capture.String(), "-measure", cfg.Measure.String()}
	if len(cfg.Venues) > 0 {
		args = append(args, "-venues", strings.Join(cfg.Venues, ","))
	}
	if cfg.NoMixed {
		args = append(args, "-no-mixed")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1", "GOMAXPROCS=1")
	p, err := proc.Start(cmd)
	if err != nil {
		return childProc{}, fmt.Errorf("gwbench: starting child: %w", err)
	}
	return childProc{p}, nil
}

// fail wraps err with what the child wrote to stderr.
func (c childProc) fail(err error) error {
	return fmt.Errorf("gwbench: %w (child stderr: %s)", err, c.Stderr())
}

// readReport reads the child's CAPTURED and RESULT lines into rep until its END line, each
// within wait.
func (c childProc) readReport(rep *Report, wait time.Duration, progress func(string)) error {
	for {
		l, err := c.Next(wait)
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(l, "CAPTURED "); ok {
			rep.Captured, _ = strconv.Atoi(rest)
			continue
		}
		if rest, ok := strings.CutPrefix(l, "RESULT "); ok {
			r, err := parseResult(rest)
			if err != nil {
				return err
			}
			rep.Results = append(rep.Results, r)
			if progress != nil {
				progress(fmt.Sprintf("gateway cost: %s %.0f records/s/core", r.Venue, r.RecordsPerCPU))
			}
			continue
		}
		if rest, ok := strings.CutPrefix(l, "END "); ok {
			rep.Published, _ = strconv.ParseUint(rest, 10, 64)
			return nil
		}
		return fmt.Errorf("unexpected child line %q", l)
	}
}

func parseResult(s string) (Result, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return Result{}, fmt.Errorf("bad RESULT %q", s)
	}
	r := Result{Venue: f[0]}
	var cpuNs, wallNs uint64
	for i, p := range []*uint64{&r.Frames, &r.Records, &r.ParseErrors, &cpuNs, &wallNs} {
		v, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return r, fmt.Errorf("bad RESULT %q: %w", s, err)
		}
		*p = v
	}
	r.CPUSeconds, r.WallSeconds = float64(cpuNs)/1e9, float64(wallNs)/1e9
	if cpuNs > 0 {
		r.RecordsPerCPU = float64(r.Records) / r.CPUSeconds
		r.FramesPerCPU = float64(r.Frames) / r.CPUSeconds
	}
	if r.Records > 0 {
		r.NsPerRecord = float64(cpuNs) / float64(r.Records)
	}
	return r, nil
}

// counter is the parent's bus subscriber: it counts records and gateway-sequence holes.
type counter struct {
	sub    *bus.Subscriber
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	n       uint64 // guarded by mu
	last    uint64 // guarded by mu
	gaps    uint64 // guarded by mu
	firstEr error  // guarded by mu
}

func newCounter() *counter { return &counter{done: make(chan struct{})} }

var quiet = slog.New(slog.DiscardHandler)

func (c *counter) start(ep string) error {
	c.sub = bus.NewSubscriber(bus.SubOptions{}, quiet)
	if err := c.sub.Connect(ep); err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	c.sub.Subscribe("")
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		var h wire.Header
		_ = c.sub.Run(ctx, func(batch []bus.Message) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, m := range batch {
				if err := wire.ReadHeader(m.Payload, &h); err != nil {
					if c.firstEr == nil {
						c.firstEr = fmt.Errorf("subscriber: record %d: %w", c.n+1, err)
					}
					continue
				}
				if h.GatewaySeq != c.last+1 {
					c.gaps++
				}
				c.last = h.GatewaySeq
				c.n++
			}
		})
	}()
	return nil
}

func (c *counter) received() uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
func (c *counter) holes() uint64    { c.mu.Lock(); defer c.mu.Unlock(); return c.gaps }
func (c *counter) err() error       { c.mu.Lock(); defer c.mu.Unlock(); return c.firstEr }

func (c *counter) stop() {
	c.cancel()
	<-c.done
	c.sub.Close()
}

// cpuNow is the process's CPU time (user + system) in ns.
func cpuNow() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// sortedVenues returns the venues of the captured connections.
func sortedVenues(c *captured) []string {
	seen := map[string]bool{}
	var out []string
	for _, cp := range c.conns {
		if !seen[cp.venue] {
			seen[cp.venue] = true
			out = append(out, cp.venue)
		}
	}
	sort.Strings(out)
	return out
}
