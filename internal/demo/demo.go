// Package demo runs the whole pipeline in one process on the embedded demo topology: the
// exchange simulator (all ten exchanges), two gateways in two regions, the strategy and —
// when an archive hook is given — the archiver into an embedded Kafka and a replay into a
// second strategy, with a live terminal view.
package demo

import (
	"context"
	"encoding/json"
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

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tickline/tickline/archiver"
	"github.com/tickline/tickline/archiver/replay"
	"github.com/tickline/tickline/configs"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/arbiter"
	"github.com/tickline/tickline/shared/bus"
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
	// NoArchive skips the embedded Kafka, the archiver and the replay check.
	NoArchive bool
	// ReplaySpeed is the replay's speed factor (default 100).
	ReplaySpeed float64
}

// Topology returns the embedded demo topology.
func Topology() (*config.Topology, error) { return config.Parse(configs.Demo) }

// Run runs the demo until ctx ends or Duration passes. With the archive (the default) it
// then replays the korea region's archive at ReplaySpeed into a second strategy and checks
// that it finds exactly the opportunities a live strategy reading the same gateway found.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.ReplaySpeed <= 0 {
		opts.ReplaySpeed = 100
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
	s.Pause() // the market opens once every receiver is subscribed (see below)

	var cluster *kfake.Cluster
	if !opts.NoArchive {
		// Embedded Kafka, persisted under the demo directory.
		cluster, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(opts.Dir, "kafka")))
		if err != nil {
			return fmt.Errorf("embedded kafka: %w", err)
		}
		defer cluster.Close()
		topo.Archiver.Seeds = cluster.ListenAddrs()
		topo.Archiver.SpoolDir = filepath.Join(opts.Dir, "spool")
	}

	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	var timeUp <-chan time.Time // Duration ends the live phase gracefully (drained, below)
	if opts.Duration > 0 {
		timeUp = time.After(opts.Duration)
	}
	var live, archive group
	fail := make(chan error, 8)
	start := func(g *group, gctx context.Context, name string, f func(context.Context) error) {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if err := f(gctx); err != nil && gctx.Err() == nil {
				fail <- fmt.Errorf("%s: %w", name, err)
				stopLive()
			}
		}()
	}
	start(&live, liveCtx, "simulator", s.Run)
	var gws []*gateway.Gateway
	for i, g := range topo.Gateways {
		// Every receiver must see each gateway's stream from its first record, or the
		// live and replayed runs start from different states: a gateway opens its
		// exchange sessions once the strategy, the archiver and (on gw-korea) the shadow
		// strategy have subscribed.
		wait := 1 // strategy
		if !opts.NoArchive {
			wait++
		}
		if i == 0 {
			wait++ // shadow
		}
		gw, err := gateway.New(topo, g.ID, gateway.Options{WaitSubscribers: wait}, log)
		if err != nil {
			stopLive()
			live.wg.Wait()
			return err
		}
		gws = append(gws, gw)
		start(&live, liveCtx, "gateway "+g.ID, gw.Run)
	}
	archCtx, stopArch := context.WithCancel(ctx)
	defer stopArch()
	var arch *archiver.Archiver
	if !opts.NoArchive {
		if arch, err = archiver.New(topo, archiver.Options{}, log); err != nil {
			stopLive()
			live.wg.Wait()
			return fmt.Errorf("archiver: %w", err)
		}
		start(&archive, archCtx, "archiver", arch.Run)
	}
	oppFile, err := os.Create(filepath.Join(opts.Dir, "opportunities.jsonl"))
	if err != nil {
		stopLive()
		live.wg.Wait()
		return err
	}
	defer oppFile.Close()
	var mu sync.Mutex
	var liveOpps, shadowOpps []strategy.Opportunity
	st, err := strategy.New(topo, strategy.Options{Out: oppFile, OnOpportunity: func(o strategy.Opportunity) {
		mu.Lock()
		liveOpps = append(liveOpps, o)
		mu.Unlock()
	}}, log)
	if err != nil {
		stopLive()
		live.wg.Wait()
		return err
	}
	start(&live, liveCtx, "strategy", st.Run)
	// The shadow strategy reads gw-korea alone: exactly what the korea topic archives, so
	// its opportunities are what the replay of that topic must reproduce.
	shadow, err := strategy.New(topo, strategy.Options{Endpoints: []string{gws[0].Endpoint()}, NoMetrics: true,
		SignalBind: "tcp://127.0.0.1:0", Out: io.Discard, OnOpportunity: func(o strategy.Opportunity) {
			mu.Lock()
			shadowOpps = append(shadowOpps, o)
			mu.Unlock()
		}}, log)
	if err != nil {
		stopLive()
		live.wg.Wait()
		return err
	}
	start(&live, liveCtx, "shadow strategy", shadow.Run)
	want := 2 // strategy + shadow
	if arch != nil {
		want++ // + archiver
	}
	gws[0].AwaitSubscribers(liveCtx, want, 15*time.Second)
	s.Resume()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	began := time.Now()
loop:
	for {
		select {
		case <-liveCtx.Done():
			break loop
		case <-timeUp:
			// Close the market and let every receiver take what is in flight, so that the
			// live strategies and the archive end on the same record.
			s.Pause()
			drained(liveCtx, func() uint64 {
				n := shadow.Stats.Received.Load() + st.Stats.Received.Load()
				if arch != nil {
					n += arch.Stats.Received.Load()
				}
				return n
			})
			break loop
		case <-tick.C:
			mu.Lock()
			var last *strategy.Opportunity
			if len(liveOpps) > 0 {
				o := liveOpps[len(liveOpps)-1]
				last = &o
			}
			n := len(liveOpps)
			mu.Unlock()
			var archived uint64
			if arch != nil {
				archived = arch.Stats.Produced.Load()
			}
			render(opts.Out, opts.TTY, st, time.Since(began), last, n, archived)
		}
	}
	stopLive()
	live.wg.Wait()
	select {
	case err := <-fail:
		stopArch()
		archive.wg.Wait()
		return err
	default:
	}
	fmt.Fprintf(opts.Out, "\nlive run: %d records delivered, %d opportunities (%s)\n", st.Stats.Delivered.Load(), len(liveOpps), oppFile.Name())
	if arch == nil {
		return nil
	}
	// Let the archiver drain its spool into Kafka, then stop it.
	deadline := time.Now().Add(30 * time.Second)
	for arch.Stats.SpoolBacklog.Load() > 0 || arch.Stats.Produced.Load() < arch.Stats.Accepted.Load() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopArch()
	archive.wg.Wait()
	fmt.Fprintf(opts.Out, "archived: %d records in Kafka (%s); retransmitted %d, lost %d\n", arch.Stats.Produced.Load(),
		filepath.Join(opts.Dir, "kafka"), arch.Stats.RetransmitAccepted.Load(), arch.Stats.RetransmitLost.Load())
	shadow.View(func(_ *strategy.Engine, m *arbiter.Merger) {
		if g := m.Stats.SeqGaps[0]; g > 0 {
			fmt.Fprintf(opts.Out, "note: the shadow strategy lost %d records on its line (bus drops); the replay comparison may differ\n", g)
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	fmt.Fprintf(opts.Out, "replaying region korea at %gx into a second strategy...\n", opts.ReplaySpeed)
	replayed, err := replayInto(ctx, topo, opts.ReplaySpeed, log)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Both lists stay beside the archive for anyone who wants to diff them.
	for name, set := range map[string][]strategy.Opportunity{"shadow-opportunities.jsonl": shadowOpps, "replay-opportunities.jsonl": replayed} {
		if err := writeJSONL(filepath.Join(opts.Dir, name), set); err != nil {
			return err
		}
	}
	same, diff := compare(shadowOpps, replayed)
	fmt.Fprintf(opts.Out, "replay: %d opportunities; live strategy on gw-korea found %d; identical %d, different %d\n",
		len(replayed), len(shadowOpps), same, diff)
	if diff > 0 {
		for _, d := range differences(shadowOpps, replayed) {
			fmt.Fprintln(opts.Out, "  differs:", d)
		}
		return fmt.Errorf("the replay found different opportunities than the live run")
	}
	fmt.Fprintln(opts.Out, "replay matches the live run")
	return nil
}

type group struct{ wg sync.WaitGroup }

// drained waits until count has not moved for half a second (bounded by 30 s).
func drained(ctx context.Context, count func() uint64) {
	last, since := count(), time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(50 * time.Millisecond)
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 500*time.Millisecond {
			return
		}
	}
}

// replayInto replays the korea topic in publish order at speed onto a bus endpoint read
// by a fresh strategy, and returns what that strategy found.
func replayInto(ctx context.Context, topo *config.Topology, speed float64, log *slog.Logger) ([]strategy.Opportunity, error) {
	sink, err := replay.NewZMQSink(ctx, "tcp://127.0.0.1:0", replay.ZMQOptions{Bus: bus.Options{QueueDepth: 1 << 16, MaxMessageBytes: 4 << 20}, WaitSubscribers: 1}, log)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var got []strategy.Opportunity
	st, err := strategy.New(topo, strategy.Options{Endpoints: []string{sink.Endpoint()}, NoMetrics: true, SignalBind: "tcp://127.0.0.1:0",
		Out: io.Discard, OnOpportunity: func(o strategy.Opportunity) {
			mu.Lock()
			got = append(got, o)
			mu.Unlock()
		}}, log)
	if err != nil {
		sink.Close()
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); st.Run(sctx) }()
	r, err := replay.New(topo, replay.Options{Regions: []string{"korea"}, Speed: speed, Order: replay.OrderPublish, Metrics: topo.Replay.Metrics}, sink, log)
	if err != nil {
		stop()
		wg.Wait()
		return nil, err
	}
	rerr := r.Run(ctx)
	sink.Close() // waits for the subscriber to take what is queued
	// Let the strategy finish what it received.
	last, quiet := st.Stats.Received.Load(), time.Now()
	for time.Since(quiet) < 300*time.Millisecond && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if n := st.Stats.Received.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return got, rerr
}

// writeJSONL writes one opportunity per line to path.
func writeJSONL(path string, set []strategy.Opportunity) error {
	var b []byte
	for _, o := range set {
		j, err := json.Marshal(o)
		if err != nil {
			return err
		}
		b = append(append(b, j...), '\n')
	}
	return os.WriteFile(path, b, 0o644)
}

// differences lists (at most 10) opportunities found by only one side, with their time
// relative to the first opportunity.
func differences(live, replayed []strategy.Opportunity) []string {
	var out []string
	if len(live) == 0 {
		return nil
	}
	t0 := live[0].TsNs
	in := func(o strategy.Opportunity, set []strategy.Opportunity) bool {
		for _, x := range set {
			if x == o {
				return true
			}
		}
		return false
	}
	for _, o := range live {
		if !in(o, replayed) && len(out) < 10 {
			out = append(out, fmt.Sprintf("live only at +%.3fs: %s %s→%s", float64(o.TsNs-t0)/1e9, o.Base, o.BuyExchange, o.SellExchange))
		}
	}
	for _, o := range replayed {
		if !in(o, live) && len(out) < 10 {
			out = append(out, fmt.Sprintf("replay only at +%.3fs: %s %s→%s", float64(o.TsNs-t0)/1e9, o.Base, o.BuyExchange, o.SellExchange))
		}
	}
	return out
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
