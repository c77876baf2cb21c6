package adapter

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/tickline/tickline/shared/wire"
)

// SymbolCode returns a SortSubs code function: a Sub's symbol in the venue's case
// (cased), which the venue's instrument rule (the parser's, inst) must accept; a symbol
// it refuses is an error naming venue. Plan-time only.
func SymbolCode(venue string, cased func(string) string, inst func(dst *wire.Name, sym []byte) error) func(Sub) (string, error) {
	return func(s Sub) (string, error) {
		code := cased(s.Symbol)
		var n wire.Name
		if err := inst(&n, []byte(code)); err != nil {
			return "", fmt.Errorf("%s: symbol %q: %w", venue, s.Symbol, err)
		}
		return code, nil
	}
}

// Names is a venue's name for each Channel, indexed by Channel: "" where the venue has
// none (the subscribe topics of one Sub, for venues that name a topic per channel).
type Names [ChanTicker + 1]string

// ChannelNames returns the names of s's channels, in the order of s.Channels, each name
// once (a venue may serve two channels with one topic); a channel without a name is an
// error naming venue. Plan-time only.
func ChannelNames(venue string, s Sub, names Names) ([]string, error) {
	var out []string
	for _, c := range s.Channels {
		if int(c) >= len(names) || names[c] == "" {
			return nil, fmt.Errorf("%s: channel %s not supported", venue, c)
		}
		if !slices.Contains(out, names[c]) {
			out = append(out, names[c])
		}
	}
	return out, nil
}

// Pack lays subscriptions out over connections to wsURL, for venues that subscribe with
// lists of topics: each Sub's topics (topics(sub), in order; its error stops the plan)
// stay on one connection, a connection takes topics while it has fewer than perConn, and
// they are sent in subscribe frames of at most perFrame topics each, built by
// frame(topics, n) where n numbers the plan's frames from 1 (request ids). Plan-time
// only: never on the per-message path.
func Pack[T any](wsURL string, subs []Sub, perConn, perFrame int, topics func(Sub) ([]T, error), frame func(args []T, n int) []byte) ([]ConnPlan, error) {
	var plans []ConnPlan
	var cur *ConnPlan
	var args []T
	frames, n := 0, 0
	flush := func() {
		if len(args) > 0 {
			frames++
			cur.Subscribe = append(cur.Subscribe, frame(args, frames))
			args = args[:0]
		}
	}
	for _, s := range subs {
		names, err := topics(s)
		if err != nil {
			return nil, err
		}
		if cur == nil || n+len(names) > perConn {
			if cur != nil {
				flush()
			}
			plans = append(plans, ConnPlan{URL: wsURL})
			cur = &plans[len(plans)-1]
			n = 0
		}
		cur.Symbols = append(cur.Symbols, s.Symbol)
		for _, name := range names {
			args = append(args, name)
			n++
			if len(args) == perFrame {
				flush()
			}
		}
	}
	if cur != nil {
		flush()
	}
	return plans, nil
}

// Wanted is which channels one Sub asks for, for venues that subscribe one list of
// symbols per data type rather than a topic per channel.
type Wanted struct{ BBO, Trade, Book, Ticker bool }

// Wants sorts s's channels. A channel the venue does not serve (any other than the four)
// is an error naming venue. Plan-time only.
func Wants(venue string, s Sub) (Wanted, error) {
	var w Wanted
	for _, c := range s.Channels {
		switch c {
		case ChanBBO:
			w.BBO = true
		case ChanTrade:
			w.Trade = true
		case ChanBook:
			w.Book = true
		case ChanTicker:
			w.Ticker = true
		default:
			return w, fmt.Errorf("%s: channel %s not supported", venue, c)
		}
	}
	return w, nil
}

// WriteStrings writes items to b as the elements of a JSON array of strings, "a","b"
// (quoted with %q, as every venue's subscribe frame has been: symbols and topic names are
// plain ASCII). Plan-time only.
func WriteStrings(b *bytes.Buffer, items []string) {
	for i, s := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, "%q", s)
	}
}

// Lists are a plan's symbols per data type, in config order, for venues that subscribe
// one list of symbols per type. Books holds an entry for every Sub that wants the book or
// the BBO; Symbols keeps the config spelling (ConnPlan.Symbols).
type Lists struct{ Trades, Books, Tickers, Symbols []string }

// SortSubs fills Lists from subs: code(s) is s's symbol as the venue writes it (its
// error stops the plan, before s's channels are checked with Wants) and book(code,
// s.Depth, bboOnly) the Books entry (nil: code itself). Plan-time only.
func SortSubs(venue string, subs []Sub, code func(Sub) (string, error), book func(code string, depth int, bboOnly bool) string) (Lists, error) {
	var l Lists
	for _, s := range subs {
		c, err := code(s)
		if err != nil {
			return l, err
		}
		w, err := Wants(venue, s)
		if err != nil {
			return l, err
		}
		if w.Trade {
			l.Trades = append(l.Trades, c)
		}
		if w.BBO || w.Book {
			b := c
			if book != nil {
				b = book(c, s.Depth, !w.Book)
			}
			l.Books = append(l.Books, b)
		}
		if w.Ticker {
			l.Tickers = append(l.Tickers, c)
		}
		l.Symbols = append(l.Symbols, s.Symbol)
	}
	return l, nil
}
