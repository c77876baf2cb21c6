// Package kraken is the Kraken spot WebSocket v2 adapter (wss://ws.kraken.com/v2):
// `ticker` with event_trigger "bbo" for BBO, `trade` for trades, `book` for L2 books
// (stream snapshot + updates verified by a CRC32 checksum, BookChecksum).
//
// Sources: docs.kraken.com/exchange/api-reference/spot-websocket-v2 (ticker, trade, book,
// ping, status, heartbeat pages) and the book checksum guide, and the recorded messages in
// testdata/samples (README there).
//
// # Channels and records
//
// Every data message is {"channel","type":"snapshot"|"update","data":[...]}; each element
// of data becomes one record. Prices and sizes are bare JSON numbers whose text is kept
// digit for digit (0.12290 stays 0.12290: the checksum depends on it). Symbols are
// "BASE/QUOTE" (v2 uses BTC, not v1's XBT) → instrument BASE-QUOTE. Timestamps are
// RFC 3339 with microseconds.
//
//   - ticker → bbo (bid, bid_qty, ask, ask_qty; ts = timestamp, 0 when absent). A ticker
//     element without both bid and ask → ticker record (Price = last). Both the snapshot
//     and the updates are current state, so both are published. ChanBBO subscribes with
//     event_trigger "bbo" (an update on every best-bid/offer change); ChanTicker alone
//     subscribes the default trigger ("trades"), and still yields bbo records.
//   - trade (update) → trade: side is the taker's, Seq = trade_id (per book, sequential:
//     dedupe and gap key), SeqFirst = 0 (no separate message sequence). A trade snapshot
//     (the last 50 trades, replayed on subscribe) is checked and dropped (ResultControl):
//     those trades were published live when they happened; Plan asks for snapshot:false.
//   - book → book_snapshot / book_delta with Record.Checksum = `checksum` (HasChecksum).
//     Snapshot levels are best first; update levels are in no particular order and kept
//     as listed; qty 0 deletes.
//   - heartbeat, status and method answers (subscribe/unsubscribe acks, pong) →
//     ResultControl; an answer with success:false or an "error" → ResultError wrapping
//     adapter.ErrExchange (adapter.ErrRateLimited for "Exceeded msg rate"-type errors).
//
// # Sequence ids and the book rule
//
// Book and ticker messages carry no sequence number. Their records have wire.FlagNoSeq
// and a content key in Seq: FNV-1a 64 over the symbol, the timestamp text ("" when
// absent), the checksum (book) and every price and size text exactly as written (book:
// bids then asks in message order; ticker: bid, bid_qty, ask, ask_qty, or last);
// SeqFirst = 0. It depends only on the message's content, so redundant gateways key
// the same event alike; a ticker without timestamp that repeats an earlier BBO exactly
// gets the earlier key.
//
// BookRule is BookChecksum: the book sync applies the snapshot, then each update, drops
// qty-0 levels, truncates each side to the subscribed depth (Book.MaxDepth = BookDepth,
// the depth Plan subscribed: 10 when the config says 0, Kraken's default), and compares
// Checksum(top of book) with Record.Checksum; a mismatch means a lost or misapplied
// update, and Resubscribe (unsubscribe + subscribe the book) gets a fresh snapshot. The checksum (Checksum, checksum.go) needs every price and qty
// with the digits Kraken printed, trailing zeros included: the book the sync keeps must
// store prices with their printed scale, not in canonical form (0.1229 for 0.12290
// hashes "1229" where Kraken hashed "12290", and the check fails on a correct book).
//
// # Session
//
// The server sends {"channel":"heartbeat"} about once a second once subscribed, so
// StaleAfter is short; the client also sends the application ping {"method":"ping"}
// (answered by {"method":"pong",...}). Kraken documents no per-connection subscription
// limit and a dynamic message-rate limit ("Exceeded msg rate"): MaxSubsPerConn and the
// subscribe pacing are tickline's conservative choices (unverified against the live
// service). Book depth must be one of 10, 25, 100, 500, 1000 (others are rejected):
// Plan rounds Sub.Depth up to the next of these (0 → 10).
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo, ticker    content   FNV-1a over symbol, `timestamp` and the values
//	trade          trade_id  trade_id: a per-book integer sequence (DenseTradeIDs)
//	book_snapshot  content   FNV-1a over symbol, `timestamp` (when sent), checksum, levels
//	book_delta     content   the same
package kraken

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter and adapter.Checksummer for Kraken spot v2.
type Adapter struct{ adapter.Base }

// New returns the Kraken spot WebSocket v2 adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Kraken,
		Heartbeat: adapter.PingText, // application ping {"method":"ping"}
		PingFrame: pingFrame,
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentityContent,
			wire.KindBookSnapshot: wire.IdentityContent,
			wire.KindBookDelta:    wire.IdentityContent,
			wire.KindTicker:       wire.IdentityContent,
			wire.KindTrade:        wire.IdentityTradeID,
		},
		DenseIDs: true, // v2 `trade_id` is a per-book integer sequence
	}}
}

var (
	_ adapter.Adapter     = (*Adapter)(nil)
	_ adapter.Checksummer = (*Adapter)(nil)
)

// maxSymbolsPerFrame bounds the symbol list of one subscribe frame.
const maxSymbolsPerFrame = 50

// depths are the book depths Kraken accepts.
var depths = [...]int{10, 25, 100, 500, 1000}

// pingFrame is the application ping (docs: spot-websocket-v2/ping).
var pingFrame = []byte(`{"method":"ping"}`)

// bookDepth maps a wanted depth to the smallest accepted one that covers it.
func bookDepth(want int) (int, error) {
	if want <= 0 {
		return depths[0], nil
	}
	for _, d := range depths {
		if want <= d {
			return d, nil
		}
	}
	return 0, fmt.Errorf("kraken: book depth %d above %d", want, depths[len(depths)-1])
}

// BookDepth returns the depth Plan subscribes for a wanted depth (0 → 10, 20 → 25): the
// depth of Kraken's book for the subscription, which its checksum covers and to which
// the gateway trims its local book (adapter.BookDepther). A depth Plan rejects is
// returned as is.
func (*Adapter) BookDepth(want int) int {
	d, err := bookDepth(want)
	if err != nil {
		return want
	}
	return d
}

var _ adapter.BookDepther = (*Adapter)(nil)

// stream is one subscription group: a channel with its options.
type stream struct {
	channel string
	trigger string // ticker: "bbo" or "trades"
	depth   int    // book
}

// streams returns the subscriptions of one Sub.
func streams(s adapter.Sub) ([]stream, error) {
	var out []stream
	var bbo, ticker bool
	for _, c := range s.Channels {
		switch c {
		case adapter.ChanBBO:
			bbo = true
		case adapter.ChanTicker:
			ticker = true
		case adapter.ChanTrade:
			out = append(out, stream{channel: "trade"})
		case adapter.ChanBook:
			d, err := bookDepth(s.Depth)
			if err != nil {
				return nil, err
			}
			out = append(out, stream{channel: "book", depth: d})
		default:
			return nil, fmt.Errorf("kraken: channel %s not supported", c)
		}
	}
	switch {
	case bbo: // one ticker subscription per symbol; the bbo trigger covers ChanTicker too
		out = append(out, stream{channel: "ticker", trigger: "bbo"})
	case ticker:
		out = append(out, stream{channel: "ticker", trigger: "trades"})
	}
	return out, nil
}

type params struct {
	Channel      string   `json:"channel"`
	Symbol       []string `json:"symbol"`
	EventTrigger string   `json:"event_trigger,omitempty"`
	Depth        int      `json:"depth,omitempty"`
	Snapshot     *bool    `json:"snapshot,omitempty"`
}

type request struct {
	Method string `json:"method"`
	Params params `json:"params"`
}

var no = false

// frame builds one subscribe/unsubscribe frame.
func frame(method string, st stream, symbols []string) []byte {
	p := params{Channel: st.channel, Symbol: symbols, EventTrigger: st.trigger, Depth: st.depth}
	if st.channel == "trade" {
		p.Snapshot = &no // the last 50 trades are history, not live events
	}
	b, err := json.Marshal(request{Method: method, Params: p})
	if err != nil {
		panic(err) // strings, ints and slices always marshal
	}
	return b
}

// Plan puts at most Limits().MaxSubsPerConn symbol×channel subscriptions on each
// connection and subscribes each group (channel + options) with frames of at most
// maxSymbolsPerFrame symbols, e.g.
// {"method":"subscribe","params":{"channel":"ticker","symbol":["BTC/USD"],"event_trigger":"bbo"}}.
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	type conn struct {
		plan   adapter.ConnPlan
		groups map[stream][]string
		n      int
	}
	var conns []*conn
	for _, s := range subs {
		sts, err := streams(s)
		if err != nil {
			return nil, err
		}
		if len(sts) == 0 {
			return nil, fmt.Errorf("kraken: %s has no channels", s.Symbol)
		}
		if len(conns) == 0 || conns[len(conns)-1].n+len(sts) > a.Limits().MaxSubsPerConn {
			conns = append(conns, &conn{plan: adapter.ConnPlan{URL: wsURL}, groups: map[stream][]string{}})
		}
		c := conns[len(conns)-1]
		c.plan.Symbols = append(c.plan.Symbols, s.Symbol)
		for _, st := range sts {
			c.groups[st] = append(c.groups[st], s.Symbol)
			c.n++
		}
	}
	plans := make([]adapter.ConnPlan, 0, len(conns))
	for _, c := range conns {
		keys := make([]stream, 0, len(c.groups))
		for k := range c.groups {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { // ticker, trade, book; then options
			a, b := keys[i], keys[j]
			if a.channel != b.channel {
				return channelOrder(a.channel) < channelOrder(b.channel)
			}
			if a.trigger != b.trigger {
				return a.trigger < b.trigger
			}
			return a.depth < b.depth
		})
		for _, k := range keys {
			syms := c.groups[k]
			for len(syms) > 0 {
				n := min(len(syms), maxSymbolsPerFrame)
				c.plan.Subscribe = append(c.plan.Subscribe, frame("subscribe", k, syms[:n]))
				syms = syms[n:]
			}
		}
		plans = append(plans, c.plan)
	}
	return plans, nil
}

func channelOrder(c string) int {
	switch c {
	case "ticker":
		return 0
	case "trade":
		return 1
	}
	return 2
}

// Resubscribe returns an unsubscribe and a subscribe of the symbol's book, which makes
// Kraken send a fresh snapshot (after a checksum mismatch). Nil when sub has no book.
func (*Adapter) Resubscribe(sub adapter.Sub) [][]byte {
	sts, err := streams(sub)
	if err != nil {
		return nil
	}
	for _, st := range sts {
		if st.channel == "book" {
			syms := []string{sub.Symbol}
			return [][]byte{frame("unsubscribe", st, syms), frame("subscribe", st, syms)}
		}
	}
	return nil
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Kraken, instrument)}
}
