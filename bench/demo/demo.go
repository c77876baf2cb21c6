// Package demo runs the whole pipeline in one process on the embedded demo topology: the
// exchange simulator (all ten exchanges), two gateways in two regions, the strategy and —
// when an archive hook is given — the archiver into an embedded Kafka and a replay into a
// second strategy, with a live terminal view.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tickline/tickline/bench/sim"
	"github.com/tickline/tickline/configs"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/strategy"
)

// Options tune the demo.
type Options struct {
	Duration time.Duration // 0: until ctx ends (Ctrl-C)
	Rate     float64       // simulator events per book per second (default 20)
	Out      io.Writer     // the live view
	TTY      bool          // redraw in place (ANSI) instead of appending
	Dir      string        // working directory (opportunities, archive); default a temp dir
	// Archive, when set, runs the archiver and, after the live phase, the replay check; it
	// is given the topology and the directory and returns a function that runs until ctx
	// ends, plus a function reporting how many records were archived.
	Archive func(ctx context.Context, topo *config.Topology, dir string, log *slog.Logger) (run func(ctx context.Context) error, archived func() uint64, err error)
	// Replay, when set, replays the archive at speed into a second strategy built from
	// topo with the given endpoints override, and returns its opportunities.
	Replay func(ctx context.Context, topo *config.Topology, dir string, log *slog.Logger) ([]strategy.Opportunity, error)
}

// Topology returns the embedded demo topology.
func Topology() (*config.Topology, error) { return config.Parse(configs.Demo) }

// Run runs the demo until ctx ends or Duration passes, then (with Replay) checks that the
// replayed archive gives the same opportunities as the live run.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "tickline-demo-")
		if err != nil {
			return err
		}
		opts.Dir = d
	}
	topo, err := Topology()
	if err != nil {
		return err
	}
	simAddr := simListen(topo)
	if err := portFree(simAddr); err != nil {
		return fmt.Errorf("demo: the simulator needs %s: %w", simAddr, err)
	}
	s, err := sim.New(sim.Options{Listen: simAddr, Seed: 42, Rate: opts.Rate}, log)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Duration > 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithTimeout(runCtx, opts.Duration)
		defer c2()
	}
	var wg sync.WaitGroup
	fail := make(chan error, 8)
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(runCtx); err != nil && runCtx.Err() == nil {
				fail <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("simulator", s.Run)
	for _, g := range topo.Gateways {
		gw, err := gateway.New(topo, g.ID, gateway.Options{}, log)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		goRun("gateway "+g.ID, gw.Run)
	}
	var archived func() uint64
	if opts.Archive != nil {
		run, count, err := opts.Archive(runCtx, topo, opts.Dir, log)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("archiver: %w", err)
		}
		archived = count
		goRun("archiver", run)
	}
	var mu sync.Mutex
	var live []strategy.Opportunity
	oppFile, err := os.Create(filepath.Join(opts.Dir, "opportunities.jsonl"))
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	defer oppFile.Close()
	st, err := strategy.New(topo, strategy.Options{Out: oppFile, OnOpportunity: func(o strategy.Opportunity) {
		mu.Lock()
		live = append(live, o)
		mu.Unlock()
	}}, log)
	if err != nil {
		cancel()
		wg.Wait()
		return err
	}
	goRun("strategy", st.Run)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-tick.C:
			mu.Lock()
			var last *strategy.Opportunity
			if len(live) > 0 {
				o := live[len(live)-1]
				last = &o
			}
			n := len(live)
			mu.Unlock()
			var arch uint64
			if archived != nil {
				arch = archived()
			}
			render(opts.Out, opts.TTY, st, time.Since(start), last, n, arch)
		}
	}
	wg.Wait()
	select {
	case err := <-fail:
		return err
	default:
	}
	fmt.Fprintf(opts.Out, "\nlive run: %d records delivered, %d opportunities (%s)\n", st.Stats.Delivered.Load(), len(live), oppFile.Name())
	if opts.Replay == nil || ctx.Err() != nil {
		return nil
	}
	fmt.Fprintln(opts.Out, "replaying the archive at 100x into a second strategy...")
	replayed, err := opts.Replay(ctx, topo, opts.Dir, log)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	same, diff := compare(live, replayed)
	fmt.Fprintf(opts.Out, "replay: %d opportunities, %d identical to the live run's, %d differ\n", len(replayed), same, diff)
	if diff > 0 {
		return fmt.Errorf("replay found different opportunities than the live run")
	}
	return nil
}

// compare matches opportunities by their content (time of the revealing record included).
func compare(a, b []strategy.Opportunity) (same, diff int) {
	key := func(o strategy.Opportunity) string {
		return fmt.Sprintf("%d|%s|%s|%s|%s|%.10g|%.10g|%.10g", o.TsNs, o.Base, o.BuyExchange, o.BuyMarket, o.SellExchange, o.BuyPrice, o.SellPrice, o.Size)
	}
	seen := map[string]int{}
	for _, o := range a {
		seen[key(o)]++
	}
	for _, o := range b {
		if seen[key(o)] > 0 {
			seen[key(o)]--
			same++
		} else {
			diff++
		}
	}
	for _, n := range seen {
		diff += n
	}
	return same, diff
}

func simListen(topo *config.Topology) string {
	for _, g := range topo.Gateways {
		for _, f := range g.Feeds {
			u := strings.TrimPrefix(f.WSURL, "ws://")
			if i := strings.IndexByte(u, '/'); i > 0 {
				return u[:i]
			}
		}
	}
	return "127.0.0.1:18080"
}

func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// render draws the live view.
func render(w io.Writer, tty bool, st *strategy.Strategy, up time.Duration, last *strategy.Opportunity, nOpp int, archived uint64) {
	var b strings.Builder
	if tty {
		b.WriteString("\x1b[H\x1b[2J")
	}
	now := time.Now().UnixNano()
	fmt.Fprintf(&b, "tickline demo — up %s — Ctrl-C to stop\n\n", up.Round(time.Second))
	st.View(func(e *strategy.Engine, m *arbiter.Merger) {
		for _, base := range []string{"BTC", "ETH"} {
			fmt.Fprintf(&b, "%-9s %-10s %16s %12s %16s %12s %8s\n", base, "market", "bid", "size", "ask", "size", "age ms")
			for _, q := range e.Quotes(base, now) {
				flag := ""
				if !q.Valid {
					flag = " (invalid)"
				}
				fmt.Fprintf(&b, "%-9s %-10s %16.2f %12.6f %16.2f %12.6f %8.0f%s\n", q.Exchange, q.Instrument, q.BidPx, q.BidSz, q.AskPx, q.AskSz, float64(q.AgeNs)/1e6, flag)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "FX %.2f KRW/USD\n", e.FX())
		prem := e.Premiums(now)
		sort.Slice(prem, func(i, j int) bool { return prem[i].Base+prem[i].Exchange < prem[j].Base+prem[j].Exchange })
		for _, p := range prem {
			fmt.Fprintf(&b, "kimchi premium %-4s %-8s %+6.2f%%\n", p.Base, p.Exchange, p.PremiumPct)
		}
		if last != nil {
			fmt.Fprintf(&b, "\nopportunities: %d — last: buy %s %s @ %.2f, sell %s %s @ %.2f, size %.6f, edge %.1f bps, profit $%.2f (paper total $%.2f)\n",
				nOpp, last.BuyExchange, last.BuyMarket, last.BuyPrice, last.SellExchange, last.SellMarket, last.SellPrice, last.Size, last.EdgeBps, last.ProfitUSD, e.Paper.ProfitUSD)
		} else {
			fmt.Fprintf(&b, "\nopportunities: none yet\n")
		}
		fmt.Fprintf(&b, "\nlines:")
		for i, ep := range st.Endpoints() {
			fmt.Fprintf(&b, "  %s wins=%d dups=%d drops=%d down=%v", ep, m.Arb.Stats.Wins[i], m.Arb.Stats.Duplicates[i], m.Stats.SeqGaps[i], m.Down(i))
		}
		fmt.Fprintf(&b, "\ngaps: covered by the other line %d, real %d, chain breaks %d, failovers %d\n", m.Stats.Covered, m.Stats.RealGaps, e.Stats.ChainBreaks, m.Stats.Failovers)
	})
	for _, h := range st.Latency.Snapshot() {
		fmt.Fprintf(&b, "latency %-20s p50 %6.0f µs  p99 %7.0f µs  (n=%d)\n", h.Hop, h.P50us, h.P99us, h.Count)
	}
	fmt.Fprintf(&b, "archived: %d records\n", archived)
	io.WriteString(w, b.String())
}
