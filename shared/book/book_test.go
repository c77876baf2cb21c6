package book

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/tickline/tickline/shared/wire"
)

func lv(p, s string) wire.Level {
	return wire.Level{Price: wire.MustDecimal(p), Size: wire.MustDecimal(s)}
}

func TestBookApply(t *testing.T) {
	var b Book
	b.Snapshot([]wire.Level{lv("99", "1"), lv("100", "2"), lv("98.5", "3")}, []wire.Level{lv("101", "1"), lv("100.5", "4")})
	b.Apply([]wire.Level{lv("100.00", "5"), lv("98.50000000", "0"), lv("99.5", "1")}, []wire.Level{lv("100.5", "0E-8"), lv("102", "7")})
	want := func(got []wire.Level, w ...string) {
		t.Helper()
		if len(got) != len(w)/2 {
			t.Fatalf("%d levels, want %d: %v", len(got), len(w)/2, got)
		}
		for i := range got {
			if got[i].Price.Cmp(wire.MustDecimal(w[2*i])) != 0 || got[i].Size.String() != w[2*i+1] {
				t.Fatalf("level %d = %s@%s, want %s@%s", i, got[i].Size, got[i].Price, w[2*i+1], w[2*i])
			}
		}
	}
	want(b.Bids(), "100", "5", "99.5", "1", "99", "1")
	want(b.Asks(), "101", "1", "102", "7")
	if b.Crossed() {
		t.Fatal("not crossed")
	}
	b.Apply(nil, []wire.Level{lv("99.5", "1")})
	if !b.Crossed() {
		t.Fatal("crossed book not detected")
	}
}

// TestBookMatchesModel applies random deltas and compares with a map-based model.
func TestBookMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b Book
	model := map[string]string{}
	for i := 0; i < 5000; i++ {
		p, _ := wire.DecimalFromInt(int64(9000+rng.IntN(200)), 1)
		s, _ := wire.DecimalFromInt(int64(rng.IntN(4)), 0)
		b.Apply([]wire.Level{{Price: p, Size: s}}, nil)
		if s.IsZero() {
			delete(model, p.Canonical().String())
		} else {
			model[p.Canonical().String()] = s.String()
		}
	}
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return wire.MustDecimal(keys[i]).Cmp(wire.MustDecimal(keys[j])) > 0 })
	if len(keys) != len(b.Bids()) {
		t.Fatalf("%d levels, model has %d", len(b.Bids()), len(keys))
	}
	for i, k := range keys {
		if got := b.Bids()[i]; got.Price.Cmp(wire.MustDecimal(k)) != 0 || got.Size.String() != model[k] {
			t.Fatalf("level %d: %s@%s, model %s@%s", i, got.Size, got.Price, model[k], k)
		}
	}
}

func TestBookMaxDepthAndZeroAlloc(t *testing.T) {
	b := Book{MaxDepth: 3}
	b.Snapshot([]wire.Level{lv("1", "1"), lv("2", "1"), lv("3", "1"), lv("4", "1")}, nil)
	if len(b.Bids()) != 3 || b.Bids()[2].Price.String() != "2" {
		t.Fatalf("bids %v", b.Bids())
	}
	up := []wire.Level{lv("2.5", "1")}
	down := []wire.Level{lv("2.5", "0")}
	if n := testing.AllocsPerRun(100, func() { b.Apply(up, nil); b.Apply(down, nil) }); n != 0 {
		t.Fatalf("Apply allocates %v", n)
	}
}
