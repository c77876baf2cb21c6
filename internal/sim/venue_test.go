package sim

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// venueCase is one exchange as a gateway reaches it: its WebSocket path under /<ex>, a
// symbol in its style and the gateway's adapter for it (nil while the venue has none:
// the protocol-only tests still run, TestVenueWithAdapter skips it and
// gateway's TestRegistryCoversVenueTable fails).
type venueCase struct {
	ex      string
	ws      string // WebSocket path under /<ex>: the venue's first wsPaths entry
	sym     string // config symbol: the venue table's example
	adapter adapter.Adapter
}

// venueCases returns the simulator's venues in the venue table's order, plus Bithumb's v2
// API (the Upbit protocol on its second path). A function, not a variable: the venues
// register from init functions, which run after package variables are initialized.
func venueCases() []venueCase {
	var out []venueCase
	for _, row := range wire.Venues() {
		v, ok := registered[row.Name]
		if !ok {
			continue // TestVenueTableServed says so
		}
		a, _ := gateway.Adapter(row.Exchange)
		out = append(out, venueCase{row.Name, v.wsPaths()[0], row.SymbolExample, a})
		if row.Exchange == wire.Bithumb {
			out = append(out, venueCase{"bithumb-v2", "/websocket/v1", row.SymbolExample, a})
		}
	}
	return out
}

// mustVenue returns ex's venue table row.
func mustVenue(t testing.TB, ex wire.Exchange) wire.Venue {
	t.Helper()
	v, ok := ex.Venue()
	if !ok {
		t.Fatalf("exchange %s is not in the venue table", ex)
	}
	return v
}

// TestVenueTableServed: the simulator serves every exchange of the venue table
// (shared/wire/venue.go) and only those, in the table's order, each on at least one
// WebSocket path and with a symbol mapping that reads the table's example symbol back.
func TestVenueTableServed(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	packageDoc := string(b)
	var names []string
	for _, row := range wire.Venues() {
		names = append(names, row.Name)
		v, ok := registered[row.Name]
		if !ok {
			t.Errorf("venue %s (shared/wire/venue.go) has no simulator file (internal/sim/%s.go registering it)", row.Name, row.Name)
			continue
		}
		if len(v.wsPaths()) == 0 {
			t.Errorf("%s: no WebSocket path", row.Name)
			continue
		}
		if line := regexp.MustCompile(`(?m)^//\t` + row.Name + ` +ws /` + regexp.QuoteMeta(row.Name+v.wsPaths()[0])); !line.MatchString(packageDoc) {
			t.Errorf("%s: doc.go's path list has no line for it (%s)", row.Name, line)
		}
		inst, ok := v.instrument(row.SymbolExample)
		if !ok || v.symbol(inst) != row.SymbolExample {
			t.Errorf("%s: the table's example symbol %q maps to %v %v and back to %q", row.Name, row.SymbolExample, inst, ok, v.symbol(inst))
		}
	}
	if got := Exchanges(); strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("simulator serves %v, venue table lists %v", got, names)
	}
	if len(registered) != len(names) {
		t.Errorf("%d venues registered, %d in the venue table", len(registered), len(names))
	}
}

// tbook is the test's own book: exact decimals as written, no sorting until compared.
type tbook struct {
	bids, asks map[string]wire.Level // canonical price text → level
}

func newTBook() *tbook {
	return &tbook{bids: map[string]wire.Level{}, asks: map[string]wire.Level{}}
}

func (b *tbook) set(side map[string]wire.Level, ls []wire.Level) {
	for _, l := range ls {
		k := l.Price.Canonical().String()
		if l.Size.IsZero() {
			delete(side, k)
		} else {
			side[k] = l
		}
	}
}

func (b *tbook) snapshot(r *wire.Record) {
	b.bids, b.asks = map[string]wire.Level{}, map[string]wire.Level{}
	b.set(b.bids, r.Bids)
	b.set(b.asks, r.Asks)
}

// sorted returns a side best first as wire levels.
func (b *tbook) sorted(ask bool) []wire.Level {
	side := b.bids
	if ask {
		side = b.asks
	}
	out := make([]wire.Level, 0, len(side))
	for _, l := range side {
		out = append(out, l)
	}
	for i := 1; i < len(out); i++ { // insertion sort: books are small
		for j := i; j > 0; j-- {
			c := out[j].Price.Cmp(out[j-1].Price)
			if ask && c < 0 || !ask && c > 0 {
				out[j], out[j-1] = out[j-1], out[j]
			}
		}
	}
	return out
}

// equal compares with the simulator's book.
func (b *tbook) equal(bids, asks []Level) error {
	for _, side := range []struct {
		name string
		mine []wire.Level
		sim  []Level
	}{{"bids", b.sorted(false), bids}, {"asks", b.sorted(true), asks}} {
		if len(side.mine) != len(side.sim) {
			return fmt.Errorf("%s: %d levels, simulator %d", side.name, len(side.mine), len(side.sim))
		}
		for i, l := range side.sim {
			p, s := wire.MustDecimal(l.Price), wire.MustDecimal(l.Size)
			if side.mine[i].Price.Cmp(p) != 0 || side.mine[i].Size.Cmp(s) != 0 {
				return fmt.Errorf("%s[%d]: %s@%s, simulator %s@%s", side.name, i,
					side.mine[i].Size, side.mine[i].Price, l.Size, l.Price)
			}
		}
	}
	return nil
}

// TestVenueWithAdapter drives each exchange the way the gateway will: the adapter's Plan
// builds the URLs and subscribe frames, every frame must parse, book messages must chain
// by the adapter's BookRule (REST snapshot + U/u, stream snapshot + sequence, Kraken
// checksums, full books), and once the simulator pauses the book the test rebuilt from
// the stream must equal Server.Book.
func TestVenueWithAdapter(t *testing.T) {
	for _, vc := range venueCases() {
		t.Run(vc.ex, func(t *testing.T) {
			if vc.adapter == nil {
				t.Skip("no adapter yet")
			}
			ex := strings.TrimSuffix(vc.ex, "-v2")
			s := start(t, Options{Seed: 7, Rate: 400, Exchanges: []string{ex}})
			runVenue(t, s, ex, vc)
		})
	}
}

type counts struct{ bbo, trade, book, snapshots int }

func runVenue(t *testing.T, s *Server, ex string, vc venueCase) {
	a := vc.adapter
	chans := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	sub := adapter.Sub{Symbol: vc.sym, Channels: chans}
	plans, err := a.Plan("ws://"+s.Addr()+"/"+ex+vc.ws, []adapter.Sub{sub})
	if err != nil {
		t.Fatal(err)
	}
	type frame struct {
		i int
		m msg
	}
	merged := make(chan frame, 1024)
	var clients []*client
	for i, p := range plans {
		c, err := dialURL(t, p.URL)
		if err != nil {
			t.Fatalf("dial %s: %v", p.URL, err)
		}
		clients = append(clients, c)
		for _, f := range p.Subscribe {
			c.send(string(f))
		}
		go func() {
			for m := range c.msgs {
				select {
				case merged <- frame{i, m}:
				case <-c.done:
					return
				}
			}
		}()
	}
	p := a.NewParser()
	var batch adapter.Batch
	var n counts
	bk := newTBook()
	valid, fetched, synced := false, false, true
	var last, snapSeq uint64
	var buffered []wire.Record
	rule := a.BookRule()
	var want string
	if rule == adapter.BookChecksum {
		want = "checksum"
	}
	applyDelta := func(r *wire.Record) {
		if !valid {
			t.Fatalf("delta before a snapshot: %+v", r)
		}
		if !synced { // REST snapshot: drop what it already holds; the first must cover it
			if r.Seq <= snapSeq {
				return
			}
			if r.SeqFirst > snapSeq+1 {
				t.Fatalf("first delta [%d;%d] does not cover snapshot %d+1", r.SeqFirst, r.Seq, snapSeq)
			}
			synced, last = true, r.SeqFirst-1
		}
		if r.Flags&wire.FlagNoSeq == 0 && (rule == adapter.BookStreamSnapshot || rule == adapter.BookRESTSnapshot) {
			if r.SeqFirst != last+1 {
				t.Fatalf("delta does not chain: SeqFirst %d after Seq %d", r.SeqFirst, last)
			}
			last = r.Seq
		}
		bk.set(bk.bids, r.Bids)
		bk.set(bk.asks, r.Asks)
		if want != "" && r.HasChecksum {
			if got := a.(adapter.Checksummer).Checksum(bk.sorted(false), bk.sorted(true)); got != r.Checksum {
				t.Fatalf("checksum %d, message says %d", got, r.Checksum)
			}
		}
	}
	restSnapshot := func() {
		url := a.SnapshotURL("http://"+s.Addr()+"/"+ex, vc.sym, 0)
		code, body, _ := httpGet(t, url)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", url, code, body)
		}
		var sb adapter.Batch
		if err := p.ParseSnapshot(body, vc.sym, 0, &sb); err != nil {
			t.Fatalf("snapshot: %v: %s", err, body)
		}
		snap := sb.At(0)
		bk.snapshot(snap)
		valid, synced, snapSeq = true, false, snap.Seq
		for i := range buffered {
			applyDelta(&buffered[i])
		}
		buffered = nil
	}
	handle := func(f frame) {
		if f.m.err != nil {
			t.Fatalf("conn %d: %v", f.i, f.m.err)
		}
		batch.Reset()
		res, err := p.Parse(f.m.data, time.Now().UnixNano(), &batch)
		if err != nil {
			t.Fatalf("parse %s: %v", f.m.data, err)
		}
		switch res {
		case adapter.ResultPing:
			if err := clients[f.i].ws.WriteMessage(websocket.TextMessage, p.Reply()); err != nil {
				t.Fatal(err)
			}
		case adapter.ResultError, adapter.ResultClosing:
			t.Fatalf("result %d for %s", res, f.m.data)
		}
		for i := 0; i < batch.Len(); i++ {
			r := batch.At(i)
			switch r.Kind {
			case wire.KindBBO:
				n.bbo++
			case wire.KindTrade:
				n.trade++
			case wire.KindBookSnapshot:
				n.snapshots++
				bk.snapshot(r)
				valid, last = true, r.Seq
			case wire.KindBookDelta:
				n.book++
				if rule == adapter.BookRESTSnapshot && !fetched {
					buffered = append(buffered, *r)
					buffered[len(buffered)-1].Bids = append([]wire.Level(nil), r.Bids...)
					buffered[len(buffered)-1].Asks = append([]wire.Level(nil), r.Asks...)
					fetched = true
					restSnapshot()
					continue
				}
				applyDelta(r)
			}
		}
	}
	deadline := time.After(10 * time.Second)
	for n.trade < 3 || n.book+n.snapshots < 5 || !valid {
		select {
		case f := <-merged:
			handle(f)
		case <-deadline:
			t.Fatalf("not enough data: %+v valid=%v", n, valid)
		}
	}
	s.Pause()
	// Drain until the rebuilt book equals the simulator's.
	var lastErr error
	for done := false; !done; {
		bids, asks, ok := s.Book(ex, vc.sym)
		if !ok {
			t.Fatalf("Book(%s, %s) unknown", ex, vc.sym)
		}
		if lastErr = bk.equal(bids, asks); lastErr == nil {
			break
		}
		select {
		case f := <-merged:
			handle(f)
		case <-deadline:
			t.Fatalf("book never matched the simulator's: %v", lastErr)
		}
	}
	t.Logf("%s: %+v", vc.ex, n)
}
