package gwbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tickline/tickline/bench/e2e"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// entry is one captured input of a connection: a WebSocket frame, or (snapSym set) a
// REST book snapshot body that the gateway fetched at that point of the stream.
type entry struct {
	t       time.Time
	conn    int // index into captured.conns
	data    []byte
	snapSym string
}

// connPlan is one exchange connection of the demo topology.
type connPlan struct {
	venue string
	a     adapter.Adapter
	subs  []adapter.Sub
}

// captured is what the simulator sent to one gateway of the demo topology: per
// connection, its frames in order, and every connection's frames merged in arrival order.
type captured struct {
	conns   []connPlan
	entries []entry // all connections, in arrival order
}

// maxCaptureBytes bounds what a capture keeps in memory.
const maxCaptureBytes = 512 << 20

// capture runs the simulator at rate events/book/s, connects one gateway's worth of
// connections (the demo topology's first gateway: every venue, its symbols and channels)
// with the adapters' own subscription frames, and records every frame for d. For venues
// whose books start from a REST snapshot, the snapshot is fetched once the stream runs,
// as a gateway does, and recorded where it arrived.
func capture(ctx context.Context, root string, rate float64, d time.Duration) (*captured, error) {
	srv, err := sim.New(sim.Options{Seed: 1, Rate: rate}, nil)
	if err != nil {
		return nil, err
	}
	srv.Start()
	defer srv.Close()
	topo, err := e2e.Topology(root, srv.Addr())
	if err != nil {
		return nil, err
	}
	if len(topo.Gateways) == 0 {
		return nil, fmt.Errorf("gwbench: demo topology has no gateway")
	}
	gc := &topo.Gateways[0]
	names := make([]string, 0, len(gc.Feeds))
	for n := range gc.Feeds {
		names = append(names, n)
	}
	sort.Strings(names)
	cp := &capturer{ctx: ctx, c: &captured{}, deadline: time.Now().Add(d)}
	for _, name := range names {
		if err := cp.feed(name, gc.Feeds[name]); err != nil {
			return nil, err
		}
	}
	cp.wg.Wait()
	if cp.firstErr != nil {
		return nil, cp.firstErr
	}
	slices.SortStableFunc(cp.c.entries, func(x, y entry) int { return x.t.Compare(y.t) })
	return cp.c, nil
}

// capturer is one capture in progress: the connections' reader goroutines add entries
// under mu (bounded by maxCaptureBytes) until the deadline; the first error wins.
type capturer struct {
	ctx      context.Context
	deadline time.Time
	wg       sync.WaitGroup
	mu       sync.Mutex
	c        *captured // entries guarded by mu; conns written before the readers start
	size     int       // guarded by mu
	errOnce  sync.Once
	firstErr error
}

func (cp *capturer) add(e entry) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.size+len(e.data) > maxCaptureBytes {
		return
	}
	cp.size += len(e.data)
	cp.c.entries = append(cp.c.entries, e)
}

func (cp *capturer) fail(err error) { cp.errOnce.Do(func() { cp.firstErr = err }) }

// feed dials every connection plan of one venue's feed and starts its reader.
func (cp *capturer) feed(name string, feed *config.Feed) error {
	ex, err := wire.ParseExchange(name)
	if err != nil {
		return err
	}
	a, err := gateway.Adapter(ex)
	if err != nil {
		return err
	}
	subs, err := gateway.FeedSubs(feed)
	if err != nil {
		return fmt.Errorf("gwbench: %s: %w", name, err)
	}
	plans, err := a.Plan(feed.WSURL, subs)
	if err != nil {
		return fmt.Errorf("gwbench: %s: plan: %w", name, err)
	}
	for _, plan := range plans {
		ci := len(cp.c.conns)
		ps := gateway.PlanSubs(subs, plan)
		cp.c.conns = append(cp.c.conns, connPlan{venue: name, a: a, subs: ps})
		ws, resp, err := websocket.DefaultDialer.DialContext(cp.ctx, plan.URL, nil)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return fmt.Errorf("gwbench: %s: dial %s: %w", name, plan.URL, err)
		}
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			cp.read(ws, name, a, plan, feed.RESTURL, ps, ci)
		}()
	}
	return nil
}

// read subscribes one connection, starts its REST snapshots where the venue needs them and
// records its frames until the deadline.
func (cp *capturer) read(ws *websocket.Conn, name string, a adapter.Adapter, plan adapter.ConnPlan, restURL string, ps []adapter.Sub, ci int) {
	defer ws.Close()
	for _, f := range plan.Subscribe {
		if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
			cp.fail(fmt.Errorf("gwbench: %s: subscribe: %w", name, err))
			return
		}
	}
	if a.BookRule() == adapter.BookRESTSnapshot {
		cp.wg.Add(1)
		go func() {
			defer cp.wg.Done()
			snapshots(cp.ctx, a, restURL, ps, ci, cp.add, cp.fail)
		}()
	}
	ws.SetReadLimit(adapter.MaxFrameBytes)
	for {
		_ = ws.SetReadDeadline(cp.deadline)
		_, data, err := ws.ReadMessage()
		if err != nil {
			return // the deadline ends the capture
		}
		cp.add(entry{t: time.Now(), conn: ci, data: data})
	}
}

// snapshots fetches the REST book snapshot of every book subscription of a connection,
// 200 ms into the stream (deltas are flowing, as when a gateway asks).
func snapshots(ctx context.Context, a adapter.Adapter, restURL string, subs []adapter.Sub, ci int, add func(entry), fail func(error)) {
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	for _, s := range subs {
		if !slices.Contains(s.Channels, adapter.ChanBook) && !adapter.DerivesBBO(a, s) {
			continue
		}
		url := a.SnapshotURL(restURL, s.Symbol, s.Depth)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			fail(err)
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fail(fmt.Errorf("gwbench: snapshot %s: %w", url, err))
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			fail(fmt.Errorf("gwbench: snapshot %s: HTTP %d %v", url, resp.StatusCode, err))
			return
		}
		add(entry{t: time.Now(), conn: ci, data: body, snapSym: s.Symbol})
	}
}
