package sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/binance"
	"github.com/tickline/tickline/gateway/bithumb"
	"github.com/tickline/tickline/gateway/bybit"
	"github.com/tickline/tickline/gateway/coinbase"
	"github.com/tickline/tickline/gateway/coinone"
	"github.com/tickline/tickline/gateway/gateio"
	"github.com/tickline/tickline/gateway/korbit"
	"github.com/tickline/tickline/gateway/kraken"
	"github.com/tickline/tickline/gateway/okx"
	"github.com/tickline/tickline/gateway/upbit"
	"github.com/tickline/tickline/shared/wire"
)

// venueCase is one exchange as configs/demo.yaml reaches it. adapter is the gateway's
// adapter for it; when adding an exchange whose adapter does not exist yet, leave it nil:
// the protocol-only tests still run and this test skips until it is filled in.
type venueCase struct {
	ex      string
	ws      string // WebSocket path under /<ex> (configs/demo.yaml)
	sym     string // config symbol
	adapter adapter.Adapter
}

var venueCases = []venueCase{
	{"binance", "/stream", "BTCUSDT", binance.New()},
	{"coinbase", "/", "BTC-USD", coinbase.New()},
	{"kraken", "/v2", "BTC/USD", kraken.New()},
	{"okx", "/ws/v5/public", "BTC-USDT", okx.New()},
	{"bybit", "/v5/public/spot", "BTCUSDT", bybit.New()},
	{"gateio", "/ws/v4/", "BTC_USDT", gateio.New()},
	{"upbit", "/websocket/v1", "KRW-BTC", upbit.New()},
	{"bithumb", "/pub/ws", "BTC_KRW", bithumb.New()},
	{"bithumb-v2", "/websocket/v1", "BTC_KRW", bithumb.New()},
	{"korbit", "/v2/public", "btc_krw", korbit.New()},
	{"coinone", "/", "BTC-KRW", coinone.New()},
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
	for _, vc := range venueCases {
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
