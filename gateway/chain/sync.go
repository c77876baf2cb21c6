// Package chain chains one symbol's exchange book messages (snapshots and deltas) by the
// exchange's sequence rules and keeps its book (shared/book).
package chain

import (
	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/shared/book"
	"github.com/tickline/tickline/shared/wire"
)

// Action is what a Sync asks its session to do after a record.
type Action uint8

// Actions.
const (
	ActNone          Action = 0
	ActFetchSnapshot Action = 1 // fetch a REST snapshot for this symbol (BookRESTSnapshot)
	ActResubscribe   Action = 2 // get a fresh stream snapshot for this symbol
)

// SyncStats counts what a Sync saw.
type SyncStats struct {
	Applied, Gaps, Resyncs, Duplicates, ChecksumFailures, Crossed, Buffered, Overflows uint64
}

// Sync chains one symbol's book messages by its exchange's BookRule and keeps the book.
// It decides what reaches the bus: applied deltas, a snapshot when the book becomes whole,
// status records (gap, checksum, crossed, resync) whenever it is not, and, with DeriveBBO,
// a BBO record whenever the top of book changes.
//
// Deltas flagged FlagNoSeq carry no exchange id and cannot be chained: they are applied
// as they come (gaps in such feeds are invisible to the gateway).
//
// A book is valid only between a snapshot and the next break in the chain; while invalid,
// deltas are not published (the gap status told consumers to drop their copy), and the
// Action returned says how to get whole again. A gap on one symbol concerns that symbol's
// Sync only: the other symbols on the connection go on.
//
// Ownership: one goroutine (the connection's) owns a Sync.
type Sync struct {
	Rule      adapter.BookRule
	Checksum  adapter.Checksummer // BookChecksum only
	DeriveBBO bool                // publish the book top as KindBBO (FlagFromBook) on change
	// MaxPending bounds the deltas buffered while a REST snapshot is fetched (default 4096).
	MaxPending int

	Book  book.Book
	Stats SyncStats

	valid    bool
	resync   bool   // the next whole book is a resync (after a gap), not the first sync
	first    bool   // the next delta is the first after a snapshot: relaxed chaining
	fetching bool   // a snapshot request is outstanding
	last     uint64 // Seq of the last applied message
	noSeq    bool   // the last applied message had no exchange id (last is a content key)
	pending  []wire.Record
	top      [2]wire.Level // last published BBO (bid, ask)
	topOK    bool
}

// Valid reports whether the book is whole.
func (s *Sync) Valid() bool { return s.valid }

// Reset forgets the book (e.g. after a reconnect): the next snapshot starts it again, and
// it counts as a resync.
func (s *Sync) Reset() {
	s.Book.Reset()
	s.valid, s.first, s.fetching, s.topOK = false, false, false, false
	s.resync = true
	s.pending = s.pending[:0]
}

// AppendRefresh appends a snapshot of the current book (FlagRefresh, Seq = last applied id)
// with the given identity, for subscribers that joined after the last exchange snapshot.
// It appends nothing and returns false while the book is not valid, and for exchanges
// whose every push is a whole book.
//
// A refresh is not an exchange event (wire.IdentityNone). When the book's messages carry
// no exchange id (Coinbase level2, Kraken), the last applied "id" is a content key: the
// refresh then says so (FlagNoSeq) and its Seq is that key mixed with a refresh marker,
// so it can never be read as an exchange id nor equal the key of an exchange message;
// gateways whose books applied the same last message still give their refreshes the same
// key.
func (s *Sync) AppendRefresh(out *adapter.Batch, ex wire.Exchange, sym, inst *wire.Name, recvNs int64) bool {
	if !s.valid || s.Rule == adapter.BookFullEachPush {
		return false
	}
	o := out.Next()
	o.Kind, o.Exchange, o.Flags, o.Seq, o.TsRecv = wire.KindBookSnapshot, ex, wire.FlagRefresh, s.last, recvNs
	if s.noSeq {
		o.Flags |= wire.FlagNoSeq
		o.Seq = adapter.ContentKey(s.last, refreshMarker)
	}
	o.Symbol, o.Instrument = *sym, *inst
	o.Bids = append(o.Bids[:0], s.Book.Bids()...)
	o.Asks = append(o.Asks[:0], s.Book.Asks()...)
	return true
}

// refreshMarker is mixed into the content key of a refresh snapshot.
var refreshMarker = []byte("refresh")

// SnapshotFailed tells the Sync that the requested REST snapshot did not arrive: the next
// delta asks for it again.
func (s *Sync) SnapshotFailed() { s.fetching = false }

// Apply feeds one book record (KindBookSnapshot or KindBookDelta, as parsed) and appends
// what to publish to out.
func (s *Sync) Apply(r *wire.Record, out *adapter.Batch) Action {
	if r.Kind == wire.KindBookSnapshot {
		return s.snapshot(r, out)
	}
	if r.Kind != wire.KindBookDelta {
		return ActNone
	}
	switch s.Rule {
	case adapter.BookRESTSnapshot:
		if !s.valid {
			return s.buffer(r, out)
		}
	case adapter.BookFullEachPush:
		return ActNone // such exchanges send no deltas
	default:
		if !s.valid {
			return ActNone // waiting for the stream's snapshot
		}
	}
	return s.delta(r, out)
}

// snapshot starts (or restarts) the book.
func (s *Sync) snapshot(r *wire.Record, out *adapter.Batch) Action {
	s.fetching = false
	s.Book.Snapshot(r.Bids, r.Asks)
	s.last, s.first, s.noSeq = r.Seq, true, r.Flags&wire.FlagNoSeq != 0
	if s.Rule == adapter.BookRESTSnapshot {
		// Binance/Gate: a snapshot older than the first buffered delta cannot be chained.
		if len(s.pending) > 0 && r.Seq+1 < s.pending[0].SeqFirst {
			s.pending = s.pending[:0]
			s.fetching = true
			return ActFetchSnapshot
		}
		s.valid = true
		s.publishBook(r, out)
		act := ActNone
		for i := range s.pending {
			if act = s.delta(&s.pending[i], out); act != ActNone {
				break
			}
		}
		s.pending = s.pending[:0]
		return act
	}
	s.valid = true
	if s.checkCrossed(r, out) {
		return s.fixAction()
	}
	copyRecord(out.Next(), r)
	s.afterWhole(r, out)
	s.bbo(r, out)
	return ActNone
}

// publishBook publishes the current book as a snapshot record (REST snapshot plus the
// buffered deltas applied since).
func (s *Sync) publishBook(r *wire.Record, out *adapter.Batch) {
	o := out.Next()
	copyHeader(o, r)
	o.Kind, o.Seq, o.SeqFirst = wire.KindBookSnapshot, s.last, 0
	o.Bids = append(o.Bids[:0], s.Book.Bids()...)
	o.Asks = append(o.Asks[:0], s.Book.Asks()...)
	s.afterWhole(r, out)
}

// afterWhole marks a resync when the book became whole again after a break.
func (s *Sync) afterWhole(r *wire.Record, out *adapter.Batch) {
	if s.resync {
		s.status(r, out, wire.StatusResync, 0, s.last)
		s.Stats.Resyncs++
		s.resync = false
	}
}

// buffer keeps a delta until the REST snapshot arrives.
func (s *Sync) buffer(r *wire.Record, out *adapter.Batch) Action {
	maxP := s.MaxPending
	if maxP <= 0 {
		maxP = 4096
	}
	if len(s.pending) >= maxP {
		s.Stats.Overflows++
		s.pending = s.pending[:0]
	}
	s.pending = append(s.pending, wire.Record{})
	copyRecord(&s.pending[len(s.pending)-1], r)
	s.Stats.Buffered++
	if s.fetching {
		return ActNone
	}
	s.fetching = true
	return ActFetchSnapshot
}

// delta applies one delta to a valid book, or breaks it on a gap.
func (s *Sync) delta(r *wire.Record, out *adapter.Batch) Action {
	if s.Rule != adapter.BookChecksum && r.Flags&wire.FlagNoSeq == 0 {
		// Continuity first: OKX may restart its ids (seqId < prevSeqId, FlagSeqReset) or
		// repeat one ("no change": seqId == prevSeqId); both still chain by
		// SeqFirst == last + 1, also as the first delta after a snapshot (which may
		// otherwise overlap it: SeqFirst <= last + 1 < Seq).
		ok := r.SeqFirst == s.last+1
		if s.first && !ok {
			ok = r.SeqFirst <= s.last+1 && r.Seq > s.last
		}
		if !ok && r.Seq <= s.last {
			s.Stats.Duplicates++ // already applied (or older than the snapshot)
			return ActNone
		}
		if !ok {
			s.Stats.Gaps++
			s.status(r, out, wire.StatusGap, s.last+1, r.SeqFirst)
			return s.invalidate()
		}
	}
	s.Book.Apply(r.Bids, r.Asks)
	s.last, s.first, s.noSeq = r.Seq, false, r.Flags&wire.FlagNoSeq != 0
	s.Stats.Applied++
	if s.Rule == adapter.BookChecksum && r.HasChecksum && s.Checksum != nil {
		if got := s.Checksum.Checksum(s.Book.Bids(), s.Book.Asks()); got != r.Checksum {
			s.Stats.ChecksumFailures++
			s.status(r, out, wire.StatusChecksum, uint64(r.Checksum), uint64(got))
			return s.invalidate()
		}
	}
	if s.checkCrossed(r, out) {
		return s.fixAction()
	}
	o := out.Next()
	copyRecord(o, r)
	// Levels that fell out of the subscribed depth go out as removals, so consumers that do
	// not know the depth hold the same book.
	tb, ta := s.Book.Trimmed()
	for _, l := range tb {
		o.Bids = append(o.Bids, wire.Level{Price: l.Price})
	}
	for _, l := range ta {
		o.Asks = append(o.Asks, wire.Level{Price: l.Price})
	}
	s.bbo(r, out)
	return ActNone
}

func (s *Sync) checkCrossed(r *wire.Record, out *adapter.Batch) bool {
	if !s.Book.Crossed() {
		return false
	}
	s.Stats.Crossed++
	s.status(r, out, wire.StatusCrossed, 0, 0)
	s.invalidate()
	return true
}

// invalidate marks the book broken and says how to repair it.
func (s *Sync) invalidate() Action {
	s.valid, s.resync, s.topOK = false, true, false
	return s.fixAction()
}

func (s *Sync) fixAction() Action {
	switch s.Rule {
	case adapter.BookRESTSnapshot:
		s.pending = s.pending[:0]
		s.fetching = true
		return ActFetchSnapshot
	case adapter.BookFullEachPush:
		return ActNone // the next push is whole again
	}
	return ActResubscribe
}

// status appends a status record about r's symbol.
func (s *Sync) status(r *wire.Record, out *adapter.Batch, code wire.StatusCode, expected, got uint64) {
	o := out.Next()
	copyHeader(o, r)
	o.Kind, o.Status, o.Expected, o.Got = wire.KindStatus, code, expected, got
	o.Seq, o.SeqFirst = r.Seq, 0
	if code != wire.StatusResync {
		o.Flags |= wire.FlagBookInvalid
	}
}

// bbo publishes the book top when it changed.
func (s *Sync) bbo(r *wire.Record, out *adapter.Batch) {
	if !s.DeriveBBO {
		return
	}
	bid, ask, ok := s.Book.Best()
	if !ok || s.topOK && bid == s.top[0] && ask == s.top[1] {
		return
	}
	s.top, s.topOK = [2]wire.Level{bid, ask}, true
	o := out.Next()
	copyHeader(o, r)
	o.Kind, o.Flags = wire.KindBBO, o.Flags|wire.FlagFromBook
	o.BidPx, o.BidSz, o.AskPx, o.AskSz = bid.Price, bid.Size, ask.Price, ask.Size
}

// copyHeader copies the identifying fields of src into dst.
func copyHeader(dst, src *wire.Record) {
	dst.Exchange, dst.Flags = src.Exchange, src.Flags&^wire.FlagBookInvalid
	dst.TsExchange, dst.TsRecv = src.TsExchange, src.TsRecv
	dst.Seq, dst.SeqFirst = src.Seq, src.SeqFirst
	dst.Instrument, dst.Symbol = src.Instrument, src.Symbol
}

// copyRecord deep-copies src into dst, reusing dst's level memory.
func copyRecord(dst, src *wire.Record) {
	bids, asks := dst.Bids, dst.Asks
	*dst = *src
	dst.Bids = append(bids[:0], src.Bids...)
	dst.Asks = append(asks[:0], src.Asks...)
}
