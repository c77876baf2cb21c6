package adapter

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/wire"
	"github.com/valyala/fastjson"
)

// TestBoundedLists: LevelList and ArrayAt accept an array of up to wire.MaxLevels
// elements and name the field (and what it holds) in every refusal.
func TestBoundedLists(t *testing.T) {
	long := "[" + strings.Repeat("1,", wire.MaxLevels) + "1]"
	n := strconv.Itoa(wire.MaxLevels + 1)
	for _, c := range []struct{ doc, err string }{
		{`{"x":[1,2]}`, ""},
		{`{}`, "malformed frame: missing x"},
		{`{"x":{}}`, "malformed frame: x is object, want array"},
		{`{"x":` + long + `}`, "malformed frame: x has " + n + " entries"},
	} {
		o := fastjson.MustParse(c.doc)
		arr, err := ArrayAt(o, "x")
		if c.err == "" && (err != nil || len(arr) != 2) || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ArrayAt(%.20s): %d, %v, want %q", c.doc, len(arr), err, c.err)
		}
	}
	if _, err := LevelList(fastjson.MustParse(long), "bids"); err == nil || err.Error() != "malformed frame: bids has "+n+" levels" {
		t.Errorf("LevelList: %v", err)
	}
}
