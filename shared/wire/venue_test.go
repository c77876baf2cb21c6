package wire

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVenueTable: every row is complete and consistent, so what derives from it (names,
// topology validation, the registry and simulator checks, the gateway's sessions) has what
// it needs. A row without a symbol style or limits, a name clash or an id out of order
// fails here.
func TestVenueTable(t *testing.T) {
	if len(venues) == 0 || exchMax != Exchange(len(venues)) {
		t.Fatalf("exchMax %d for %d rows", exchMax, len(venues))
	}
	seen := map[string]bool{}
	for i, v := range Venues() {
		if v.Exchange != Exchange(i+1) {
			t.Errorf("row %d: exchange %d, want %d (rows in id order, no holes)", i, v.Exchange, i+1)
		}
		if v.Name == "" || v.Name != strings.ToLower(v.Name) || strings.ContainsAny(v.Name, " -_/.") || seen[v.Name] {
			t.Errorf("row %d: name %q: want a unique lower-case word", i, v.Name)
		}
		seen[v.Name] = true
		re, err := regexp.Compile(v.Symbol)
		switch {
		case v.Symbol == "" || err != nil:
			t.Errorf("%s: symbol style %q: %v", v.Name, v.Symbol, err)
		case !strings.HasPrefix(v.Symbol, "^") || !strings.HasSuffix(v.Symbol, "$"):
			t.Errorf("%s: symbol style %q must be anchored (^...$)", v.Name, v.Symbol)
		case !re.MatchString(v.SymbolExample):
			t.Errorf("%s: example %q does not match %s", v.Name, v.SymbolExample, v.Symbol)
		}
		if v.Book < BookFullEachPush || v.Book > BookChecksum {
			t.Errorf("%s: book rule %d", v.Name, v.Book)
		}
		if u := v.TimeUnit; u != time.Microsecond && u != time.Millisecond && u != time.Second {
			t.Errorf("%s: time unit %s: want µs, ms or s", v.Name, u)
		}
		if v.Quote != strings.ToUpper(v.Quote) {
			t.Errorf("%s: quote %q: want upper case", v.Name, v.Quote)
		}
		if l := v.Limits; l.SubscribeInterval <= 0 || l.StaleAfter <= 0 || l.MaxSubsPerConn < 0 || l.MaxConnAge < 0 || l.PingInterval < 0 {
			t.Errorf("%s: limits %+v: want a subscribe interval and a stale time, nothing negative", v.Name, l)
		}
	}
}

// TestExchangeNames: names and ids round-trip through the table; unknown ones do not.
func TestExchangeNames(t *testing.T) {
	exs := Exchanges()
	if len(exs) != len(venues) {
		t.Fatalf("%d exchanges, %d rows", len(exs), len(venues))
	}
	for _, ex := range exs {
		got, err := ParseExchange(ex.String())
		if err != nil || got != ex || !ex.Valid() {
			t.Errorf("%d %q: ParseExchange %d %v, valid %v", ex, ex, got, err, ex.Valid())
		}
		if v, ok := ex.Venue(); !ok || v.Exchange != ex {
			t.Errorf("%s: Venue() %+v %v", ex, v, ok)
		}
	}
	for _, ex := range []Exchange{0, exchMax + 1, 255} {
		if _, ok := ex.Venue(); ok || ex.Valid() || ex.String() != fmt.Sprintf("exchange(%d)", ex) {
			t.Errorf("%d: valid %v, %q", ex, ex.Valid(), ex)
		}
	}
	if _, err := ParseExchange("nasdaq"); err == nil {
		t.Error("ParseExchange(nasdaq): no error")
	}
	if Binance.String() != "binance" || GateIO.String() != "gateio" || Coinone != 10 {
		t.Error("wire ids and names changed: they are part of the wire format")
	}
}
