package adaptertest

import (
	"strings"
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

// TimeInContentKeys runs TimeInContentKey for each {frame, from, to}.
func TimeInContentKeys(t *testing.T, a adapter.Adapter, rows [][3]string) {
	t.Helper()
	for _, r := range rows {
		TimeInContentKey(t, a, r[0], r[1], r[2])
	}
}

// TimeInContentKey checks that the exchange time is part of the content keys of frame's
// records: frame with the time text from replaced by to (the first occurrence) parses
// into the same number of records, each content-keyed (FlagNoSeq) with a different
// exchange time and a different key. Identical content at another time is another event.
func TimeInContentKey(t *testing.T, a adapter.Adapter, frame, from, to string) {
	t.Helper()
	if !strings.Contains(frame, from) {
		t.Fatalf("%.80s... does not contain %q", frame, from)
	}
	var x, y adapter.Batch
	if _, err := a.NewParser().Parse([]byte(frame), 1, &x); err != nil {
		t.Fatalf("%.80s...: %v", frame, err)
	}
	moved := strings.Replace(frame, from, to, 1)
	if _, err := a.NewParser().Parse([]byte(moved), 1, &y); err != nil {
		t.Fatalf("%.80s...: %v", moved, err)
	}
	if x.Len() == 0 || x.Len() != y.Len() {
		t.Fatalf("%.80s...: %d records, %d after moving the time", frame, x.Len(), y.Len())
	}
	for i := 0; i < x.Len(); i++ {
		r, m := x.At(i), y.At(i)
		switch {
		case r.Flags&wire.FlagNoSeq == 0:
			t.Errorf("%.80s... record %d (%s) is not content-keyed", frame, i, r.Kind)
		case r.TsExchange == m.TsExchange:
			t.Errorf("%.80s... record %d (%s): %q → %q did not change the exchange time", frame, i, r.Kind, from, to)
		case r.Seq == m.Seq:
			t.Errorf("%.80s... record %d (%s): the same content key at exchange times %d and %d", frame, i, r.Kind, r.TsExchange, m.TsExchange)
		}
	}
}
