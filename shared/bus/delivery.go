package bus

import (
	"context"
	"sync"
	"sync/atomic"
)

// delivery hands the readers' batches to the one handler of a Subscriber.
//
// Fast path: when nobody is in the handler and nothing is waiting, the reader that got a
// batch calls the handler itself — no hand-off, no wake-up between the socket and the
// handler. Otherwise (another endpoint's batch is being handled, or batches are waiting)
// the batch joins a FIFO queue that Run's goroutine drains, so that under load the readers
// keep reading and batches from different endpoints reach the handler in the order they
// arrived (line arbitration keeps the first arrival; a reader blocked behind another
// line's handler would let that line overtake it). pending counts batches queued and not
// yet handled: the fast path is taken only at zero, checked under mu, so a reader never
// overtakes its own queued batch.
type delivery struct {
	mu      sync.Mutex // held while the handler runs
	handler func([]Message)
	pending atomic.Int64
	queue   chan *batch // batches that found the handler busy, in arrival order
	free    chan *batch // handled queued batches, for readers to reuse
}

func newDelivery(handler func([]Message), queueBatches, readers int) *delivery {
	return &delivery{handler: handler, queue: make(chan *batch, queueBatches), free: make(chan *batch, queueBatches+readers)}
}

// deliver hands b over. It reports queued when b went to the queue (the reader then needs
// another batch, see get), and false ok when ctx ended while the queue was full.
func (d *delivery) deliver(ctx context.Context, b *batch) (queued, ok bool) {
	if d.mu.TryLock() {
		if d.pending.Load() == 0 {
			d.handle(b)
			d.mu.Unlock()
			return false, true
		}
		d.mu.Unlock()
	}
	d.pending.Add(1)
	select {
	case d.queue <- b:
		return true, true
	case <-ctx.Done():
		d.pending.Add(-1)
		return false, false
	}
}

// handle runs the handler on b and empties b for reuse. The caller holds mu.
func (d *delivery) handle(b *batch) {
	d.handler(b.msgs)
	b.msgs = b.msgs[:0] // Messages point only into b.arena: nothing foreign is retained
	b.arena = b.arena[:0]
}

// drain handles queued batches until ctx ends (Run's goroutine).
func (d *delivery) drain(ctx context.Context) {
	for {
		select {
		case b := <-d.queue:
			d.mu.Lock()
			d.handle(b)
			d.pending.Add(-1)
			d.mu.Unlock()
			select {
			case d.free <- b:
			default:
			}
		case <-ctx.Done():
			return
		}
	}
}

// get returns a batch for a reader whose batch went to the queue.
func (d *delivery) get(o *SubOptions) *batch {
	select {
	case b := <-d.free:
		return b
	default:
		return &batch{msgs: make([]Message, 0, o.BatchMessages), arena: make([]byte, 0, o.BatchBytes)}
	}
}
