// Package shaper is a bus line shaper for tests and benchmarks: it subscribes to a
// publisher and republishes every message on its own endpoint after a delay (fixed plus
// jitter) and with drops (random, seeded), so that a receiver can be fed a slow line, a
// jittery line or a lossy line exactly as a real network would present them: whole ZMTP
// messages late or missing, visible as gateway-sequence gaps.
package shaper

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/wire"
)

// Options describe a line.
type Options struct {
	Delay  time.Duration // added to every message
	Jitter time.Duration // plus a uniform random extra delay in [0, Jitter)
	Drop   float64       // probability of dropping a message
	// DropKinds restricts drops to these record kinds (nil: any).
	DropKinds []wire.Kind
	Seed      uint64
}

// Shaper forwards one publisher's stream. Create with New, run with Run.
type Shaper struct {
	opts    Options
	sub     *bus.Subscriber
	pub     *bus.Publisher
	rng     *rand.Rand
	drop    atomic.Uint64 // math.Float64bits of the drop probability (SetDrop)
	queue   chan item
	Dropped atomic.Uint64
	Passed  atomic.Uint64
}

type item struct {
	at             time.Time
	topic, payload []byte
}

// New subscribes to upstream and listens on bind.
func New(upstream, bind string, opts Options, log *slog.Logger) (*Shaper, error) {
	pub, err := bus.NewPublisher(bind, bus.Options{QueueDepth: 1 << 16, MaxMessageBytes: 4 << 20}, log)
	if err != nil {
		return nil, err
	}
	sub := bus.NewSubscriber(bus.SubOptions{MaxMessageBytes: 4 << 20}, log)
	if err := sub.Connect(upstream); err != nil {
		pub.Close()
		return nil, err
	}
	sub.Subscribe("")
	s := &Shaper{opts: opts, sub: sub, pub: pub, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed+1)), queue: make(chan item, 1<<16)}
	s.drop.Store(math.Float64bits(opts.Drop))
	return s, nil
}

// Endpoint is where the shaped line is published.
func (s *Shaper) Endpoint() string { return s.pub.Endpoint() }

// Run forwards until ctx ends.
func (s *Shaper) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case it := <-s.queue:
				if d := time.Until(it.at); d > 0 {
					t := time.NewTimer(d)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				s.pub.Publish(it.topic, it.payload)
			}
		}
	}()
	err := s.sub.Run(ctx, func(batch []bus.Message) {
		now := time.Now()
		for _, m := range batch {
			if s.dropNow(m.Payload) {
				s.Dropped.Add(1)
				continue
			}
			s.Passed.Add(1)
			d := s.opts.Delay
			if s.opts.Jitter > 0 {
				d += time.Duration(s.rng.Int64N(int64(s.opts.Jitter)))
			}
			it := item{at: now.Add(d), topic: append([]byte(nil), m.Topic...), payload: append([]byte(nil), m.Payload...)}
			select {
			case s.queue <- it:
			case <-ctx.Done():
				return
			}
		}
	})
	wg.Wait()
	s.sub.Close()
	s.pub.Close()
	return err
}

// SetDrop changes the drop probability while the shaper runs.
func (s *Shaper) SetDrop(p float64) { s.drop.Store(math.Float64bits(p)) }

func (s *Shaper) dropNow(payload []byte) bool {
	p := math.Float64frombits(s.drop.Load())
	if p <= 0 || s.rng.Float64() >= p {
		return false
	}
	if len(s.opts.DropKinds) == 0 {
		return true
	}
	var h wire.Header
	if wire.ReadHeader(payload, &h) != nil {
		return false
	}
	for _, k := range s.opts.DropKinds {
		if h.Kind == k {
			return true
		}
	}
	return false
}

// Subscribers returns how many subscribers of the shaped line have subscribed.
func (s *Shaper) Subscribers() int { return s.pub.Subscribed() }
