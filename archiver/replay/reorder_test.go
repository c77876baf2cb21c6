package replay

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/tickline/tickline/internal/testkit"
	"github.com/tickline/tickline/shared/wire"
)

// TestReplayReorderWithinPartition archives, in seeded schedules, two exchanges' records
// whose archive order strays from event time by up to 20 ms within each partition (as
// instruments' feeds of one exchange do), and checks the replay against the oracle — all
// records sorted by event time: with Reorder 25 ms the output is exactly that order;
// without it the archive order shows as counted inversions.
func TestReplayReorderWithinPartition(t *testing.T) {
	seeds := newKafka(t)
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			prefix := fmt.Sprintf("ro%d.", seed)
			topo := topology(t, seeds, prefix)
			type item struct {
				v   []byte
				at  int64 // event time, unique
				key float64
			}
			var items []item
			used := map[int64]bool{}
			for i := 0; i < 400; i++ {
				ex, inst := wire.Binance, "BTC-USDT"
				if rng.Intn(2) == 0 {
					ex = wire.OKX
				}
				if rng.Intn(2) == 0 {
					inst = "ETH-USDT"
				}
				at := int64(rng.Intn(2000)) * int64(100*time.Microsecond) // 0..200 ms
				for used[at] {
					at += 7
				}
				used[at] = true
				// Archive order: event time plus up to 20 ms of feed delay.
				items = append(items, item{rec(ex, wire.KindTrade, inst, uint64(i+1), time.Duration(at), 1), at,
					float64(at) + rng.Float64()*float64(20*time.Millisecond)})
			}
			slices.SortFunc(items, func(a, b item) int {
				if a.key < b.key {
					return -1
				}
				return 1
			})
			var vals [][]byte
			for _, it := range items {
				vals = append(vals, it.v)
			}
			archive(t, seeds, prefix+"korea", "korea", vals)
			want := make([]int64, len(items))
			for i, it := range items {
				want[i] = base + it.at
			}
			slices.Sort(want)

			var exact collected
			r := runReplay(t, topo, Options{Regions: []string{"korea"}, Reorder: 25 * time.Millisecond}, exact.sink())
			if !slices.Equal(exact.times, want) {
				t.Fatalf("with Reorder 25ms the output is not in event order (%d records, %d inversions)", len(exact.times), r.Stats.Inversions.Load())
			}
			if n := r.Stats.Inversions.Load(); n != 0 {
				t.Errorf("%d inversions counted in an ordered output", n)
			}
			var plain collected
			r = runReplay(t, topo, Options{Regions: []string{"korea"}}, plain.sink())
			inv := int64(0)
			for i := 1; i < len(plain.times); i++ {
				if plain.times[i] < plain.times[i-1] {
					inv++
				}
			}
			if len(plain.times) != len(want) || inv == 0 || r.Stats.Inversions.Load() < inv {
				t.Errorf("archive order: %d records, %d inversions seen, %d counted", len(plain.times), inv, r.Stats.Inversions.Load())
			}
			// A queue too small for the window: records are forced out (inversions allowed),
			// none is lost or repeated.
			// Also a window of about 60 records (~7 KB) in an 8 KiB queue, between half and all
			// of it (regression: its fetching paused at full and resumed only below half,
			// which the window never reached: the replay hung).
			for _, qb := range []int{2048, 8192} {
				var small collected
				runReplay(t, topo, Options{Regions: []string{"korea"}, Reorder: 60 * time.Millisecond, MaxPartitionBytes: qb}, small.sink())
				got := slices.Clone(small.times)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("queues of %d bytes: %d records, want the same %d", qb, len(got), len(want))
				}
			}
		})
	}
}

// TestReplayReorderWindowWiderThanHalfQueue is the regression test of a hang: a reorder
// window needing more than half of a partition's queue (50 ms ≈ 12 KB here, queues of
// 16 KiB) paused the partition's fetching when the queue filled and resumed it only below
// half, which the window never reached. Now a paused partition releases records; all
// arrive, in order wherever the window fits.
func TestReplayReorderWindowWiderThanHalfQueue(t *testing.T) {
	seeds, topo := newArchive(t, "rq.")
	threeStreams(t, seeds, "rq.", 5000)
	var c collected
	r, err := New(topo, Options{Regions: []string{"korea"}, Reorder: 50 * time.Millisecond, MaxPartitionBytes: 16 << 10}, c.sink(), testkit.Log(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil || len(c.values) != 15000 {
		t.Fatalf("replayed %d of 15000 records (ctx: %v)", len(c.values), ctx.Err())
	}
	c.checkMergeOrder(t)
}
