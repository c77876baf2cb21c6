package strategy

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickline/tickline/configs"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

// TestExchangeToGatewayUs: exchange_to_gateway counts every record with an exchange time;
// exchange_to_gateway_us only those of venues stamped in µs (the venue table's TimeUnit),
// here Coinbase and not Binance.
func TestExchangeToGatewayUs(t *testing.T) {
	topo, err := config.Parse(configs.Demo)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(topo, Options{Endpoints: []string{"tcp://127.0.0.1:1"}, NoMetrics: true, Out: io.Discard, SignalBind: "tcp://127.0.0.1:0"},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.sig.Close()
	now := time.Now().UnixNano()
	var batch []bus.Message
	for i, ex := range []wire.Exchange{wire.Binance, wire.Coinbase, wire.Binance} {
		r := wire.Record{Kind: wire.KindTrade, Exchange: ex, GatewayID: 1, GatewaySeq: uint64(i + 1), Seq: uint64(i + 1),
			TsExchange: now - 2e6, TsRecv: now - 1e6, Side: wire.SideBuy}
		r.Price, _ = wire.ParseDecimal([]byte("1"))
		r.Size, _ = wire.ParseDecimal([]byte("1"))
		if err := r.Instrument.SetString("BTC-USD"); err != nil {
			t.Fatal(err)
		}
		if err := r.Symbol.SetString("BTCUSD"); err != nil {
			t.Fatal(err)
		}
		p, err := wire.AppendRecord(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, bus.Message{Payload: p})
	}
	s.process(batch)
	counts := map[string]int64{}
	for _, h := range s.Latency.Snapshot() {
		counts[h.Hop] = h.Count
	}
	if counts[HopExchangeToGateway] != 3 || counts[HopExchangeToGatewayUs] != 1 {
		t.Fatalf("hop counts %v: want 3 exchange_to_gateway, 1 exchange_to_gateway_us", counts)
	}
}
