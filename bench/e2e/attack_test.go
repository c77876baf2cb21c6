package e2e

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/internal/sim"
	"github.com/tickline/tickline/shared/wire"
	"github.com/tickline/tickline/strategy"
)

// TestStrategySurvivesHostileGateway (issue #10, dial side): one of the strategy's two
// lines answers every dial with the 73-byte handshake claiming 2^62 bytes, which crashed
// receivers that used zmq4's handshake. The strategy keeps redialling it and keeps
// delivering the healthy line.
func TestStrategySurvivesHostileGateway(t *testing.T) {
	s, err := StartSim(sim.Options{Seed: 9, Rate: 100, Exchanges: []string{"binance", "okx", "upbit"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	topo, err := Topology(".", s.Addr(), "binance", "okx", "upbit")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := StartGateway(topo, topo.Gateways[0].ID, "tcp://127.0.0.1:0", gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Stop()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dials atomic.Int64
	go func() {
		attack := make([]byte, 64)
		attack[0], attack[9], attack[10] = 0xff, 0x7f, 3
		copy(attack[12:], "NULL")
		attack = binary.BigEndian.AppendUint64(append(attack, 0x06), 1<<62)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			go func() {
				_, _ = c.Write(attack)
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()

	var healthy atomic.Int64
	st, err := strategy.New(topo, strategy.Options{Endpoints: []string{gw.Endpoint(), "tcp://" + ln.Addr().String()}, NoMetrics: true,
		SignalBind: "tcp://127.0.0.1:0", Out: io.Discard, OnRecord: func(line int, _ *wire.Record) {
			if line == 0 {
				healthy.Add(1)
			}
		}}, Quiet)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGroup()
	defer g.Stop()
	g.Go(func(ctx context.Context) { st.Run(ctx) })
	if !Wait(20*time.Second, func() bool { return dials.Load() >= 3 && healthy.Load() > 200 }) {
		t.Fatalf("hostile line dialled %d times, healthy line delivered %d records", dials.Load(), healthy.Load())
	}
	before := healthy.Load()
	if !Wait(10*time.Second, func() bool { return healthy.Load() > before+100 }) {
		t.Fatal("healthy line stopped while the hostile one kept refusing")
	}
}
