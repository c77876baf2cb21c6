package gwbench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"testing"
	"time"
)

func TestZZDump(t *testing.T) {
	c, err := capture(context.Background(), ".", 1000, 1000*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create("/tmp/frames2.txt")
	defer f.Close()
	re := regexp.MustCompile(`[0-9]+`)
	count := map[string]int{}
	seen := map[string]bool{}
	for _, e := range c.entries {
		v := c.conns[e.conn].venue
		d := string(e.data)
		if len(d) > 70 {
			d = d[:70]
		}
		k := v + " " + re.ReplaceAllString(d, "N")
		count[k]++
		if !seen[k] {
			seen[k] = true
			fmt.Fprintf(f, "%s %s\n", v, e.data)
		}
	}
	var ks []string
	for k := range count {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if count[k] > 20 {
			fmt.Printf("%6d %s\n", count[k], k)
		}
	}
}
