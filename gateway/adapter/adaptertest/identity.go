package adaptertest

import (
	"testing"

	"github.com/tickline/tickline/gateway/adapter"
	"github.com/tickline/tickline/gateway/chain"
	"github.com/tickline/tickline/shared/wire"
)

// identityByName maps the names wire.Identity.String returns back to the class.
func identityByName(name string) (wire.Identity, bool) {
	for i := wire.IdentityNone; i <= wire.IdentityContent; i++ {
		if i.String() == name {
			return i, true
		}
	}
	return 0, false
}

// CheckIdentity checks that every record a's parser makes from the frames of the case
// file at path (reference samples included) conforms to the identity a states for its
// kind (adapter.Adapter.Identity): wire.FlagNoSeq exactly when the class is
// wire.IdentityContent, and Seq != 0 for every record that names an exchange event.
// Kinds the adapter produces must not be stated as wire.IdentityNone. For adapters whose
// BBO comes from the book top (Limits.BBOFromBook), the book records also go through a
// chain.Sync that derives the BBO, and the derived records are checked against
// Identity(KindBBO). A case's "? class: why" lines override the class for its records.
// It returns the number of records checked.
func CheckIdentity(t *testing.T, a adapter.Adapter, path string) int {
	t.Helper()
	if got := a.Identity(wire.KindStatus); got != wire.IdentityNone {
		t.Errorf("Identity(status) = %s, want none: status records are not exchange events", got)
	}
	if a.DenseTradeIDs() && a.Identity(wire.KindTrade) != wire.IdentityTradeID {
		t.Errorf("DenseTradeIDs without Identity(trade) = trade_id (got %s)", a.Identity(wire.KindTrade))
	}
	p := a.NewParser()
	syncs := map[wire.Name]*chain.Sync{}
	var in, derived adapter.Batch
	checked := 0
	for _, c := range LoadCases(t, path, a.Exchange().String()) {
		if c.Frame == nil || c.Err != "" {
			continue
		}
		where := path + ":" + itoa(c.Line)
		overrides := map[int]wire.Identity{}
		for i, name := range c.Identity {
			cls, ok := identityByName(name)
			if !ok {
				t.Errorf("%s: unknown identity class %q", where, name)
			}
			overrides[i] = cls
		}
		in.Reset()
		if _, err := p.Parse(c.Frame, 1, &in); err != nil {
			continue
		}
		for i := 0; i < in.Len(); i++ {
			r := in.At(i)
			want := a.Identity(r.Kind)
			override, ok := overrides[i]
			if !ok {
				override, ok = overrides[-1]
			}
			if ok {
				want = override
			}
			checkRecord(t, where, r, want)
			checked++
			if !a.Limits().BBOFromBook || r.Kind != wire.KindBookSnapshot && r.Kind != wire.KindBookDelta {
				continue
			}
			s := syncs[r.Symbol]
			if s == nil {
				s = &chain.Sync{Rule: a.BookRule(), DeriveBBO: true}
				syncs[r.Symbol] = s
			}
			derived.Reset()
			s.Apply(r, &derived)
			for j := 0; j < derived.Len(); j++ {
				if d := derived.At(j); d.Kind == wire.KindBBO {
					want := a.Identity(wire.KindBBO)
					if ok {
						want = override
					}
					checkRecord(t, where+" (BBO derived from the book)", d, want)
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Errorf("%s: no records to check", path)
	}
	return checked
}

func checkRecord(t *testing.T, where string, r *wire.Record, want wire.Identity) {
	t.Helper()
	noSeq := r.Flags&wire.FlagNoSeq != 0
	switch {
	case r.Kind == wire.KindStatus:
		return // not an exchange event
	case want == wire.IdentityNone:
		t.Errorf("%s: a %s record, but the adapter states identity none for %s", where, r.Kind, r.Kind)
	case noSeq != (want == wire.IdentityContent):
		t.Errorf("%s: %s record with FlagNoSeq=%v, but its identity is %s (FlagNoSeq ⇔ content)", where, r.Kind, noSeq, want)
	case r.Seq == 0:
		t.Errorf("%s: %s record (identity %s) with Seq 0", where, r.Kind, want)
	}
}
