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
	opts, err := opts.withDefaults()
	if err != nil {
		return err
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
	s.Pause() // the market opens once every receiver is subscribed (watch)
	if !opts.NoArchive {
		cluster, err := startKafka(topo, opts.Dir)
		if err != nil {
			return err
		}
		defer cluster.Close()
	}

	r := &run{opts: opts, log: log, topo: topo, sim: s, fail: make(chan error, 8)}
	r.liveCtx, r.stopLive = context.WithCancel(ctx)
	defer r.stopLive()
	r.archCtx, r.stopArch = context.WithCancel(ctx)
	defer r.stopArch()
	var timeUp <-chan time.Time // Duration ends the live phase gracefully (drained, in watch)
	if opts.Duration > 0 {
		timeUp = time.After(opts.Duration)
	}
	defer func() {
		if r.oppFile != nil {
			r.oppFile.Close()
		}
	}()
	if err := r.startLive(); err != nil {
		return err
	}
	r.watch(timeUp)
	r.stopLive()
	r.live.wg.Wait()
	select {
	case err := <-r.fail:
		r.stopArch()
		r.archive.wg.Wait()
		return err
	default:
	}
	fmt.Fprintf(opts.Out, "\nlive run: %d records delivered, %d opportunities (%s)\n", r.st.Stats.Delivered.Load(), len(r.liveOpps), r.oppFile.Name())
	if r.arch == nil {
		return nil
	}
	r.stopArchiver(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return r.checkReplay(ctx)
}

// withDefaults fills in the defaults the Options fields document; a missing Dir becomes
// a new temporary directory.
func (o Options) withDefaults() (Options, error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.ReplaySpeed <= 0 {
		o.ReplaySpeed = 100
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "tickline-demo-")
		if err != nil {
			return o, err
		}
		o.Dir = d
	}
	return o, nil
}

// startKafka starts the embedded Kafka, persisted under dir, and points the topology's
// archiver (seeds, spool) at it.
func startKafka(topo *config.Topology, dir string) (*kfake.Cluster, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(dir, "kafka")))
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	topo.Archiver.Seeds = cluster.ListenAddrs()
	topo.Archiver.SpoolDir = filepath.Join(dir, "spool")
	return cluster, nil
}

// run is one demo run: the processes of the live phase (group live: simulator, gateways,
// strategies; group archive: the archiver, stopped after them so that it drains) and what
// the strategies found. Run's goroutine owns it; the strategies' callbacks append to the
// opportunity lists under mu.
type run struct {
	opts Options
	log  *slog.Logger
	topo *config.Topology
	sim  *sim.Server

	liveCtx, archCtx   context.Context
	stopLive, stopArch context.CancelFunc
	live, archive      group
	fail               chan error // the first errors of the processes (buffered)

	gws        []*gateway.Gateway
	arch       *archiver.Archiver // nil with NoArchive
	st, shadow *strategy.Strategy
	oppFile    *os.File

	mu                   sync.Mutex
	liveOpps, shadowOpps []strategy.Opportunity
}

// start runs f in group g; an error while gctx is live fails the run and ends the live
// phase.
func (r *run) start(g *group, gctx context.Context, name string, f func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(gctx); err != nil && gctx.Err() == nil {
			r.fail <- fmt.Errorf("%s: %w", name, err)
			r.stopLive()
		}
	}()
}

// abort stops what the live phase started and returns err.
func (r *run) abort(err error) error {
	r.stopLive()
	r.live.wg.Wait()
	return err
}

// startLive starts the simulator, the gateways, the archiver and both strategies.
func (r *run) startLive() error {
	r.start(&r.live, r.liveCtx, "simulator", r.sim.Run)
	if err := r.startGateways(); err != nil {
		return r.abort(err)
	}
	if !r.opts.NoArchive {
		arch, err := archiver.New(r.topo, archiver.Options{}, r.log)
		if err != nil {
			return r.abort(fmt.Errorf("archiver: %w", err))
		}
		r.arch = arch
		r.start(&r.archive, r.archCtx, "archiver", arch.Run)
	}
	f, err := os.Create(filepath.Join(r.opts.Dir, "opportunities.jsonl"))
	if err != nil {
		return r.abort(err)
	}
	r.oppFile = f
	if err := r.startStrategies(); err != nil {
		return r.abort(err)
	}
	return nil
}

// startGateways starts every gateway of the topology.
func (r *run) startGateways() error {
	for i, g := range r.topo.Gateways {
		// Every receiver must see each gateway's stream from its first record, or the
		// live and replayed runs start from different states: a gateway opens its
		// exchange sessions once the strategy, the archiver and (on gw-korea) the shadow
		// strategy have subscribed.
		wait := 1 // strategy
		if !r.opts.NoArchive {
			wait++
		}
		if i == 0 {
			wait++ // shadow
		}
		gw, err := gateway.New(r.topo, g.ID, gateway.Options{WaitSubscribers: wait}, r.log)
		if err != nil {
			return err
		}
		r.gws = append(r.gws, gw)
		r.start(&r.live, r.liveCtx, "gateway "+g.ID, gw.Run)
	}
	return nil
}

// startStrategies starts the strategy and the shadow strategy. The shadow reads gw-korea
// alone: exactly what the korea topic archives, so its opportunities are what the replay
// of that topic must reproduce.
func (r *run) startStrategies() error {
	var err error
	r.st, err = strategy.New(r.topo, strategy.Options{Out: r.oppFile, OnOpportunity: r.collect(&r.liveOpps)}, r.log)
	if err != nil {
		return err
	}
	r.start(&r.live, r.liveCtx, "strategy", r.st.Run)
	r.shadow, err = strategy.New(r.topo, strategy.Options{Endpoints: []string{r.gws[0].Endpoint()}, NoMetrics: true,
		SignalBind: "tcp://127.0.0.1:0", Out: io.Discard, OnOpportunity: r.collect(&r.shadowOpps)}, r.log)
	if err != nil {
		return err
	}
	r.start(&r.live, r.liveCtx, "shadow strategy", r.shadow.Run)
	return nil
}

// collect returns a strategy callback that appends to *list under mu.
func (r *run) collect(list *[]strategy.Opportunity) func(strategy.Opportunity) {
	return func(o strategy.Opportunity) {
		r.mu.Lock()
		*list = append(*list, o)
		r.mu.Unlock()
	}
}

// watch opens the market once every receiver of gw-korea subscribed, then renders the
// live view every second until the live phase ends or timeUp fires; then it closes the
// market and lets every receiver take what is in flight, so that the live strategies
// and the archive end on the same record.
func (r *run) watch(timeUp <-chan time.Time) {
	want := 2 // strategy + shadow
	if r.arch != nil {
		want++ // + archiver
	}
	r.gws[0].AwaitSubscribers(r.liveCtx, want, 15*time.Second)
	r.sim.Resume()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	began := time.Now()
	for {
		select {
		case <-r.liveCtx.Done():
			return
		case <-timeUp:
			r.sim.Pause()
			drained(r.liveCtx, r.received)
			return
		case <-tick.C:
			r.view(time.Since(began))
		}
	}
}

// received counts the records the receivers got (strategies, archiver).
func (r *run) received() uint64 {
	n := r.shadow.Stats.Received.Load() + r.st.Stats.Received.Load()
	if r.arch != nil {
		n += r.arch.Stats.Received.Load()
	}
	return n
}

// view renders the live view after elapsed.
func (r *run) view(elapsed time.Duration) {
	r.mu.Lock()
	var last *strategy.Opportunity
	if len(r.liveOpps) > 0 {
		o := r.liveOpps[len(r.liveOpps)-1]
		last = &o
	}
	n := len(r.liveOpps)
	r.mu.Unlock()
	var archived uint64
	if r.arch != nil {
		archived = r.arch.Stats.Produced.Load()
	}
	render(r.opts.Out, r.opts.TTY, r.st, elapsed, last, n, archived)
}

// stopArchiver lets the archiver drain its spool into Kafka (at most 30 s), stops it and
// reports what it archived.
func (r *run) stopArchiver(ctx context.Context) {
	arch := r.arch
	deadline := time.Now().Add(30 * time.Second)
	for arch.Stats.SpoolBacklog.Load() > 0 || arch.Stats.Produced.Load() < arch.Stats.Accepted.Load() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stopArch()
	r.archive.wg.Wait()
	fmt.Fprintf(r.opts.Out, "archived: %d records in Kafka (%s); retransmitted %d, lost %d\n", arch.Stats.Produced.Load(),
		filepath.Join(r.opts.Dir, "kafka"), arch.Stats.RetransmitAccepted.Load(), arch.Stats.RetransmitLost.Load())
	r.shadow.View(func(_ *strategy.Engine, m *arbiter.Merger) {
		if g := m.Stats.SeqGaps[0]; g > 0 {
			fmt.Fprintf(r.opts.Out, "note: the shadow strategy lost %d records on its line (bus drops); the replay comparison may differ\n", g)
		}
	})
}

// checkReplay replays the korea region into a second strategy and compares what it found
// with the shadow strategy's live opportunities; both lists stay beside the archive.
func (r *run) checkReplay(ctx context.Context) error {
	out := r.opts.Out
	fmt.Fprintf(out, "replaying region korea at %gx into a second strategy...\n", r.opts.ReplaySpeed)
	replayed, err := replayInto(ctx, r.topo, r.opts.ReplaySpeed, r.log)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, set := range map[string][]strategy.Opportunity{"shadow-opportunities.jsonl": r.shadowOpps, "replay-opportunities.jsonl": replayed} {
		if err := writeJSONL(filepath.Join(r.opts.Dir, name), set); err != nil {
			return err
		}
	}
	same, diff := compare(r.shadowOpps, replayed)
	fmt.Fprintf(out, "replay: %d opportunities; live strategy on gw-korea found %d; identical %d, different %d\n",
		len(replayed), len(r.shadowOpps), same, diff)
	if diff > 0 {
		for _, d := range differences(r.shadowOpps, replayed) {
			fmt.Fprintln(out, "  differs:", d)
		}
		return fmt.Errorf("the replay found different opportunities than the live run")
	}
	fmt.Fprintln(out, "replay matches the live run")
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
	return configs.DemoSim
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
