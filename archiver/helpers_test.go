package archiver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/internal/testkit/kafkatest"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/journal"
	"github.com/tickline/tickline/shared/kafka"
	"github.com/tickline/tickline/shared/wire"
)

// gate sits under kfake's listeners: while down it closes every connection and refuses new
// ones, which a client sees exactly like an unreachable broker.
type gate struct {
	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newGate() *gate { return &gate{conns: map[net.Conn]struct{}{}} }

func (g *gate) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return &gatedListener{Listener: ln, g: g}, nil
}

// dial is a kgo.Dialer that fails while the gate is down and tracks its connections, so
// that the same outage can be staged against a real broker (KafkaOpts).
func (g *gate) dial(ctx context.Context, network, host string) (net.Conn, error) {
	g.mu.Lock()
	down := g.down
	g.mu.Unlock()
	if down {
		return nil, fmt.Errorf("test gate: %s unreachable", host)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		c.Close()
		return nil, fmt.Errorf("test gate: %s unreachable", host)
	}
	g.conns[c] = struct{}{}
	return c, nil
}

// SetDown cuts (true) or restores (false) the brokers.
func (g *gate) SetDown(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
	if down {
		for c := range g.conns {
			c.Close()
		}
		clear(g.conns)
	}
}

type gatedListener struct {
	net.Listener
	g *gate
}

func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.g.mu.Lock()
		if l.g.down {
			l.g.mu.Unlock()
			c.Close()
			continue
		}
		l.g.conns[c] = struct{}{}
		l.g.mu.Unlock()
		return c, nil
	}
}

// newKafka starts an in-process kfake cluster behind a gate and returns its seeds.
func newKafka(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string, *gate) {
	t.Helper()
	g := newGate()
	c := kafkatest.NewFake(t, append([]kfake.Opt{kfake.ListenFn(g.listen)}, opts...)...)
	return c, c.ListenAddrs(), g
}

// gw is one gateway line of the test topology.
type gw struct {
	id     string
	num    uint16
	region string
}

// topoYAML renders a valid topology: gateways (all carrying binance and okx), topics
// <prefix><region>, binance → partition 0, okx → 1.
func topoYAML(gws []gw, seeds []string, spoolDir string, prefix string) string {
	var b strings.Builder
	regions := map[string]bool{}
	b.WriteString("version: 1\nregions:\n")
	for _, g := range gws {
		if !regions[g.region] {
			regions[g.region] = true
			fmt.Fprintf(&b, "  - name: %s\n", g.region)
		}
	}
	b.WriteString("gateways:\n")
	for i, g := range gws {
		fmt.Fprintf(&b, `  - id: %s
    num: %d
    region: %s
    publish: tcp://127.0.0.1:%d
    exchanges:
      binance:
        ws_url: ws://127.0.0.1:1/binance
        rest_url: http://127.0.0.1:1/binance
        symbols: {BTCUSDT: [trade], ETHUSDT: [trade]}
      okx:
        ws_url: ws://127.0.0.1:1/okx
        symbols: {BTC-USDT: [trade]}
`, g.id, g.num, g.region, 40000+i)
	}
	b.WriteString("strategy:\n  threshold_bps: 5\n  max_notional: 1000\n  fees_bps: {binance: 10, okx: 10}\n")
	b.WriteString("archiver:\n  seeds: [" + strings.Join(seeds, ", ") + "]\n  topics:\n")
	for r := range regions {
		fmt.Fprintf(&b, "    %s: %s%s\n", r, prefix, r)
	}
	fmt.Fprintf(&b, "  partitions: {binance: 0, okx: 1}\n  replication_factor: 1\n  compression: lz4\n  linger: 2ms\n  spool_dir: %s\n  spool_max_bytes: 67108864\n", spoolDir)
	b.WriteString("replay:\n  publish: tcp://127.0.0.1:49999\n")
	return b.String()
}

// withJournals adds a journal with the given retransmit endpoint to each gateway of a
// topoYAML topology named in journals (gateway id → endpoint).
func withJournals(yaml string, journals map[string]string) string {
	for id, ep := range journals {
		at := strings.Index(yaml, "  - id: "+id+"\n")
		pub := at + strings.Index(yaml[at:], "    publish: ")
		eol := pub + strings.Index(yaml[pub:], "\n") + 1
		yaml = yaml[:eol] + "    journal: {records: 100000, retransmit: " + ep + "}\n" + yaml[eol:]
	}
	return yaml
}

func parseTopo(t testing.TB, yaml string) *config.Topology {
	t.Helper()
	topo, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, yaml)
	}
	return topo
}

// fakeGateway is a gateway line: a bus publisher that stamps its number and sequence and,
// with withJournal, keeps what it publishes in a journal served for retransmits.
type fakeGateway struct {
	t    testing.TB
	pub  *bus.Publisher
	num  uint16
	seq  uint64
	buf  []byte
	tbuf []byte
	j    *journal.Journal
	jsrv *journal.Server
	jep  string // the journal's retransmit endpoint (kept across restart)
	jcap int    // journal records
}

// withJournal gives the gateway a journal of records entries served on a loopback port.
func (g *fakeGateway) withJournal(records int) *fakeGateway {
	g.t.Helper()
	g.j, g.jcap = journal.New(records, records*256), records
	srv, err := journal.Listen("tcp://127.0.0.1:0", g.j, testkit.Log(g.t))
	if err != nil {
		g.t.Fatal(err)
	}
	g.jsrv, g.jep = srv, srv.Endpoint()
	g.t.Cleanup(func() { g.jsrv.Close() })
	return g
}

// stopJournal closes the retransmit endpoint (unreachable until startJournal).
func (g *fakeGateway) stopJournal() { g.jsrv.Close() }

// startJournal serves the journal again on the same endpoint.
func (g *fakeGateway) startJournal() {
	g.t.Helper()
	srv, err := journal.Listen(g.jep, g.j, testkit.Log(g.t))
	if err != nil {
		g.t.Fatal(err)
	}
	g.jsrv = srv
}

// restart makes the gateway a new incarnation: its sequence begins again at 1 and its
// journal starts empty (served on the same endpoint).
func (g *fakeGateway) restart() {
	g.t.Helper()
	g.seq = 0
	g.stopJournal()
	g.j = journal.New(g.jcap, g.jcap*256)
	g.startJournal()
}

// stamp encodes r under the gateway's next sequence number into g.buf.
func (g *fakeGateway) stamp(r *wire.Record) error {
	g.seq++
	var err error
	if g.buf, err = wire.AppendRecord(g.buf[:0], r); err != nil {
		return err
	}
	return wire.Stamp(g.buf, g.num, g.seq, r.TsRecv)
}

// journalOnly numbers and journals r without it reaching the bus: a drop on the way to
// every subscriber, which only a retransmit recovers.
func (g *fakeGateway) journalOnly(r *wire.Record) {
	g.t.Helper()
	if err := g.stamp(r); err != nil {
		g.t.Fatal(err)
	}
	g.j.Append(g.seq, g.buf)
}

func newFakeGateway(t testing.TB, num uint16) *fakeGateway {
	t.Helper()
	p, err := bus.NewPublisher("tcp://127.0.0.1:0", bus.Options{QueueDepth: 1 << 16}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &fakeGateway{t: t, pub: p, num: num}
}

// waitSubscribed polls until n subscribers have subscribed to everything.
func (g *fakeGateway) waitSubscribed(n int) {
	g.t.Helper()
	testkit.Poll(g.t, 10*time.Second, "subscriber on gateway", func() bool {
		c := 0
		for _, s := range g.pub.Stats() {
			for _, p := range s.Subscriptions {
				if p == "" {
					c++
				}
			}
		}
		return c >= n
	})
}

// publish stamps and publishes r (and journals it, with a journal), pacing on the
// subscriber queue so nothing is dropped.
func (g *fakeGateway) publish(r *wire.Record) {
	g.t.Helper()
	if err := g.send(r); err != nil {
		g.t.Fatal(err)
	}
}

// send is publish returning its error, for publishing goroutines other than the test's.
func (g *fakeGateway) send(r *wire.Record) error {
	if err := g.stamp(r); err != nil {
		return err
	}
	g.tbuf = wire.AppendTopic(g.tbuf[:0], r.Kind, r.Exchange, &r.Instrument)
	for g.pub.MaxQueued() > 1<<15 {
		time.Sleep(100 * time.Microsecond)
	}
	if err := g.pub.Publish(g.tbuf, g.buf); err != nil {
		return err
	}
	if g.j != nil {
		g.j.Append(g.seq, g.buf)
	}
	return nil
}

// skip advances the gateway sequence without publishing (a drop on this line).
func (g *fakeGateway) skip() { g.seq++ }

// event identifies an exchange event.
type event struct {
	ex   wire.Exchange
	kind wire.Kind
	inst string
	seq  uint64
}

func (e event) String() string { return fmt.Sprintf("%s/%s/%s/%d", e.ex, e.kind, e.inst, e.seq) }

// baseTime is the exchange time of event seq 0 in the tests.
var baseTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

// trade builds a trade record for event e; its exchange time is baseTime + seq ms (0 when
// noExTime, leaving only the receive time).
func trade(e event, noExTime bool) *wire.Record {
	r := &wire.Record{Kind: wire.KindTrade, Exchange: e.ex, Seq: e.seq, Side: wire.SideBuy,
		Price: wire.MustDecimal("65000.5"), Size: wire.MustDecimal("0.01")}
	r.Instrument.SetString(e.inst)
	r.Symbol.SetString(strings.ReplaceAll(e.inst, "-", ""))
	r.TsRecv = baseTime + int64(e.seq)*int64(time.Millisecond) + 1234
	if !noExTime {
		r.TsExchange = baseTime + int64(e.seq)*int64(time.Millisecond)
	}
	return r
}

// events returns n events per stream (binance BTC-USDT, binance ETH-USDT, okx BTC-USDT),
// interleaved, with seqs from+1 .. from+n.
func events(from, n uint64) []event {
	var out []event
	for s := from + 1; s <= from+n; s++ {
		out = append(out,
			event{wire.Binance, wire.KindTrade, "BTC-USDT", s},
			event{wire.Binance, wire.KindTrade, "ETH-USDT", s},
			event{wire.OKX, wire.KindTrade, "BTC-USDT", s})
	}
	return out
}

// endOffsets returns the sum of end offsets of a topic's partitions.
func endOffsets(t testing.TB, seeds []string, topic string) int64 {
	t.Helper()
	ends, ok := listEnds(t, seeds, topic)
	if !ok {
		return -1
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			n += o.Offset
		}
	})
	return n
}

// listEnds lists the end offsets of topic's partitions (false while it cannot).
func listEnds(t testing.TB, seeds []string, topic string) (kadm.ListedOffsets, bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	return ends, err == nil
}

// stopWhenCounted waits until ticks.korea holds n records (a first run archived what was
// published), then stops the archiver.
func stopWhenCounted(t testing.TB, seeds []string, stop func() error, n int) {
	t.Helper()
	testkit.Poll(t, 20*time.Second, "first run archived", func() bool { return endOffsets(t, seeds, "ticks.korea") == int64(n) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// stopWhenArchived waits until ticks.korea holds as many records as want, stops the
// archiver and checks that it holds each wanted event exactly once (in stream order when
// ordered).
func stopWhenArchived(t testing.TB, seeds []string, stop func() error, want []event, ordered bool) {
	t.Helper()
	testkit.Poll(t, 30*time.Second, "everything archived", func() bool { return endOffsets(t, seeds, "ticks.korea") >= int64(len(want)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, consumeAll(t, seeds, "ticks.korea"), want, ordered)
}

// consumeAll reads every record of topic up to its current end, in offset order per
// partition.
func consumeAll(t testing.TB, seeds []string, topic string) map[int32][]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	from := map[string]map[int32]kgo.Offset{topic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			from[topic][o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	out := map[int32][]*kgo.Record{}
	if len(want) == 0 {
		return out
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(from))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	done := func() bool {
		for p, n := range want {
			if int64(len(out[p])) < n {
				return false
			}
		}
		return true
	}
	for !done() {
		f := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: %v", topic, ctx.Err())
		}
		f.EachError(func(tp string, p int32, err error) { t.Fatalf("consuming %s/%d: %v", tp, p, err) })
		f.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out
}

// eventOf returns the event an archived record carries.
func eventOf(t testing.TB, r *kgo.Record) event {
	t.Helper()
	var h wire.Header
	if err := wire.ReadHeader(r.Value, &h); err != nil {
		t.Fatalf("archived value: %v", err)
	}
	return event{h.Exchange, h.Kind, h.Instrument.String(), h.Seq}
}

// checkExactlyOnce asserts that the topic holds every wanted event exactly once, that each
// partition holds only its exchange's events, that archive sequences increase by one per
// partition, and, when ordered, that each stream's events appear in seq order.
func checkExactlyOnce(t testing.TB, got map[int32][]*kgo.Record, want []event, ordered bool) {
	t.Helper()
	wantSet := map[event]bool{}
	for _, e := range want {
		wantSet[e] = true
	}
	seen := map[event]int{}
	part := map[wire.Exchange]int32{wire.Binance: 0, wire.OKX: 1}
	for p, recs := range got {
		last := map[string]uint64{}
		var prevSeq uint64
		for i, r := range recs {
			e := eventOf(t, r)
			seen[e]++
			if part[e.ex] != p {
				t.Errorf("partition %d holds %v", p, e)
			}
			if v := string(HeaderValue(r, kafka.HeaderExchange)); v != e.ex.String() {
				t.Errorf("partition %d offset %d: exchange header %q for %v", p, r.Offset, v, e)
			}
			aseq, ok := ArchiveSeq(r)
			if !ok || (i > 0 && aseq != prevSeq+1) {
				t.Errorf("partition %d offset %d: archive seq %d after %d", p, r.Offset, aseq, prevSeq)
			}
			prevSeq = aseq
			k := e.inst
			if ordered && e.seq <= last[k] {
				t.Errorf("partition %d offset %d: %v after seq %d", p, r.Offset, e, last[k])
			}
			last[k] = max(last[k], e.seq)
		}
	}
	missing, dup, extra := 0, 0, 0
	for e := range wantSet {
		switch n := seen[e]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("missing %v", e)
			}
		case n > 1:
			if dup++; dup <= 5 {
				t.Errorf("%v archived %d times", e, n)
			}
		}
	}
	for e := range seen {
		if !wantSet[e] {
			if extra++; extra <= 5 {
				t.Errorf("unexpected %v", e)
			}
		}
	}
	if missing+dup+extra > 0 {
		t.Fatalf("%d missing, %d duplicated, %d unexpected of %d events", missing, dup, extra, len(wantSet))
	}
}

// koreaAB are two lines of one region, the tests' usual pair; koreaA is the first alone.
var koreaAB, koreaA = []gw{{"gw-a", 1, "korea"}, {"gw-b", 2, "korea"}}, []gw{{"gw-a", 1, "korea"}}

// startSubscribed is startArchiver, returning once the archiver has subscribed to each of
// lines.
func startSubscribed(t testing.TB, topo *config.Topology, opts Options, lines ...*fakeGateway) (*Archiver, func() error) {
	t.Helper()
	a, stop := startArchiver(t, topo, opts)
	for _, l := range lines {
		l.waitSubscribed(1)
	}
	return a, stop
}

// startLines starts a fake gateway per gw (topics <prefix><region>) and an archiver with
// opts (and their endpoints) subscribed to all of them.
func startLines(t testing.TB, gws []gw, seeds []string, prefix string, opts Options) ([]*fakeGateway, *Archiver, func() error) {
	t.Helper()
	lines, eps := gatewayEndpoints(t, gws)
	opts.Endpoints = eps
	a, stop := startSubscribed(t, parseTopo(t, topoYAML(gws, seeds, spoolDir(t), prefix)), opts, lines...)
	return lines, a, stop
}

// startArchiver runs an archiver in the background and returns it with a stop function
// that cancels it and waits for Run to return.
func startArchiver(t testing.TB, topo *config.Topology, opts Options) (*Archiver, func() error) {
	t.Helper()
	a, err := New(topo, opts, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("archiver did not stop")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	testkit.Poll(t, 20*time.Second, "archiver ready", func() bool {
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("archiver exited: %v", err)
		default:
		}
		return a.Ready()
	})
	return a, stop
}

// gatewayEndpoints starts one fake gateway per gw and returns them with the endpoint map.
func gatewayEndpoints(t testing.TB, gws []gw) ([]*fakeGateway, map[string]string) {
	out := make([]*fakeGateway, len(gws))
	eps := map[string]string{}
	for i, g := range gws {
		out[i] = newFakeGateway(t, g.num)
		eps[g.id] = out[i].pub.Endpoint()
	}
	return out, eps
}

// handleRig is an archiver whose handler writes to a local spool of spoolBytes (no Kafka),
// and round: 64 trades of one stream, encoded again with the next 64 exchange seqs into
// the same buffers and handed to handle. It returns the batch length.
func handleRig(t testing.TB, spoolBytes int64) (a *Archiver, round func(), batchLen int) {
	t.Helper()
	gws := []gw{{"gw-a", 1, "korea"}}
	topo := parseTopo(t, topoYAML(gws, []string{"127.0.0.1:1"}, spoolDir(t), "ticks."))
	a, err := New(topo, Options{}, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	sp, _, err := openSpool(topo.Archiver.SpoolDir, spoolBytes, 0, testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	a.spool = sp
	batch := make([]bus.Message, 64)
	recs := make([]*wire.Record, len(batch))
	for i := range batch {
		recs[i] = trade(event{wire.Binance, wire.KindTrade, "BTC-USDT", uint64(i + 1)}, false)
		batch[i].Payload, _ = wire.AppendRecord(nil, recs[i])
	}
	seq := uint64(0)
	round = func() {
		for i, r := range recs {
			seq++
			r.Seq = seq
			batch[i].Payload, _ = wire.AppendRecord(batch[i].Payload[:0], r)
		}
		a.handle(batch)
	}
	return a, round, len(batch)
}

func spoolDir(t testing.TB) string { return filepath.Join(t.TempDir(), "spool") }
