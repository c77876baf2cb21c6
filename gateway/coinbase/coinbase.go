// Package coinbase is the Coinbase Exchange adapter: the public WebSocket feed
// (wss://ws-feed.exchange.coinbase.com), `ticker` for BBO, `matches` for trades,
// `level2_batch` for L2 books (stream snapshot + l2update diffs, BookStreamSnapshot), and
// `heartbeat` on every connection for liveness.
//
// Sources: docs.cdp.coinbase.com/exchange/websocket-feed (overview, channels,
// authentication, rate-limits, best-practices, errors) and the recorded messages in
// testdata/samples (README there).
//
// # Channels and records
//
//   - ticker → bbo when the message carries best_bid AND best_ask (Seq = `sequence`,
//     ts = `time`). bid_sz/ask_sz are best_bid_size/best_ask_size when given; messages
//     without them (the 2021 format) leave the sizes 0, meaning "not given"; a size given
//     as "" is malformed (an error, not size 0). A ticker
//     without both best prices → ticker record (Price = `price`, Size = `last_size`).
//     The ticker is published on matches (batched on cascades), so this BBO only moves
//     when a trade happens; a BBO that follows every quote change needs the book top
//     (ChanBook, which the gateway can derive a BBO from). ChanBBO and ChanTicker both
//     subscribe `ticker`. The trade fields of a ticker are not published: the same trade
//     arrives on `matches`.
//   - match → trade. Coinbase's `side` is the MAKER order's side, so the taker side is the
//     opposite ("sell" ⇒ taker buy). Seq = `trade_id` (per product, the dedupe and gap key),
//     SeqFirst = `sequence` (the product's feed sequence, shared with ticker/full messages,
//     so not consecutive within matches: dedupe only).
//   - last_match → ResultControl, no record. The server sends it once per subscribe: it
//     repeats the product's most recent trade, which was published live as a `match` when
//     it happened (the recorded last_match is trade 881613, the same trade as ticker-1).
//     Republishing it after every reconnect would duplicate a possibly hours-old trade
//     past the arbiter's bounded dedupe window. It is still fully parsed, so a malformed
//     one is an error.
//   - snapshot → book_snapshot, l2update → book_delta (changes [side, price, new_size],
//     "buy" = bid, "sell" = ask, absolute sizes, "0" removes). Levels keep the order the
//     exchange listed them in.
//   - heartbeat, subscriptions → ResultControl; error → ResultError wrapping
//     adapter.ErrExchange (and adapter.ErrRateLimited for rate-limit/slow-read errors).
//
// # Sequence ids and the book rule
//
// Level2 messages carry NO sequence number and no checksum (samples README (d)). So book
// records have wire.FlagNoSeq and a content key in Seq: FNV-1a 64 over the product id,
// the `time` text (l2update; snapshots have none) and, in message order, each change's
// side, price and size text (l2update) or each bid's then each ask's price and size text
// (snapshot), exactly as written; SeqFirst = 0. The key depends only on message content, so redundant gateways give the
// same key for the same l2update. Caveat (unverified): level2_batch batches on a timer;
// if the batch boundaries differ between connections, two gateways publish different
// deltas for the same book changes and the arbiter cannot merge them.
//
// BookRule is BookStreamSnapshot: each subscribe (and Resubscribe) yields a snapshot,
// then deltas apply in arrival order. Because "SeqFirst == previous Seq + 1" cannot be
// checked, the book sync must apply FlagNoSeq deltas in arrival order without the Seq
// chaining (comparing content keys as sequence numbers would drop or reject them at
// random); gaps are not detectable from level2 itself. What
// protects the book is that level2 is documented as the channel that guarantees
// delivery (a slow consumer is disconnected with ErrSlowConsume rather than skipped;
// assumed, not verified, to hold for level2_batch too), so a book is whole from its
// snapshot until the connection drops; a crossed book is the remaining in-band symptom.
// The heartbeat's `sequence`/`last_trade_id` could detect missed ticker/match messages
// (trade ids are per product), but that needs state across frames: Parse treats
// heartbeats as control.
//
// # Session
//
// No client ping: every connection subscribes `heartbeat` for its products (one message
// per product per second), so StaleAfter is short. `level2` itself now requires
// authentication; `level2_batch` is the public equivalent (same messages, batched) that
// the best-practices page recommends. The exchange limits are per IP (8 connection
// requests/s, 100 client messages/s) and 10 subscriptions per product per channel per
// account (redundant gateways and Resubscribe count against it); it documents no
// per-connection limit, so MaxSubsPerConn is tickline's choice, following the advice to
// spread heavy products over connections. A subscribe must arrive within 5 s of
// connecting.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo, ticker    sparse    ticker `sequence`: the product's feed sequence (shared with matches)
//	trade          trade_id  match trade_id: consecutive per product (DenseTradeIDs)
//	book_snapshot  content   FNV-1a over product id and levels (the snapshot has no time)
//	book_delta     content   FNV-1a over product id, `time` and the changes
package coinbase

import (
	"encoding/json"
	"fmt"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Coinbase Exchange.
type Adapter struct{ adapter.Base }

// New returns the Coinbase Exchange adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Coinbase,
		Heartbeat: adapter.PingNone, // the heartbeat channel keeps the feed alive and observable
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindTicker:       wire.IdentitySparse,
			wire.KindTrade:        wire.IdentityTradeID,
			wire.KindBookSnapshot: wire.IdentityContent,
			wire.KindBookDelta:    wire.IdentityContent,
		},
		DenseIDs: true, // `trade_id` is consecutive per product (the heartbeat's last_trade_id exists to detect missed trades)
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// Channel names on the feed.
const (
	chanTicker    = "ticker"
	chanMatches   = "matches"
	chanBook      = "level2_batch"
	chanHeartbeat = "heartbeat"
)

// channels returns the feed channels of one subscription, without duplicates.
func channels(s adapter.Sub) ([]string, error) {
	return adapter.ChannelNames("coinbase", s, adapter.Names{
		adapter.ChanBBO:    chanTicker,
		adapter.ChanTrade:  chanMatches,
		adapter.ChanBook:   chanBook,
		adapter.ChanTicker: chanTicker,
	})
}

// subChannel is one entry of a subscribe frame's "channels" list.
type subChannel struct {
	Name       string   `json:"name"`
	ProductIDs []string `json:"product_ids"`
}

type subFrame struct {
	Type     string       `json:"type"`
	Channels []subChannel `json:"channels"`
}

// frame builds a subscribe/unsubscribe frame, channels in a fixed order.
func frame(typ string, byChan map[string][]string) []byte {
	f := subFrame{Type: typ}
	for _, name := range [...]string{chanTicker, chanMatches, chanBook, chanHeartbeat} {
		if ids := byChan[name]; len(ids) > 0 {
			f.Channels = append(f.Channels, subChannel{Name: name, ProductIDs: ids})
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // strings and slices always marshal
	}
	return b
}

// Plan puts at most Limits().MaxSubsPerConn product×channel subscriptions on each
// connection (heartbeat not counted) and subscribes each connection with one frame:
// {"type":"subscribe","channels":[{"name":"ticker","product_ids":[...]},...]} plus the
// heartbeat channel for all of its products. Sub.Depth is ignored: level2 is full depth.
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	var plans []adapter.ConnPlan
	var byChan map[string][]string
	n := 0
	flush := func() {
		if len(plans) > 0 {
			plans[len(plans)-1].Subscribe = [][]byte{frame("subscribe", byChan)}
		}
	}
	for _, s := range subs {
		names, err := channels(s)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("coinbase: %s has no channels", s.Symbol)
		}
		if len(plans) == 0 || n+len(names) > a.Limits().MaxSubsPerConn {
			flush()
			plans = append(plans, adapter.ConnPlan{URL: wsURL})
			byChan, n = map[string][]string{}, 0
		}
		p := &plans[len(plans)-1]
		p.Symbols = append(p.Symbols, s.Symbol)
		for _, name := range names {
			byChan[name] = append(byChan[name], s.Symbol)
			n++
		}
		byChan[chanHeartbeat] = append(byChan[chanHeartbeat], s.Symbol)
	}
	flush()
	return plans, nil
}

// Resubscribe returns an unsubscribe and a subscribe of the symbol's level2_batch
// channel: the subscribe makes the feed send a fresh snapshot. Nil when sub has no book.
func (*Adapter) Resubscribe(sub adapter.Sub) [][]byte {
	names, err := channels(sub)
	if err != nil {
		return nil
	}
	for _, n := range names {
		if n == chanBook {
			m := map[string][]string{chanBook: {sub.Symbol}}
			return [][]byte{frame("unsubscribe", m), frame("subscribe", m)}
		}
	}
	return nil
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Coinbase, instrument)}
}
