package gwbench

import (
	"sync"
	"time"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/chain"
	"github.com/tickline/tickline/shared/bus"
	"github.com/tickline/tickline/shared/wire"
)

// pipeline is the gateway's per-record path rebuilt from public APIs: what
// gateway/session's handle does with a frame (parse; chain book records per symbol with
// chain.Sync, the session's configuration; copy the rest) and what Gateway.publish does
// with the batch (stamp gateway id, gateway sequence and receive time under the publish
// lock, wire.AppendRecord, wire.AppendTopic, bus.Publisher.Publish).
//
// Not included, because the session keeps them unexported: the rollover de-duplication
// check, the dense trade-id gap check, the repeat count of records without exchange ids
// (countRepeat) and the per-frame stats atomics. The hook that would
// let a harness drive the real code is an exported Session method taking a frame and its
// receive time (Session.handle without the connection).
//
// Ownership: one goroutine drives a pipeline.
type pipeline struct {
	conns []*connState
	pub   *bus.Publisher

	mu    sync.Mutex // as Gateway.mu: taken per batch
	seq   uint64
	buf   []byte
	topic []byte

	frames, records, parseErrors, encodeErrors, publishErrors uint64
}

// connState is one connection's parser and symbols (the session's state).
type connState struct {
	parser  adapter.Parser
	syms    map[wire.Name]*symState
	in, out adapter.Batch
}

type symState struct {
	name wire.Name
	sync chain.Sync
}

func newPipeline(c *captured, pub *bus.Publisher) (*pipeline, error) {
	p := &pipeline{pub: pub, buf: make([]byte, 0, 64<<10)}
	for _, cp := range c.conns {
		cs := &connState{parser: cp.a.NewParser(), syms: map[wire.Name]*symState{}}
		rule := cp.a.BookRule()
		ck, _ := cp.a.(adapter.Checksummer)
		for _, sub := range cp.subs {
			s := &symState{}
			if err := s.name.SetString(sub.Symbol); err != nil {
				return nil, err
			}
			s.sync = chain.Sync{Rule: rule, Checksum: ck, DeriveBBO: adapter.DerivesBBO(cp.a, sub)}
			s.sync.Book.MaxDepth = adapter.LocalBookDepth(cp.a, sub)
			cs.syms[s.name] = s
		}
		p.conns = append(p.conns, cs)
	}
	return p, nil
}

// reset forgets every book, so that the captured stream can be replayed again from its
// start (its snapshots make the books whole again).
func (p *pipeline) reset() {
	for _, c := range p.conns {
		for _, s := range c.syms {
			s.sync.Reset()
		}
	}
}

// handle runs one captured input through the path.
func (p *pipeline) handle(e *entry) {
	c := p.conns[e.conn]
	now := time.Now().UnixNano()
	c.in.Reset()
	c.out.Reset()
	if e.snapSym != "" {
		p.snapshot(c, e, now)
		return
	}
	p.frames++
	res, err := c.parser.Parse(e.data, now, &c.in)
	if err != nil {
		p.parseErrors++
	}
	if res == adapter.ResultPing {
		_ = c.parser.Reply() // the session writes it to the socket; not measured here
	}
	for i := 0; i < c.in.Len(); i++ {
		r := c.in.At(i)
		sym := c.syms[r.Symbol]
		if sym == nil {
			continue
		}
		if r.Kind == wire.KindBookSnapshot || r.Kind == wire.KindBookDelta {
			sym.sync.Apply(r, &c.out) // a snapshot request is served by the captured snapshot
			continue
		}
		copyRecord(c.out.Next(), r)
	}
	if c.out.Len() > 0 {
		p.publish(&c.out)
	}
}

// snapshot applies a captured REST book snapshot as the session's applySnapshots does.
func (p *pipeline) snapshot(c *connState, e *entry, now int64) {
	var name wire.Name
	if err := name.SetString(e.snapSym); err != nil {
		return
	}
	sym := c.syms[name]
	if sym == nil {
		return
	}
	if err := c.parser.ParseSnapshot(e.data, e.snapSym, now, &c.in); err != nil || c.in.Len() != 1 {
		p.parseErrors++
		sym.sync.SnapshotFailed()
		return
	}
	r := c.in.At(0)
	r.Symbol = sym.name
	sym.sync.Apply(r, &c.out)
	if c.out.Len() > 0 {
		p.publish(&c.out)
	}
}

// publish is Gateway.publish.
func (p *pipeline) publish(b *adapter.Batch) {
	var now int64 // read once, only for a record without a receive time (REST snapshots)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < b.Len(); i++ {
		r := b.At(i)
		p.seq++
		r.GatewayID, r.GatewaySeq = 1, p.seq
		if r.TsRecv == 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			r.TsRecv = now
		}
		var err error
		p.buf, err = wire.AppendRecord(p.buf[:0], r)
		if err != nil {
			p.seq--
			p.encodeErrors++
			continue
		}
		p.topic = wire.AppendTopic(p.topic[:0], r.Kind, r.Exchange, &r.Instrument)
		if err := p.pub.Publish(p.topic, p.buf); err != nil {
			p.publishErrors++
			continue
		}
		p.records++
	}
}

// copyRecord deep-copies src into dst, reusing dst's level memory (session.copyRecord).
func copyRecord(dst, src *wire.Record) {
	bids, asks := dst.Bids, dst.Asks
	*dst = *src
	dst.Bids = append(bids[:0], src.Bids...)
	dst.Asks = append(asks[:0], src.Asks...)
}
