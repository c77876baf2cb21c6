// Package gateway runs one tickline gateway: exchange sessions → adapters → book sync →
// stamped wire records on the bus. It also hosts the exchange registry and the offline
// normalizer behind `tickline normalize`.
package gateway

import (
	"fmt"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/binance"
	"github.com/tickline/tickline/shared/wire"
)

// adapters maps each exchange to its adapter. Adapters are immutable and shared.
var adapters = map[wire.Exchange]adapter.Adapter{
	wire.Binance: binance.New(),
}

// Adapter returns the adapter of ex.
func Adapter(ex wire.Exchange) (adapter.Adapter, error) {
	a, ok := adapters[ex]
	if !ok {
		return nil, fmt.Errorf("gateway: no adapter for %s", ex)
	}
	return a, nil
}
