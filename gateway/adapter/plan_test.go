package adapter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/wire"
)

// TestSortSubs: lists in config order, the book entry from book (BBO-only flagged), the
// symbol error before the channel error, an unknown channel named with the venue.
func TestSortSubs(t *testing.T) {
	code := func(s Sub) (string, error) {
		if s.Symbol == "" {
			return "", errors.New("no symbol")
		}
		return strings.ToUpper(s.Symbol), nil
	}
	book := func(c string, depth int, bboOnly bool) string {
		if bboOnly {
			return c + ".1"
		}
		return c + "." + strings.Repeat("d", depth)
	}
	l, err := SortSubs("x", []Sub{
		{Symbol: "a", Channels: []Channel{ChanTicker, ChanTrade}},
		{Symbol: "b", Channels: []Channel{ChanBBO}},
		{Symbol: "c", Channels: []Channel{ChanBook, ChanBBO}, Depth: 2},
	}, code, book)
	want := Lists{Trades: []string{"A"}, Books: []string{"B.1", "C.dd"}, Tickers: []string{"A"}, Symbols: []string{"a", "b", "c"}}
	if err != nil || !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v, %v\nwant %+v", l, err, want)
	}
	if l, _ := SortSubs("x", []Sub{{Symbol: "b", Channels: []Channel{ChanBBO}}}, code, nil); l.Books[0] != "B" {
		t.Fatalf("nil book: %q", l.Books)
	}
	if _, err := SortSubs("x", []Sub{{Channels: []Channel{9}}}, code, nil); err == nil || err.Error() != "no symbol" {
		t.Fatalf("symbol error first: %v", err)
	}
	if _, err := SortSubs("x", []Sub{{Symbol: "a", Channels: []Channel{9}}}, code, nil); err == nil || !strings.HasPrefix(err.Error(), "x: channel") {
		t.Fatalf("unknown channel: %v", err)
	}
}

func TestChannelNames(t *testing.T) {
	names := Names{ChanBBO: "bbo", ChanTrade: "trades", ChanBook: "book", ChanTicker: "bbo"}
	got, err := ChannelNames("v", Sub{Channels: []Channel{ChanBook, ChanBBO, ChanTrade, ChanTicker}}, names)
	if err != nil || strings.Join(got, ",") != "book,bbo,trades" {
		t.Fatalf("names %q, %v", got, err)
	}
	only := Names{ChanBBO: "bbo"}
	for _, c := range []Channel{ChanTicker, 0, 9} {
		if _, err := ChannelNames("v", Sub{Channels: []Channel{ChanBBO, c}}, only); err == nil || err.Error() != "v: channel "+c.String()+" not supported" {
			t.Errorf("channel %d: %v", c, err)
		}
	}
}

// TestSymbolCode: the symbol in the venue's case, checked with the venue's rule; a refused
// symbol is named (as configured) with the venue and the rule's error.
func TestSymbolCode(t *testing.T) {
	code := SymbolCode("v", strings.ToLower, func(dst *wire.Name, sym []byte) error { return InstrumentSep(dst, sym, '_', false) })
	if c, err := code(Sub{Symbol: "BTC_KRW"}); err != nil || c != "btc_krw" {
		t.Fatalf("code %q, %v", c, err)
	}
	if _, err := code(Sub{Symbol: "BTC-KRW"}); err == nil || !strings.HasPrefix(err.Error(), `v: symbol "BTC-KRW": `) {
		t.Fatalf("bad symbol: %v", err)
	}
}

func TestBatchTruncate(t *testing.T) {
	var b Batch
	for i := 0; i < 3; i++ {
		b.Next().Seq = uint64(i)
	}
	b.Truncate(5) // beyond Len: nothing
	b.Truncate(-1)
	if b.Len() != 3 {
		t.Fatalf("Len = %d after out-of-range Truncates, want 3", b.Len())
	}
	b.Truncate(1)
	if b.Len() != 1 || b.At(0).Seq != 0 {
		t.Fatalf("Len = %d after Truncate(1), want 1", b.Len())
	}
}
