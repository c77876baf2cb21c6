package gateway

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter/adaptertest"
	"github.com/tickline/tickline/shared/wire"
)

// TestAdapters runs the checks every adapter shares (adaptertest.Suite) over each adapter
// registered here, against the case file and samples in its package directory
// (gateway/<name>/testdata): registering a venue is what puts it under the suite, and a
// venue without its testdata fails.
func TestAdapters(t *testing.T) {
	// Samples a venue's own tests read rather than its case file.
	readElsewhere := map[wire.Exchange][]string{
		wire.Binance: {"depthSnapshot-1.json"}, // a REST body: binance TestSnapshotSample
	}
	for _, ex := range wire.Exchanges() {
		a, err := Adapter(ex)
		if err != nil {
			continue // TestRegistryCoversVenueTable names it
		}
		t.Run(ex.String(), func(t *testing.T) { adaptertest.Suite(t, a, ex.String(), readElsewhere[ex]...) })
	}
}

// TestRegistryCoversVenueTable: every row of the venue table has an adapter registered
// here that speaks that exchange and follows the book rule the table states; nothing is
// registered outside the table.
func TestRegistryCoversVenueTable(t *testing.T) {
	for _, v := range wire.Venues() {
		a, err := Adapter(v.Exchange)
		if err != nil {
			t.Errorf("venue %s (shared/wire/venue.go) has no adapter in gateway/registry.go", v.Name)
			continue
		}
		if a.Exchange() != v.Exchange {
			t.Errorf("registry: %s's adapter speaks %s", v.Name, a.Exchange())
		}
		if a.BookRule() != v.Book {
			t.Errorf("%s: adapter book rule %d, venue table %d", v.Name, a.BookRule(), v.Book)
		}
	}
	for ex := range adapters {
		if !ex.Valid() {
			t.Errorf("registry: adapter for %s, which the venue table does not list", ex)
		}
	}
}

// TestIdentityEveryVenue: every venue states an identity for the kinds all of them
// produce (BBO, trade, book snapshot) and none for status records; dense trade ids go
// with the trade-id class.
func TestIdentityEveryVenue(t *testing.T) {
	for _, ex := range wire.Exchanges() {
		a, err := Adapter(ex)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []wire.Kind{wire.KindBBO, wire.KindTrade, wire.KindBookSnapshot} {
			if Identity(ex, k) == wire.IdentityNone {
				t.Errorf("%s states no identity for %s", ex, k)
			}
		}
		if id := Identity(ex, wire.KindStatus); id != wire.IdentityNone {
			t.Errorf("%s: status identity %s", ex, id)
		}
		if a.DenseTradeIDs() && Identity(ex, wire.KindTrade) != wire.IdentityTradeID {
			t.Errorf("%s: dense trade ids but trade identity %s", ex, Identity(ex, wire.KindTrade))
		}
	}
	if Identity(wire.Exchange(0), wire.KindBBO) != wire.IdentityNone {
		t.Error("unknown exchange has an identity")
	}
}
