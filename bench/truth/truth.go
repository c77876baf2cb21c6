// Package truth holds the merged stream and the archive to the simulator's ground truth:
// it reads the event log `tickline sim --events` wrote (internal/sim/events.go), the records
// `tickline tap` printed (strategy/tap) and the records read back from the archive, and
// counts per venue and kind what was emitted, delivered, archived, lost and duplicated.
//
// The oracle is the simulator's file only, never a pipeline counter. Matching:
//
//   - an event with an id (the venue gives one: update id, seqId, u, trade id,
//     sequential_id, ...) is matched by (exchange, kind, instrument, id), the id being the
//     record's trade_id for trades and its seq otherwise;
//   - an event without one (Coinbase level2, Kraken books and tickers, Upbit books and
//     tickers, Bithumb's legacy API, Korbit books and tickers, OKX tickers) by (exchange,
//     kind, instrument, exchange time, content), content being the prices and sizes
//     (books: the levels of each side, as a set).
//
// Counting is per key, in both directions: an emitted event no record matches is lost;
// records beyond the number of events with their key are duplicated; a record matching no
// event is unexpected (a per-connection snapshot matched by content, or a record the
// gateway made up — refresh snapshots, BBOs derived from books, statuses — is counted
// apart, never as an event).
package truth

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MaxLineBytes bounds one JSON line of any input (a 400-level book is ~20 KiB).
const MaxLineBytes = 16 << 20

// ErrIncomplete: the event log has no trailer or its writer dropped lines; it cannot serve
// as ground truth.
var ErrIncomplete = errors.New("truth: event log incomplete")

// Line is one JSON line of the event log or of the tap (the fields the matcher reads).
type Line struct {
	Exchange      string            `json:"exchange"`
	Instrument    string            `json:"instrument"`
	Kind          string            `json:"kind"`
	TsExchangeNs  int64             `json:"ts_exchange_ns"`
	ID            string            `json:"id"`       // event log
	IDs           map[string]string `json:"ids"`      // event log
	Seq           string            `json:"seq"`      // tap
	TradeID       string            `json:"trade_id"` // tap
	BidPx         string            `json:"bid_px"`
	BidSz         string            `json:"bid_sz"`
	AskPx         string            `json:"ask_px"`
	AskSz         string            `json:"ask_sz"`
	Price         string            `json:"price"`
	Size          string            `json:"size"`
	Side          string            `json:"side"`
	Bids          [][2]string       `json:"bids"`
	Asks          [][2]string       `json:"asks"`
	PerConnection bool              `json:"per_connection"` // event log
	Flags         []string          `json:"flags"`          // tap
	GatewayID     string            `json:"gateway_id"`     // tap
	GatewaySeq    uint64            `json:"gateway_seq"`    // tap
	Status        string            `json:"status"`         // tap

	// Line is the line number in its file (set by the readers).
	Line int `json:"-"`

	// trailer of the event log
	End     bool   `json:"end"`
	Events  uint64 `json:"events"`
	Lines   uint64 `json:"lines"`
	Dropped uint64 `json:"dropped"`
}

// Events is a parsed event log.
type Events struct {
	Shared  []Line // exchange events
	PerConn []Line // what one connection received alone (subscribe / REST snapshots)
	Model   uint64 // model events the trailer reports
}

// scan calls fn for every line of r, bounded by MaxLineBytes.
func scan(r io.Reader, what string, fn func(n int, l *Line) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("truth: %s line %d: %w", what, n, err)
		}
		if err := fn(n, &l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("truth: reading %s: %w", what, err)
	}
	return nil
}

// ReadEvents reads an event log; it fails with ErrIncomplete unless the log ends with a
// trailer reporting no dropped line and as many lines as it holds.
func ReadEvents(r io.Reader) (*Events, error) {
	ev := &Events{}
	var end *Line
	err := scan(r, "event log", func(n int, l *Line) error {
		if end != nil {
			return fmt.Errorf("%w: line %d after the trailer", ErrIncomplete, n)
		}
		switch {
		case l.End:
			end = l
		case l.Exchange == "" || l.Kind == "":
			return fmt.Errorf("truth: event log line %d: no exchange or kind", n)
		case l.PerConnection:
			l.Line = n
			ev.PerConn = append(ev.PerConn, *l)
		default:
			l.Line = n
			ev.Shared = append(ev.Shared, *l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if end == nil {
		return nil, fmt.Errorf("%w: no trailer (the simulator did not stop cleanly)", ErrIncomplete)
	}
	if got := uint64(len(ev.Shared) + len(ev.PerConn)); end.Dropped > 0 || end.Lines != got {
		return nil, fmt.Errorf("%w: trailer says %d lines and %d dropped, file has %d", ErrIncomplete, end.Lines, end.Dropped, got)
	}
	ev.Model = end.Events
	return ev, nil
}

// ReadEventsFile is ReadEvents on the file at path.
func ReadEventsFile(path string) (*Events, error) { return readFile(path, ReadEvents) }

// ReadRecordsFile is ReadRecords on the file at path.
func ReadRecordsFile(path, what string) ([]Line, error) {
	return readFile(path, func(r io.Reader) ([]Line, error) { return ReadRecords(r, what) })
}

func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return read(f)
}

// ReadRecords reads records as `tickline tap` prints them (one JSON object a line).
func ReadRecords(r io.Reader, what string) ([]Line, error) {
	var out []Line
	err := scan(r, what, func(n int, l *Line) error {
		if l.Exchange == "" || l.Kind == "" {
			return fmt.Errorf("truth: %s line %d: no exchange or kind", what, n)
		}
		out = append(out, *l)
		return nil
	})
	return out, err
}

// canon writes a decimal without trailing fractional zeros ("0.50000000" → "0.5",
// "127.0" → "127"), so that every venue's style compares equal.
func canon(s string) string {
	if strings.ContainsAny(s, "eE") { // "0E-8" (Upbit JSON numbers)
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == 0 {
			return "0"
		}
	}
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func levels(ls [][2]string) string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = canon(l[0]) + "@" + canon(l[1])
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// content is a line's prices and sizes in canonical form.
func content(l *Line) string {
	switch l.Kind {
	case "bbo":
		return canon(l.BidPx) + "/" + canon(l.BidSz) + "/" + canon(l.AskPx) + "/" + canon(l.AskSz)
	case "trade":
		return canon(l.Price) + "/" + canon(l.Size) + "/" + l.Side
	case "ticker":
		return canon(l.Price)
	case "book_snapshot", "book_delta":
		return "b:" + levels(l.Bids) + " a:" + levels(l.Asks)
	}
	return ""
}

type streamKey struct{ exchange, kind string }

func base(l *Line) string { return l.Exchange + "|" + l.Kind + "|" + l.Instrument + "|" }

// recordID is the id a record carries for its kind: trade_id for trades, seq otherwise.
func recordID(l *Line) string {
	if l.Kind == "trade" {
		return l.TradeID
	}
	return l.Seq
}

func eventKey(l *Line) string {
	if l.ID != "" {
		return base(l) + "id:" + l.ID
	}
	return base(l) + "c:" + strconv.FormatInt(l.TsExchangeNs, 10) + "|" + content(l)
}

// made reports whether a record is something a gateway or the arbiter made up rather than
// an exchange event: a status, a refresh snapshot, a BBO derived from a book.
func made(l *Line) bool {
	return l.Kind == "status" || slices.Contains(l.Flags, "refresh") || slices.Contains(l.Flags, "from_book")
}

// Counts are one row of the report.
type Counts struct {
	Emitted    int // shared exchange events in the log
	Delivered  int // records matching an event (each copy counted)
	Lost       int // events no record matched
	Duplicated int // records beyond the events of their key
	Unexpected int // records matching no event and no per-connection snapshot
	Mismatched int // records matching an event by id whose prices, sizes or levels differ
	PerConn    int // records matching a per-connection snapshot
	Made       int // records the gateways made up (status, refresh, from_book): not matched
	// PreSnapshot counts book deltas emitted before the book's first snapshot with an id
	// (the REST snapshot of Binance and Gate) and covered by it: a book stream begins with
	// its first snapshot, so these are neither expected nor lost when missing.
	PreSnapshot int
	// Identical counts content-identified events (no id) that repeat an earlier event of
	// the same stream exactly — same exchange time, same content (an Upbit ".1" book pushed
	// twice in one millisecond by changes below its top): indistinguishable by any receiver,
	// so they are expected once.
	Identical int
}

// add returns c + o.
func (c Counts) add(o Counts) Counts {
	c.Emitted += o.Emitted
	c.Delivered += o.Delivered
	c.Lost += o.Lost
	c.Duplicated += o.Duplicated
	c.Unexpected += o.Unexpected
	c.Mismatched += o.Mismatched
	c.PerConn += o.PerConn
	c.Made += o.Made
	c.PreSnapshot += o.PreSnapshot
	c.Identical += o.Identical
	return c
}

// Result compares one record stream with the events.
type Result struct {
	Name    string
	Rows    map[streamKey]*Counts
	Samples []string // a few lost / duplicated / unexpected keys, for the report
}

// match compares recs with ev.
func match(ev *Events, recs []Line, name string, maxSamples int) *Result {
	m := &matcher{res: &Result{Name: name, Rows: map[streamKey]*Counts{}}, maxSamples: maxSamples}
	m.expect(ev)
	m.receive(recs)
	m.tally()
	return m.res
}

// matcher holds one match: the events expected by key and what the records delivered.
type matcher struct {
	res        *Result
	maxSamples int
	emitted    map[string]int           // shared events by key
	body       map[string]string        // id keys: the event's content, checked on every match
	pre        map[string]bool          // deltas covered by their book's first snapshot
	byID       map[streamKey]bool       // streams whose events carry ids
	perConn    map[string]int           // per-connection snapshots by content
	got        map[string]int           // records matching an emitted key
	firstSnap  map[string]firstSnapshot // by exchange|instrument
}

// firstSnapshot is the first per-connection book snapshot with an id of a book, in log
// order.
type firstSnapshot struct {
	line int
	id   uint64
}

func (m *matcher) row(ex, kind string) *Counts {
	k := streamKey{ex, kind}
	if m.res.Rows[k] == nil {
		m.res.Rows[k] = &Counts{}
	}
	return m.res.Rows[k]
}

func (m *matcher) sample(format string, a ...any) {
	if len(m.res.Samples) < m.maxSamples {
		m.res.Samples = append(m.res.Samples, fmt.Sprintf(format, a...))
	}
}

// expect indexes the event log: emitted keys, pre-snapshot deltas, identical repeats and
// per-connection snapshots.
func (m *matcher) expect(ev *Events) {
	m.firstSnap = map[string]firstSnapshot{}
	for i := range ev.PerConn {
		l := &ev.PerConn[i]
		if l.Kind != "book_snapshot" || l.ID == "" {
			continue
		}
		id, err := strconv.ParseUint(l.ID, 10, 64)
		if _, ok := m.firstSnap[l.Exchange+"|"+l.Instrument]; !ok && err == nil {
			m.firstSnap[l.Exchange+"|"+l.Instrument] = firstSnapshot{l.Line, id}
		}
	}
	m.emitted, m.body, m.pre, m.byID = map[string]int{}, map[string]string{}, map[string]bool{}, map[streamKey]bool{}
	for i := range ev.Shared {
		m.expectShared(&ev.Shared[i])
	}
	m.perConn = map[string]int{}
	for i := range ev.PerConn {
		l := &ev.PerConn[i]
		m.perConn[base(l)+content(l)]++
	}
}

// expectShared indexes one shared exchange event.
func (m *matcher) expectShared(l *Line) {
	if l.Kind == "book_delta" && l.ID != "" {
		if f, ok := m.firstSnap[l.Exchange+"|"+l.Instrument]; ok && l.Line < f.line {
			if id, err := strconv.ParseUint(l.ID, 10, 64); err == nil && id <= f.id {
				m.row(l.Exchange, l.Kind).PreSnapshot++
				m.pre[eventKey(l)] = true
				return
			}
		}
	}
	k := eventKey(l)
	if l.ID == "" && m.emitted[k] > 0 {
		m.row(l.Exchange, l.Kind).Identical++
		return
	}
	m.emitted[k]++
	if l.ID != "" {
		m.body[k] = content(l)
	}
	m.row(l.Exchange, l.Kind).Emitted++
	if l.ID != "" {
		m.byID[streamKey{l.Exchange, l.Kind}] = true
	}
}

// receive matches each record with the expected events.
func (m *matcher) receive(recs []Line) {
	m.got = map[string]int{}
	name := m.res.Name
	for i := range recs {
		r := &recs[i]
		if made(r) {
			m.row(r.Exchange, r.Kind).Made++
			continue
		}
		var key string
		if m.byID[streamKey{r.Exchange, r.Kind}] && recordID(r) != "" {
			key = base(r) + "id:" + recordID(r)
		} else {
			key = base(r) + "c:" + strconv.FormatInt(r.TsExchangeNs, 10) + "|" + content(r)
		}
		if m.pre[key] { // a pre-snapshot delta some line delivered anyway: neither event nor error
			continue
		}
		if _, ok := m.emitted[key]; ok {
			m.got[key]++
			m.row(r.Exchange, r.Kind).Delivered++
			if want, ok := m.body[key]; ok && want != content(r) {
				m.row(r.Exchange, r.Kind).Mismatched++
				m.sample("%s mismatch: %s: record %s, event %s", name, key, content(r), want)
			}
			continue
		}
		if m.perConn[base(r)+content(r)] > 0 {
			m.row(r.Exchange, r.Kind).PerConn++
			continue
		}
		m.row(r.Exchange, r.Kind).Unexpected++
		m.sample("%s unexpected: %s (gateway %s seq %d)", name, key, r.GatewayID, r.GatewaySeq)
	}
}

// tally counts each emitted key's losses and duplicates, in key order.
func (m *matcher) tally() {
	keys := make([]string, 0, len(m.emitted))
	for k := range m.emitted {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e, g := m.emitted[k], m.got[k]
		f := strings.SplitN(k, "|", 3)
		c := m.row(f[0], f[1])
		switch {
		case g < e:
			c.Lost += e - g
			m.sample("%s lost: %s (emitted %d, delivered %d)", m.res.Name, k, e, g)
		case g > e:
			c.Duplicated += g - e
			m.sample("%s duplicated: %s (emitted %d, delivered %d)", m.res.Name, k, e, g)
		}
	}
}

// Report is the comparison of the tap's stream and the archive with the events.
type Report struct {
	Events   *Events
	Tap      *Result
	Archive  *Result // nil: no archive compared
	Exchange []string
}

// Compare matches the tap's records and the archive's (nil: not compared) with ev.
func Compare(ev *Events, tapped, archived []Line, withArchive bool) *Report {
	rep := &Report{Events: ev, Tap: match(ev, tapped, "tap", 20)}
	if withArchive {
		rep.Archive = match(ev, archived, "archive", 20)
	}
	seen := map[string]bool{}
	for _, res := range []*Result{rep.Tap, rep.Archive} {
		if res == nil {
			continue
		}
		for k := range res.Rows {
			if !seen[k.exchange] {
				seen[k.exchange] = true
				rep.Exchange = append(rep.Exchange, k.exchange)
			}
		}
	}
	sort.Strings(rep.Exchange)
	return rep
}

// Venue returns the tap's and the archive's totals of one exchange.
func (r *Report) Venue(ex string) (tap, archive Counts) {
	for k, c := range r.Tap.Rows {
		if k.exchange == ex {
			tap = tap.add(*c)
		}
	}
	if r.Archive != nil {
		for k, c := range r.Archive.Rows {
			if k.exchange == ex {
				archive = archive.add(*c)
			}
		}
	}
	return tap, archive
}

// OK reports whether every venue shows 0 lost, 0 duplicated and 0 mismatched in the tap and
// the archive (unexpected records are reported but do not fail: they are not events).
func (r *Report) OK() bool {
	for _, ex := range r.Exchange {
		t, a := r.Venue(ex)
		if t.Lost+t.Duplicated+t.Mismatched+a.Lost+a.Duplicated+a.Mismatched > 0 {
			return false
		}
	}
	return len(r.Exchange) > 0
}

// Write prints the per-venue table (and the per-kind rows under it when detail is set),
// then a few sample keys.
func (r *Report) Write(w io.Writer, detail bool) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-9s %-13s %8s | %9s %6s %6s %6s %5s | %9s %6s %6s %6s %5s | %7s %6s %7s %5s\n",
		"venue", "kind", "emitted", "delivered", "lost", "dup", "unexp", "diff", "archived", "lost", "dup", "unexp", "diff", "perconn", "made", "presnap", "ident")
	printRow := func(ex, kind string, t, a Counts) {
		as := [5]string{"-", "-", "-", "-", "-"}
		if r.Archive != nil {
			as = [5]string{strconv.Itoa(a.Delivered), strconv.Itoa(a.Lost), strconv.Itoa(a.Duplicated), strconv.Itoa(a.Unexpected), strconv.Itoa(a.Mismatched)}
		}
		fmt.Fprintf(bw, "%-9s %-13s %8d | %9d %6d %6d %6d %5d | %9s %6s %6s %6s %5s | %7d %6d %7d %5d\n",
			ex, kind, t.Emitted, t.Delivered, t.Lost, t.Duplicated, t.Unexpected, t.Mismatched, as[0], as[1], as[2], as[3], as[4], t.PerConn, t.Made, t.PreSnapshot, t.Identical)
	}
	var tt, ta Counts
	for _, ex := range r.Exchange {
		t, a := r.Venue(ex)
		tt, ta = tt.add(t), ta.add(a)
		printRow(ex, "all", t, a)
		if !detail {
			continue
		}
		var kinds []string
		for k := range r.Tap.Rows {
			if k.exchange == ex {
				kinds = append(kinds, k.kind)
			}
		}
		sort.Strings(kinds)
		for _, kind := range kinds {
			var a Counts
			if r.Archive != nil && r.Archive.Rows[streamKey{ex, kind}] != nil {
				a = *r.Archive.Rows[streamKey{ex, kind}]
			}
			printRow("", kind, *r.Tap.Rows[streamKey{ex, kind}], a)
		}
	}
	printRow("TOTAL", "", tt, ta)
	for _, res := range []*Result{r.Tap, r.Archive} {
		if res == nil {
			continue
		}
		for _, s := range res.Samples {
			fmt.Fprintln(bw, "  "+s)
		}
	}
	return bw.Flush()
}
