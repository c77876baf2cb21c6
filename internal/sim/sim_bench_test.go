package sim

import (
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tickline/tickline/gateway/adapter"
)

// BenchmarkServerThroughput measures the aggregate rate of frames the simulator writes to
// one connection per exchange protocol (all ten, Bithumb on both APIs), each subscribed
// to BBO, trades and book for one symbol, as the adapters plan it. Clients read with
// NextReader into io.Discard. It reports msgs/s (frames received per second).
func BenchmarkServerThroughput(b *testing.B) {
	benchThroughput(b, venueCases(), 100000)
}

// BenchmarkServerThroughputBinance is the same on one Binance connection (two symbols).
func BenchmarkServerThroughputBinance(b *testing.B) {
	vc := venueCases()[0]
	benchThroughput(b, []venueCase{vc, {vc.ex, vc.ws, "ETHUSDT", vc.adapter}}, 200000)
}

func benchThroughput(b *testing.B, cases []venueCase, rate float64) {
	s := start(b, Options{Seed: 1, Rate: rate})
	var got atomic.Int64
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	chans := []adapter.Channel{adapter.ChanBBO, adapter.ChanTrade, adapter.ChanBook}
	for _, vc := range cases {
		ex := strings.TrimSuffix(vc.ex, "-v2")
		plans, err := vc.adapter.Plan("ws://"+s.Addr()+"/"+ex+vc.ws, []adapter.Sub{{Symbol: vc.sym, Channels: chans}})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range plans {
			ws, resp, err := websocket.DefaultDialer.Dial(p.URL, nil)
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			ws.SetReadLimit(64 << 20)
			conns = append(conns, ws)
			for _, f := range p.Subscribe {
				if err := ws.WriteMessage(websocket.TextMessage, f); err != nil {
					b.Fatal(err)
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, r, err := ws.NextReader()
					if err != nil {
						return
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						return
					}
					got.Add(1)
				}
			}()
		}
	}
	defer func() {
		for _, ws := range conns {
			ws.Close()
		}
		wg.Wait()
	}()
	for got.Load() < 100 { // warm up: every subscription answered, data flowing
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	begin, base := time.Now(), got.Load()
	for got.Load()-base < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(begin)
	b.StopTimer()
	b.ReportMetric(float64(got.Load()-base)/el.Seconds(), "msgs/s")
	b.ReportMetric(0, "ns/op")
}
