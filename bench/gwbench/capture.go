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
	c := &captured{}
	var mu sync.Mutex
	size := 0
	add := func(e entry) {
		mu.Lock()
		defer mu.Unlock()
		if size+len(e.data) > maxCaptureBytes {
			return
		}
		size += len(e.data)
		c.entries = append(c.entries, e)
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	for _, name := range names {
		feed := gc.Feeds[name]
		ex, err := wire.ParseExchange(name)
		if err != nil {
			return nil, err
		}
		a, err := gateway.Adapter(ex)
		if err != nil {
			return nil, err
		}
		subs, err := feedSubs(feed)
		if err != nil {
			return nil, fmt.Errorf("gwbench: %s: %w", name, err)
		}
		plans, err := a.Plan(feed.WSURL, subs)
		if err != nil {
			return nil, fmt.Errorf("gwbench: %s: plan: %w", name, err)
		}
		for _, plan := range plans {
			ci := len(c.conns)
			ps := planSubs(subs, plan)
			c.conns = append(c.conns, connPlan{venue: name, a: a, subs: ps})
			ws, resp, err := websocket.DefaultDialer.DialContext(ctx, plan.URL, nil)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if err != nil {
				return nil, fmt.Errorf("gwbench: %s: dial %s: %w", name, plan.URL, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer ws.Close()
				for _, f := range plan.Subscribe {
					if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
						fail(fmt.Errorf("gwbench: %s: subscribe: %w", name, err))
						return
					}
				}
				if a.BookRule() == adapter.BookRESTSnapshot {
					wg.Add(1)
					go func() {
						defer wg.Done()
						snapshots(ctx, a, feed.RESTURL, ps, ci, add, fail)
					}()
				}
				ws.SetReadLimit(adapter.MaxFrameBytes)
				for {
					_ = ws.SetReadDeadline(deadline)
					_, data, err := ws.ReadMessage()
					if err != nil {
						return // the deadline ends the capture
					}
					add(entry{t: time.Now(), conn: ci, data: data})
				}
			}()
		}
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortStableFunc(c.entries, func(x, y entry) int { return x.t.Compare(y.t) })
	return c, nil
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
		if !slices.Contains(s.Channels, adapter.ChanBook) && !wantsDerivedBBO(a, s) {
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

// feedSubs turns a feed's symbols into subscriptions, as the gateway does.
func feedSubs(feed *config.Feed) ([]adapter.Sub, error) {
	syms := make([]string, 0, len(feed.Symbols))
	for s := range feed.Symbols {
		syms = append(syms, s)
	}
	sort.Strings(syms)
	subs := make([]adapter.Sub, 0, len(syms))
	for _, s := range syms {
		sub := adapter.Sub{Symbol: s, Depth: feed.BookDepth}
		for _, ch := range feed.Symbols[s] {
			c, err := adapter.ParseChannel(string(ch))
			if err != nil {
				return nil, err
			}
			sub.Channels = append(sub.Channels, c)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// planSubs returns the subscriptions of the symbols a plan carries.
func planSubs(subs []adapter.Sub, plan adapter.ConnPlan) []adapter.Sub {
	var out []adapter.Sub
	for _, sym := range plan.Symbols {
		for _, s := range subs {
			if s.Symbol == sym {
				out = append(out, s)
			}
		}
	}
	return out
}
