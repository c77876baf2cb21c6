// Package binance is the Binance spot adapter: combined-stream WebSocket
// (`/stream?streams=` or SUBSCRIBE frames), bookTicker for BBO, trade/aggTrade for trades,
// depth@100ms diffs chained to a REST snapshot by U/u (BookRESTSnapshot).
//
// Protocol notes: spot bookTicker has no timestamp (ts_exchange_ns = 0); trade `m` = "buyer
// is the maker" so m=true is a taker sell; the server pings every 20 s and drops a
// connection that has not answered within a minute (the WebSocket layer answers pings);
// a connection lives at most 24 h; 5 incoming messages/s; 1024 streams per connection.
//
// # Event identity (Adapter.Identity)
//
//	kind           identity  Seq
//	bbo            sparse    bookTicker u: the book's update id (shared with depth, holes)
//	trade          trade_id  t: consecutive per symbol (DenseTradeIDs: holes are marked)
//	book_delta     dense     u, chained by U == previous u + 1 (SeqFirst = U)
//	book_snapshot  sparse    REST lastUpdateId (the last id applied when published)
package binance

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/wire"
)

// Adapter implements adapter.Adapter for Binance spot.
type Adapter struct{ adapter.Base }

// New returns the Binance spot adapter.
func New() *Adapter {
	return &Adapter{adapter.Base{
		Venue:     wire.Binance,
		Heartbeat: adapter.PingNone, // Binance pings, the WebSocket layer answers with a pong
		Ids: adapter.Identities{ // the package doc's table
			wire.KindBBO:          wire.IdentitySparse,
			wire.KindBookSnapshot: wire.IdentitySparse,
			wire.KindTrade:        wire.IdentityTradeID,
			wire.KindBookDelta:    wire.IdentityDense,
		},
		DenseIDs: true, // trade ids `t` are consecutive per symbol
	}}
}

var _ adapter.Adapter = (*Adapter)(nil)

// maxParamsPerFrame keeps each SUBSCRIBE frame small; Binance allows 1024 streams per
// connection and 5 incoming messages per second.
const maxParamsPerFrame = 200

// streams returns the stream names of one subscription.
func streams(s adapter.Sub) ([]string, error) {
	sym := strings.ToLower(s.Symbol)
	return adapter.ChannelNames("binance", s, adapter.Names{
		adapter.ChanBBO:   sym + "@bookTicker",
		adapter.ChanTrade: sym + "@trade",
		adapter.ChanBook:  sym + "@depth@100ms",
	})
}

// Plan splits the streams over connections of at most Limits().MaxSubsPerConn streams
// (the venue table's: Binance's 1024), subscribing with
// SUBSCRIBE frames on the combined-stream endpoint (wsURL, e.g.
// wss://stream.binance.com:9443/stream).
func (a *Adapter) Plan(wsURL string, subs []adapter.Sub) ([]adapter.ConnPlan, error) {
	return adapter.Pack(wsURL, subs, a.Limits().MaxSubsPerConn, maxParamsPerFrame, streams, subscribeFrame)
}

func subscribeFrame(params []string, id int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"method":"SUBSCRIBE","params":[`)
	adapter.WriteStrings(&b, params)
	fmt.Fprintf(&b, `],"id":%d}`, id)
	return b.Bytes()
}

// SnapshotURL returns GET {restURL}/api/v3/depth?symbol=SYM&limit=N (N defaults to 1000).
func (*Adapter) SnapshotURL(restURL, symbol string, depth int) string {
	if depth <= 0 {
		depth = 1000
	}
	return fmt.Sprintf("%s/api/v3/depth?symbol=%s&limit=%d", strings.TrimRight(restURL, "/"), strings.ToUpper(symbol), depth)
}

// NewParser returns a parser for one connection.
func (*Adapter) NewParser() adapter.Parser {
	return &Parser{ParserBase: adapter.NewParserBase(wire.Binance, adapter.InstrumentConcat)}
}
