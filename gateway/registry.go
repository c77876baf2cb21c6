// Package gateway runs one tickline gateway: exchange sessions → adapters → book sync →
// stamped wire records on the bus. It also hosts the exchange registry and the offline
// normalizer behind `tickline normalize`.
package gateway

import (
	"fmt"

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

// adapters maps each exchange of the venue table (shared/wire/venue.go) to its adapter:
// one line per venue (TestRegistryCoversVenueTable fails while a row has none). Adapters
// are immutable and shared.
var adapters = map[wire.Exchange]adapter.Adapter{
	wire.Binance:  binance.New(),
	wire.Coinbase: coinbase.New(),
	wire.Kraken:   kraken.New(),
	wire.OKX:      okx.New(),
	wire.Bybit:    bybit.New(),
	wire.GateIO:   gateio.New(),
	wire.Upbit:    upbit.New(),
	wire.Bithumb:  bithumb.New(),
	wire.Korbit:   korbit.New(),
	wire.Coinone:  coinone.New(),
}

// Adapter returns the adapter of ex.
func Adapter(ex wire.Exchange) (adapter.Adapter, error) {
	a, ok := adapters[ex]
	if !ok {
		return nil, fmt.Errorf("gateway: no adapter for %s", ex)
	}
	return a, nil
}

// Identity returns how exchange ex identifies its events of kind k, as its adapter states
// it (adapter.Adapter.Identity); wire.IdentityNone for an unknown exchange. Receivers
// that de-duplicate by class (the arbiter) can be given this function.
func Identity(ex wire.Exchange, k wire.Kind) wire.Identity {
	a, ok := adapters[ex]
	if !ok {
		return wire.IdentityNone
	}
	return a.Identity(k)
}
