package journal

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

func rec(seq uint64, n int) []byte {
	b := bytes.Repeat([]byte{byte(seq)}, n)
	copy(b, fmt.Sprintf("%08d", seq))
	return b
}

// TestJournalKeepsNewest: under random sizes the journal always holds a contiguous run of
// the newest records, byte-exact, within its bounds.
func TestJournalKeepsNewest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	j := New(100, 4096)
	sizes := map[uint64]int{}
	for seq := uint64(1); seq <= 5000; seq++ {
		n := 10 + rng.IntN(300)
		sizes[seq] = n
		j.Append(seq, rec(seq, n))
		first, last := j.Bounds()
		if last != seq {
			t.Fatalf("last %d after appending %d", last, seq)
		}
		total, want := 0, first
		j.Range(0, ^uint64(0), func(s uint64, r []byte) bool {
			if s != want || !bytes.Equal(r, rec(s, sizes[s])) {
				t.Fatalf("seq %d: got seq %d, %d bytes", want, s, len(r))
			}
			want++
			total += len(r)
			return true
		})
		if want != seq+1 || total > 4096 || int(last-first+1) > 100 {
			t.Fatalf("after %d: range %d..%d, %d bytes", seq, first, last, total)
		}
	}
	first, last := j.Bounds()
	if last-first+1 < 10 {
		t.Fatalf("journal keeps only %d records", last-first+1)
	}
}

func TestRetransmit(t *testing.T) {
	j := New(1000, 1<<20)
	for seq := uint64(1); seq <= 500; seq++ {
		j.Append(seq, rec(seq, 100))
	}
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://" + filepath.Join(t.TempDir(), "j.sock")} {
		s, err := Listen(ep, j, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		first, last, err := Fetch(context.Background(), s.Endpoint(), 100, 120, func(r []byte) error {
			var n uint64
			fmt.Sscanf(string(r[:8]), "%d", &n)
			got = append(got, n)
			return nil
		})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if first != 1 || last != 500 || len(got) != 21 || got[0] != 100 || got[20] != 120 {
			t.Fatalf("%s: bounds %d..%d, got %v", ep, first, last, got)
		}
	}
}
