package book

import (
	"math/rand/v2"
	"slices"
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

// TestBookSnapshotAnyOrder: a snapshot gives the same book whether its levels come best
// first (the append fast path), worst first or shuffled, with repeated prices (the last
// one wins) and zero sizes (ignored), on both sides.
func TestBookSnapshotAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		var levels []wire.Level
		for range 1 + rng.IntN(40) {
			p, _ := wire.DecimalFromInt(int64(1000+rng.IntN(60)), 1)
			s, _ := wire.DecimalFromInt(int64(rng.IntN(5)), 0)
			levels = append(levels, wire.Level{Price: p, Size: s})
		}
		bestFirst := func(desc bool) []wire.Level {
			out := slices.Clone(levels)
			slices.SortStableFunc(out, func(a, b wire.Level) int {
				if desc {
					return b.Price.Cmp(a.Price)
				}
				return a.Price.Cmp(b.Price)
			})
			return out
		}
		shuffled := slices.Clone(levels)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		reversed := func(l []wire.Level) []wire.Level { slices.Reverse(l); return l }
		for _, order := range [][2][]wire.Level{
			{bestFirst(true), bestFirst(false)},
			{reversed(bestFirst(true)), reversed(bestFirst(false))},
			{levels, shuffled},
		} {
			var b Book
			b.Apply([]wire.Level{lv("1059.9", "7")}, []wire.Level{lv("1000.0", "7")}) // replaced by the snapshot
			b.Snapshot(order[0], order[1])
			for side, got := range [][]wire.Level{b.Bids(), b.Asks()} {
				in := order[side]
				// The model of this side: the last occurrence of each price in the input.
				m := map[string]string{}
				for _, l := range in {
					if l.Size.IsZero() {
						delete(m, l.Price.String())
					} else {
						m[l.Price.String()] = l.Size.String()
					}
				}
				if len(got) != len(m) {
					t.Fatalf("round %d side %d: %d levels, want %d", round, side, len(got), len(m))
				}
				for i, l := range got {
					if m[l.Price.String()] != l.Size.String() {
						t.Fatalf("round %d side %d: level %s@%s, want size %q", round, side, l.Size, l.Price, m[l.Price.String()])
					}
					if i > 0 {
						c := got[i-1].Price.Cmp(l.Price)
						if side == 0 && c <= 0 || side == 1 && c >= 0 {
							t.Fatalf("round %d side %d: levels out of order at %d", round, side, i)
						}
					}
				}
			}
		}
	}
}
