package arbiter

import (
	"github.com/tickline/tickline/shared/wire"
)

// Merger merges redundant lines into one stream: exchange events through the Arbiter
// (first arrival wins), and the lines' own status records through a line-health policy,
// so that the consumer sees a gap only when no line could cover it.
//
// Policy for status records that invalidate a book (gap, checksum, crossed, reconnect,
// stale — FlagBookInvalid): line i is marked unhealthy for that stream (exchange,
// instrument). If another line has delivered the stream, is healthy for it and is alive,
// the status is covered: dropped and counted. Otherwise it is a real gap: delivered, and
// the stream stays broken for the consumer until a line delivers a snapshot (the snapshot
// carries the news: the line's resync status is not delivered). A line becomes healthy again for a stream when
// it delivers that stream's snapshot.
//
// Book snapshots: a snapshot (exchange or FlagRefresh) that reaches a stream the consumer
// does not hold whole — never snapshotted, or broken by a real gap — is delivered even when
// the Arbiter calls it a copy (a resubscribe snapshot identical to an earlier one repairs
// the book all the same), and clears the break (Stats.Repairs).
//
// Refresh snapshots (FlagRefresh) are the gateway's own records, not exchange events: they
// never meet the Arbiter's ids. One is delivered when the consumer does not hold the stream
// whole (a late joiner, a break), or when it comes from the stream's lead line — the line
// that delivered the stream's newest first arrival, whose book is the consumer's — so the
// merged stream (and the archive) carries one line's periodic refreshes, not every line's.
//
// Other gaps (StatusGap without FlagBookInvalid: a hole in a venue's dense trade ids) are
// covered when another live line carries the instrument, else delivered as real gaps.
//
// Liveness: a line is down when it has delivered nothing for LineTimeoutNs while another
// line has (checked by Tick); Failovers and Returns count the transitions.
//
// Gateway sequence: each line's records carry their gateway's sequence number; a jump is
// a drop on that line (bus or network) and is counted per line in SeqGaps. What the drop
// lost is covered by the other lines through the Arbiter.
//
// A Merger is owned by one goroutine.
type Merger struct {
	Arb           *Arbiter
	LineTimeoutNs int64
	Stats         MergeStats

	streams  map[streamID]*health
	lastSeen [MaxLines]int64
	ever     [MaxLines]bool
	down     [MaxLines]bool
	gwSeq    [MaxLines]uint64
	lines    int
}

// MergeStats count the merger's decisions.
type MergeStats struct {
	Covered          uint64           // invalidating statuses covered by another line
	RealGaps         uint64           // invalidating statuses delivered (no line could cover)
	Failovers        uint64           // a line went silent while another carried on
	Returns          uint64           // a silent line came back
	SeqGaps          [MaxLines]uint64 // records missing in each line's gateway sequence
	Repairs          uint64           // snapshot copies delivered because the consumer's book was not whole
	Refreshes        uint64           // refresh snapshots delivered
	RefreshesDropped uint64           // refresh snapshots dropped (consumer whole, not the lead line)
}

type streamID struct {
	ex   wire.Exchange
	inst wire.Name
}

type health struct {
	seen, unhealthy uint64 // bit per line
	bookSeen        uint64 // bit per line that delivered a book record of the stream
	broken          bool   // a real gap was delivered; waiting for a snapshot
	whole           bool   // a snapshot was delivered (the consumer can hold the book)
	lead            int8   // line of the newest first arrival of a book record; -1 none
}

// NewMerger returns a Merger for up to lines lines (≤ MaxLines).
func NewMerger(arb *Arbiter, lines int, lineTimeoutNs int64) *Merger {
	return &Merger{Arb: arb, LineTimeoutNs: lineTimeoutNs, streams: map[streamID]*health{}, lines: min(lines, MaxLines)}
}

func (m *Merger) stream(h *wire.Header) *health {
	k := streamID{h.Exchange, h.Instrument}
	s := m.streams[k]
	if s == nil {
		s = &health{lead: -1}
		m.streams[k] = s
	}
	return s
}

// Offer reports whether the record with header h from line should reach the consumer.
func (m *Merger) Offer(line int, h *wire.Header, nowNs int64) bool {
	line &= MaxLines - 1
	m.lastSeen[line], m.ever[line] = nowNs, true
	if prev := m.gwSeq[line]; prev != 0 && h.GatewaySeq > prev+1 {
		m.Stats.SeqGaps[line] += h.GatewaySeq - prev - 1
	}
	if h.GatewaySeq != 0 {
		m.gwSeq[line] = h.GatewaySeq
	}
	return m.offer(line, h, nowNs)
}

// OfferRetransmit is Offer for a record that line's gateway retransmits from its journal:
// an older record than the line's live stream, fetched to fill what the receiver missed.
// It applies the same arbitration and status policy as Offer but leaves the line's liveness
// and gateway-sequence tracking to the live stream: a retransmit is neither a sign of life
// nor a sequence jump.
func (m *Merger) OfferRetransmit(line int, h *wire.Header, nowNs int64) bool {
	return m.offer(line&(MaxLines-1), h, nowNs)
}

func (m *Merger) offer(line int, h *wire.Header, nowNs int64) bool {
	bit := uint64(1) << line
	s := m.stream(h)
	if h.Kind != wire.KindStatus {
		s.seen |= bit
		if h.Kind == wire.KindBookSnapshot || h.Kind == wire.KindBookDelta {
			s.bookSeen |= bit // only a line carrying the book can cover a book gap
		}
		snap := h.Kind == wire.KindBookSnapshot
		if snap {
			s.unhealthy &^= bit
		}
		if h.Flags&wire.FlagRefresh != 0 {
			return m.offerRefresh(line, s, snap)
		}
		o := m.Arb.Decide(line, h, nowNs)
		ok := o == OutcomeFirst || o == OutcomeUntracked
		if snap && !ok && o != OutcomeLate && (s.broken || !s.whole) {
			ok = true
			m.Stats.Repairs++
		}
		if ok && snap {
			s.broken, s.whole = false, true
		}
		if ok && (snap || h.Kind == wire.KindBookDelta) {
			s.lead = int8(line)
		}
		return ok
	}
	code := wire.StatusCode(h.Aux)
	switch {
	case h.Flags&wire.FlagBookInvalid != 0:
		s.unhealthy |= bit
		if m.covered(s, line, nowNs) {
			m.Stats.Covered++
			return false
		}
		if s.broken {
			return false // already reported for this stream
		}
		s.broken = true
		m.Stats.RealGaps++
		return true
	case code == wire.StatusResync:
		s.unhealthy &^= bit
		return false // the snapshot that came with it carries the news
	case code == wire.StatusGap:
		// A gap that leaves no book invalid (a hole in a venue's dense trade ids): another
		// live line carrying the instrument covers it; the arbiter delivers its copies.
		if m.carried(s, line, nowNs) {
			m.Stats.Covered++
			return false
		}
		m.Stats.RealGaps++
	}
	return true
}

// carried reports whether a line other than line is alive and has delivered stream s.
func (m *Merger) carried(s *health, line int, now int64) bool {
	others := s.seen &^ (1 << line)
	for j := 0; j < m.lines; j++ {
		if others&(1<<j) != 0 && !m.down[j] && (m.LineTimeoutNs <= 0 || now-m.lastSeen[j] <= m.LineTimeoutNs) {
			return true
		}
	}
	return false
}

// offerRefresh applies the refresh policy (see Merger).
func (m *Merger) offerRefresh(line int, s *health, snap bool) bool {
	if !snap {
		return true // not produced today; a future gateway-made kind passes unchanged
	}
	if s.broken || !s.whole || int(s.lead) == line {
		s.broken, s.whole = false, true
		m.Stats.Refreshes++
		return true
	}
	m.Stats.RefreshesDropped++
	return false
}

// covered reports whether a line other than line is alive and healthy on stream s's book
// (a line that carries only the instrument's trades or BBO covers no book gap).
func (m *Merger) covered(s *health, line int, now int64) bool {
	others := s.bookSeen &^ s.unhealthy &^ (1 << line)
	for j := 0; j < m.lines; j++ {
		if others&(1<<j) != 0 && !m.down[j] && (m.LineTimeoutNs <= 0 || now-m.lastSeen[j] <= m.LineTimeoutNs) {
			return true
		}
	}
	return false
}

// Tick updates line liveness at time now and returns the lines whose state changed
// (down or back up), for the caller to log or publish as line-switch status.
func (m *Merger) Tick(now int64, changed []int) []int {
	if m.LineTimeoutNs <= 0 {
		return changed
	}
	anyAlive := false
	for j := 0; j < m.lines; j++ {
		if m.ever[j] && now-m.lastSeen[j] <= m.LineTimeoutNs {
			anyAlive = true
		}
	}
	for j := 0; j < m.lines; j++ {
		if !m.ever[j] {
			continue
		}
		silent := now-m.lastSeen[j] > m.LineTimeoutNs
		switch {
		case silent && anyAlive && !m.down[j]:
			m.down[j] = true
			m.Stats.Failovers++
			changed = append(changed, j)
		case !silent && m.down[j]:
			m.down[j] = false
			m.Stats.Returns++
			changed = append(changed, j)
		}
	}
	return changed
}

// Down reports whether line is considered down.
func (m *Merger) Down(line int) bool { return m.down[line&(MaxLines-1)] }
