package gwbench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/tickline/tickline/shared/bus"
)

// ChildMain runs the measured child (see Run) and returns its exit code.
func ChildMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := child(args, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "gwbench child:", err)
		return 1
	}
	return 0
}

// queueDepth is the publisher's per-subscriber queue; a pass starts only when the
// subscriber's queue is below half of it, so nothing is dropped.
const queueDepth = 1 << 18

// yieldAbove: with more messages queued than this, the replay yields the one CPU to the
// bus writer, as a gateway's connection goroutines do each time they wait on a socket. A
// replay that never waits would let the queue grow to queueDepth/2 between the writer's
// preemption slots, and every message would then be copied into a cache-cold slot of a
// queue far longer than a gateway ever builds.
const yieldAbove = 1024

func child(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("gwbench child", flag.ContinueOnError)
	root := fs.String("root", ".", "repository directory")
	rate := fs.Float64("rate", 1000, "simulator events/book/s while capturing")
	capFor := fs.Duration("capture", 2*time.Second, "capture length")
	measure := fs.Duration("measure", 2*time.Second, "CPU time per phase")
	venues := fs.String("venues", "", "comma-separated venues (default: all captured)")
	noMixed := fs.Bool("no-mixed", false, "skip the mixed phase")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	c, err := capture(ctx, *root, *rate, *capFor)
	if err != nil {
		return err
	}
	pub, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{QueueDepth: queueDepth}, quiet)
	if err != nil {
		return err
	}
	defer pub.Close()
	fmt.Fprintf(stdout, "EP %s\n", pub.Endpoint())
	deadline := time.Now().Add(15 * time.Second)
	for pub.Subscribed() == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("no subscriber within 15 s")
		}
		time.Sleep(5 * time.Millisecond) // polling the publisher for the subscription
	}
	fmt.Fprintf(stdout, "CAPTURED %d\n", len(c.entries))
	p, err := newPipeline(c, pub)
	if err != nil {
		return err
	}
	phases := sortedVenues(c)
	if *venues != "" {
		phases = strings.Split(*venues, ",")
	}
	if !*noMixed {
		phases = append(phases, "mixed")
	}
	if path := os.Getenv(ProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var total uint64
	for _, ph := range phases {
		var in []*entry
		for i := range c.entries {
			if ph == "mixed" || c.conns[c.entries[i].conn].venue == ph {
				in = append(in, &c.entries[i])
			}
		}
		if len(in) == 0 {
			return fmt.Errorf("phase %s: nothing captured", ph)
		}
		r := runPhase(p, in, *measure)
		total += r.Records
		fmt.Fprintf(stdout, "RESULT %s %d %d %d %d %d\n", ph, r.Frames, r.Records, r.ParseErrors, int64(r.CPUSeconds*1e9), int64(r.WallSeconds*1e9))
	}
	fmt.Fprintf(stdout, "END %d\n", total)
	bufio.NewScanner(stdin).Scan() // quit: the parent has counted everything
	return nil
}

// runPhase replays in until measure of CPU is used, then waits for the publisher's queue
// to drain (its writer's work belongs to the cost) and returns the phase's figures.
func runPhase(p *pipeline, in []*entry, measure time.Duration) Result {
	drain := func(limit int) {
		for p.pub.MaxQueued() > limit {
			time.Sleep(200 * time.Microsecond) // off-CPU while the subscriber catches up
		}
	}
	drain(0)
	runtime.GC()
	f0, r0, e0 := p.frames, p.records, p.parseErrors
	c0, w0 := cpuNow(), time.Now()
	for cpuNow()-c0 < int64(measure) {
		p.reset()
		for i, e := range in {
			if i%64 == 0 && p.pub.MaxQueued() > yieldAbove {
				runtime.Gosched()
			}
			if i%4096 == 0 {
				drain(queueDepth / 2)
			}
			p.handle(e)
		}
	}
	drain(0)
	cpu, wall := cpuNow()-c0, time.Since(w0)
	return Result{Frames: p.frames - f0, Records: p.records - r0, ParseErrors: p.parseErrors - e0,
		CPUSeconds: float64(cpu) / 1e9, WallSeconds: wall.Seconds()}
}
