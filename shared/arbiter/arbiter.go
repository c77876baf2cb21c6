// Package arbiter does line arbitration: the same exchange event reaches a receiver over
// several redundant lines (gateways), and only its first arrival is kept.
//
// # Event key
//
// An event is (exchange, kind, instrument, Seq). Seq is the exchange's own id: the update
// id of a BBO or book message, the trade id of a trade. Where the exchange gives no id
// (Upbit and Bithumb tickers and full-book pushes, Bithumb legacy trades) the adapter sets
// wire.FlagNoSeq and puts a content key in Seq — a hash of the message's identifying
// fields that every gateway computes alike — so the key is the same on every line.
//
// # Bounded memory, two windows
//
//   - Streams with ids (exchange, kind, instrument): a sliding bitmap of the last Window
//     ids below the highest id seen. An id above the top is new (the window slides); an
//     id inside the window is new unless its bit is set (a late fill from a slower line);
//     an id below the window is old and dropped. A sudden fall to an id ≤ Window far below
//     the top is an exchange sequence reset (Bybit restarts at 1 on a new snapshot) and
//     restarts the stream.
//   - Content keys (FlagNoSeq): a fixed open-addressed table remembering each key for
//     NoSeqTTL; older entries are free for reuse. A full probe run evicts the oldest.
//
// Memory is fixed at New: MaxStreams × Window/8 bytes plus NoSeqSlots × 16 bytes.
//
// Ownership: an Arbiter is owned by one goroutine (the receiver's handler); nothing
// locks. Offer does not allocate except the first time a stream is seen.
package arbiter

import (
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// MaxLines is the most redundant lines an Arbiter tracks counters for.
const MaxLines = 64

// Options bound an Arbiter. Zero fields take the defaults written here.
type Options struct {
	Window     int           // ids remembered per stream below its top (rounded up to 64). Default 8192.
	MaxStreams int           // streams tracked; beyond, records fall back to the content-key table. Default 65536.
	NoSeqSlots int           // content-key table slots (power of two). Default 1<<18.
	NoSeqTTL   time.Duration // how long a content key is remembered. Default 30 s.
}

func (o *Options) defaults() {
	if o.Window <= 0 {
		o.Window = 8192
	}
	o.Window = (o.Window + 63) &^ 63
	if o.MaxStreams <= 0 {
		o.MaxStreams = 65536
	}
	if o.NoSeqSlots <= 0 {
		o.NoSeqSlots = 1 << 18
	}
	n := 1
	for n < o.NoSeqSlots {
		n <<= 1
	}
	o.NoSeqSlots = n
	if o.NoSeqTTL <= 0 {
		o.NoSeqTTL = 30 * time.Second
	}
}

// Stats count what the arbiter decided, per line.
type Stats struct {
	Wins       [MaxLines]uint64 // first arrivals delivered from each line
	Duplicates [MaxLines]uint64 // later copies dropped
	Old        [MaxLines]uint64 // ids below the window (a line far behind): dropped
	Resets     uint64           // stream sequence resets followed
	Evictions  uint64           // content keys evicted before their TTL (table pressure)
	Streams    int              // streams tracked
}

type streamKey struct {
	ex         wire.Exchange
	kind       wire.Kind
	instrument wire.Name
}

type stream struct {
	top  uint64
	init bool
	bits []uint64 // window bitmap, Window/64 words
}

type slot struct {
	key uint64
	at  int64 // unix ns inserted; 0 = empty
}

// Arbiter decides first arrivals. Create with New.
type Arbiter struct {
	opts    Options
	index   map[streamKey]int32
	streams []stream
	words   []uint64 // all bitmaps, one block (no per-stream allocation)
	table   []slot
	mask    uint64
	ttl     int64
	Stats   Stats
}

// New returns an Arbiter with its memory allocated up front.
func New(opts Options) *Arbiter {
	opts.defaults()
	return &Arbiter{opts: opts, index: make(map[streamKey]int32, 1024), table: make([]slot, opts.NoSeqSlots),
		mask: uint64(opts.NoSeqSlots - 1), ttl: int64(opts.NoSeqTTL)}
}

// Offer reports whether the record with header h, arriving on line at nowNs, is the first
// arrival of its exchange event (deliver it) or a copy (drop it). Status records are not
// exchange events: Offer returns true for them and the caller applies its own policy.
func (a *Arbiter) Offer(line int, h *wire.Header, nowNs int64) bool {
	if h.Kind == wire.KindStatus {
		return true
	}
	line &= MaxLines - 1
	var first bool
	if h.Flags&wire.FlagNoSeq != 0 || h.Seq == 0 {
		first = a.offerKey(h, nowNs)
	} else if s := a.stream(h); s != nil {
		first = a.offerSeq(line, s, h.Seq)
	} else {
		first = a.offerKey(h, nowNs)
	}
	if first {
		a.Stats.Wins[line]++
	} else {
		a.Stats.Duplicates[line]++
	}
	return first
}

func (a *Arbiter) stream(h *wire.Header) *stream {
	k := streamKey{h.Exchange, h.Kind, h.Instrument}
	if i, ok := a.index[k]; ok {
		return &a.streams[i]
	}
	if len(a.streams) >= a.opts.MaxStreams {
		return nil
	}
	w := a.opts.Window / 64
	if cap(a.words)-len(a.words) < w { // grow the bitmap block in chunks, not per stream
		nw := make([]uint64, len(a.words), len(a.words)+w*256)
		copy(nw, a.words)
		a.words = nw
		for i := range a.streams { // re-point existing bitmaps into the new block
			a.streams[i].bits = a.words[i*w : (i+1)*w]
		}
	}
	a.words = a.words[:len(a.words)+w]
	a.streams = append(a.streams, stream{bits: a.words[len(a.words)-w:]})
	a.index[k] = int32(len(a.streams) - 1)
	a.Stats.Streams = len(a.streams)
	return &a.streams[len(a.streams)-1]
}

func (a *Arbiter) offerSeq(line int, s *stream, seq uint64) bool {
	w := uint64(a.opts.Window)
	switch {
	case !s.init:
		s.init, s.top = true, seq
	case seq > s.top:
		if seq-s.top >= w {
			clear(s.bits)
		} else {
			for i := s.top + 1; i < seq; i++ {
				s.bits[(i%w)/64] &^= 1 << (i % 64)
			}
		}
		s.top = seq
	case s.top-seq >= w:
		if seq <= w && s.top > 2*w { // the exchange restarted its sequence
			a.Stats.Resets++
			clear(s.bits)
			s.top = seq
			break
		}
		a.Stats.Old[line]++
		return false
	default:
		if s.bits[(seq%w)/64]&(1<<(seq%64)) != 0 {
			return false
		}
	}
	s.bits[(seq%w)/64] |= 1 << (seq % 64)
	return true
}

// offerKey checks the content-key table: first if the key was not seen within the TTL.
func (a *Arbiter) offerKey(h *wire.Header, nowNs int64) bool {
	key := mix(h)
	i := key & a.mask
	oldest, oldestAt := i, int64(1<<63-1)
	for probe := 0; probe < 16; probe++ {
		sl := &a.table[i]
		switch {
		case sl.at != 0 && sl.key == key && nowNs-sl.at < a.ttl:
			return false
		case sl.at == 0 || nowNs-sl.at >= a.ttl || sl.key == key:
			sl.key, sl.at = key, nowNs
			return true
		}
		if sl.at < oldestAt {
			oldest, oldestAt = i, sl.at
		}
		i = (i + 1) & a.mask
	}
	a.Stats.Evictions++
	a.table[oldest] = slot{key: key, at: nowNs}
	return true
}

// mix hashes the event key (FNV-1a over the fields, then a final avalanche).
func mix(h *wire.Header) uint64 {
	x := uint64(14695981039346656037)
	add := func(b byte) { x ^= uint64(b); x *= 1099511628211 }
	add(byte(h.Exchange))
	add(byte(h.Kind))
	for _, c := range h.Instrument {
		add(c)
	}
	for i := 0; i < 64; i += 8 {
		add(byte(h.Seq >> i))
	}
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	if x == 0 {
		x = 1
	}
	return x
}
