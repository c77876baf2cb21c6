package adapter

import (
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestShapeMatch(t *testing.T) {
	s := MustShape(`{"topic":"book.%s","u":%n,"b":[["%s","%s"]]}`)
	tests := []struct {
		frame string
		want  []string // nil: no match
	}{
		{`{"topic":"book.BTCUSDT","u":42,"b":[["1.5","2"]]}`, []string{"BTCUSDT", "42", "1.5", "2"}},
		{`{"topic":"book.","u":-1e5,"b":[["",""]]}`, []string{"", "-1e5", "", ""}},
		{`{"topic":"book.BTCUSDT","u":42,"b":[["1.5","2"]]} `, nil},  // trailing space
		{` {"topic":"book.BTCUSDT","u":42,"b":[["1.5","2"]]}`, nil},  // leading space
		{`{"topic":"book.BTCUSDT","u": 42,"b":[["1.5","2"]]}`, nil},  // space in the template
		{`{"topic":"book.BTC\"USDT","u":42,"b":[["1.5","2"]]}`, nil}, // escape
		{`{"topic":"book.BTC\u0055SDT","u":42,"b":[["1.5","2"]]}`, nil},
		{"{\"topic\":\"book.BTC\tUSDT\",\"u\":42,\"b\":[[\"1.5\",\"2\"]]}", nil}, // raw control byte
		{`{"topic":"book.BTCUSDT","u":,"b":[["1.5","2"]]}`, nil},                 // empty number
		{`{"topic":"book.BTCUSDT","u":"42","b":[["1.5","2"]]}`, nil},             // string for a number
		{`{"topic":"book.BTCUSDT","u":42,"b":[["1.5","2"],["1.4","3"]]}`, nil},   // a second level
		{`{"topic":"book.BTCUSDT","u":42,"b":[["1.5","2"]]`, nil},                // truncated
		{`{"topic":"book.BTCUSDT","u":42,"b":[["1.5`, nil},
		{`{"u":42,"topic":"book.BTCUSDT","b":[["1.5","2"]]}`, nil}, // other key order
		{``, nil},
	}
	vals := make([][]byte, s.Holes())
	for _, tt := range tests {
		ok := s.Match([]byte(tt.frame), vals)
		if ok != (tt.want != nil) {
			t.Errorf("Match(%s) = %v, want %v", tt.frame, ok, tt.want != nil)
			continue
		}
		for i := range tt.want {
			if ok && string(vals[i]) != tt.want[i] {
				t.Errorf("Match(%s): value %d = %q, want %q", tt.frame, i, vals[i], tt.want[i])
			}
		}
	}
}

// TestShapeBool: a %b hole takes true or false, nothing else.
func TestShapeBool(t *testing.T) {
	s := MustShape(`{"m":%b,"n":1}`)
	var v [1][]byte
	for frame, want := range map[string]string{
		`{"m":true,"n":1}`: "true", `{"m":false,"n":1}`: "false",
		`{"m":null,"n":1}`: "", `{"m":"true","n":1}`: "", `{"m":tru,"n":1}`: "", `{"m":truee,"n":1}`: "", `{"m":1,"n":1}`: "",
	} {
		ok := s.Match([]byte(frame), v[:])
		if ok != (want != "") || ok && string(v[0]) != want {
			t.Errorf("Match(%s) = %v %q, want %q", frame, ok, v[0], want)
		}
	}
}

func TestMustShapeRejects(t *testing.T) {
	for _, tmpl := range []string{
		`{"a":"%s}`,   // string hole not closed by a quote
		`{"a":%n1}`,   // number hole followed by a digit
		`{"a":%n`,     // number hole at the end
		`{"a":"%n"}`,  // number hole inside a string
		`{"a":%x}`,    // unknown hole
		`{"a":%bx}`,   // bool hole followed by a letter
		`{"a":"%b"}`,  // bool hole inside a string
		`{"a":"%s"}%`, // '%' at the end
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MustShape(%s) did not panic", tmpl)
				}
			}()
			MustShape(tmpl)
		}()
	}
}

func TestConv(t *testing.T) {
	var c Conv
	if c.Uint([]byte("18446744073709551615")) != 1<<64-1 || c.Decimal([]byte("0.50")).String() != "0.50" ||
		c.Epoch([]byte("1700000000123"), 1e6) != 1700000000123e6 || c.Failed() {
		t.Fatal("good values failed")
	}
	for _, bad := range []func(c *Conv){
		func(c *Conv) { c.Uint([]byte("18446744073709551616")) },
		func(c *Conv) { c.Uint([]byte("1.0")) },
		func(c *Conv) { c.Decimal([]byte("-1")) },
		func(c *Conv) { c.Decimal([]byte("NaN")) },
		func(c *Conv) { c.Epoch([]byte("17"), 1e6) },
	} {
		var c Conv
		bad(&c)
		if !c.Failed() {
			t.Errorf("a bad value did not fail")
		}
		c.Uint([]byte("1")) // a later good value does not clear the failure
		if !c.Failed() {
			t.Errorf("Failed was cleared")
		}
	}
}

// TestShapeOversized: a frame over MaxFrameBytes does not match even when it has the
// shape, so that no fast path accepts what the fastjson path rejects by size.
func TestShapeOversized(t *testing.T) {
	s := MustShape(`{"s":"%s"}`)
	var v [1][]byte
	fits := `{"s":"` + strings.Repeat("x", MaxFrameBytes-8) + `"}`
	if !s.Match([]byte(fits), v[:]) {
		t.Fatalf("a %d-byte frame of the shape did not match", len(fits))
	}
	over := `{"s":"` + strings.Repeat("x", MaxFrameBytes) + `"}`
	if s.Match([]byte(over), v[:]) {
		t.Fatalf("a %d-byte frame matched", len(over))
	}
}

// TestShapeElems reads arrays of elements of one shape: every element's values in order,
// the rest after ']', and no match for a bad element, a bad separator, a missing ']',
// more than max elements or an array the caller stops reading.
func TestShapeElems(t *testing.T) {
	head := MustShape(`{"s":"%s","a":[`)
	elem := MustShape(`{"p":"%s","q":%n}`)
	tests := []struct {
		frame string
		want  string // the elements' values joined, then "|" and the rest; "" for no match
	}{
		{`{"s":"X","a":[]}`, "X:|}"},
		{`{"s":"X","a":[{"p":"1","q":2}]}`, "X:1,2;|}"},
		{`{"s":"X","a":[{"p":"1","q":2},{"p":"3","q":4e1}],"t":1}`, "X:1,2;3,4e1;|,\"t\":1}"},
		{`{"s":"X","a":[{"p":"1","q":2},{"p":"3","q":4},{"p":"5","q":6}]}`, ""}, // over max
		{`{"s":"X","a":[{"p":"1","q":2} ,{"p":"3","q":4}]}`, ""},                // space
		{`{"s":"X","a":[{"p":"1","q":2},]}`, ""},                                // trailing comma
		{`{"s":"X","a":[{"p":"1","q":2}`, ""},                                   // no ']'
		{`{"s":"X","a":[{"q":2,"p":"1"}]}`, ""},                                 // key order
		{`{"s":"X","a":[{"p":"bad","q":2}]}`, ""},                               // the caller stops
		{`{"s":"X","a":{}}`, ""},
	}
	for _, tt := range tests {
		var hv [1][]byte
		rest, ok := head.Prefix([]byte(tt.frame), hv[:])
		got := ""
		if ok {
			got = string(hv[0]) + ":"
			var ev [2][]byte
			it := elem.Elems(rest, 2)
			for it.Next(ev[:]) {
				got += string(ev[0]) + "," + string(ev[1]) + ";"
				if string(ev[0]) == "bad" {
					break
				}
			}
			rest, ok = it.Rest()
		}
		if !ok {
			got = ""
		} else {
			got += "|" + string(rest)
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.frame, got, tt.want)
		}
	}
}

// FuzzStringEnd: the eight-bytes-at-a-time scan finds what a byte loop finds.
func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{"", "abc\"", "0123456789abcdef\"x", "\\", "\x1f", "\x7f\x80\xff\"", "aaaaaaa\"aaaaaaaaa", "aaaaaaaa\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := 0
		for want < len(b) && b[want] != '"' && b[want] != '\\' && b[want] >= 0x20 {
			want++
		}
		if got := stringEnd(b); got != want {
			t.Fatalf("stringEnd(%q) = %d, want %d", b, got, want)
		}
	})
}

// FuzzShapeLiterals: literal matching (two words for a literal of up to 16 bytes) agrees
// with a plain comparison, for literals of 1 to 20 bytes at the start of any input.
func FuzzShapeLiterals(f *testing.F) {
	f.Add(`{"a":"`, []byte(`{"a":"x"}`))
	f.Add(`0123456789abcdef`, []byte(`0123456789abcdef--`))
	f.Add(`0123456789abcdefg`, []byte(`0123456789abcdefg`))
	f.Fuzz(func(t *testing.T, lit string, b []byte) {
		if lit == "" || len(lit) > 20 || strings.ContainsRune(lit, '%') {
			return
		}
		s := MustShape(lit)
		want := len(b) >= len(lit) && string(b[:len(lit)]) == lit
		if got := s.hasLit(b, 0); got != want {
			t.Fatalf("hasLit(%q, %q) = %v, want %v", b, lit, got, want)
		}
	})
}

// numberHoleAgrees checks one value text x in a number hole against fastjson: where the
// hole takes x, fastjson parses the same frame to a number with exactly that text (a
// fast path never accepts what the fastjson path refuses). The reverse need not hold:
// the hole gives up on fastjson's inf and nan, which the fastjson path then refuses.
func numberHoleAgrees(t *testing.T, x string) {
	s := MustShape(`{"u":%n,"v":1}`)
	frame := `{"u":` + x + `,"v":1}`
	var vals [1][]byte
	if !s.Match([]byte(frame), vals[:]) {
		return
	}
	var p fastjson.Parser
	v, err := p.Parse(frame)
	if err != nil {
		t.Fatalf("the hole takes %q, fastjson refuses %s: %v", x, frame, err)
	}
	u := v.Get("u")
	if u == nil || u.Type() != fastjson.TypeNumber || string(u.MarshalTo(nil)) != string(vals[0]) {
		t.Fatalf("the hole takes %q, fastjson reads %v", vals[0], u)
	}
}

// TestNumberHoleAsFastjson: a lone sign is no number for fastjson, nor for a hole.
func TestNumberHoleAsFastjson(t *testing.T) {
	s := MustShape(`{"u":%n,"v":1}`)
	var vals [1][]byte
	for _, x := range []string{"-", "+", ""} {
		if s.Match([]byte(`{"u":`+x+`,"v":1}`), vals[:]) {
			t.Errorf("hole took %q", x)
		}
	}
	for _, x := range []string{"-", "+", "--", "-1", "+1", "1e5", ".", "e", "-e", "inf", "-inf", "nan", "0x1", "1-2", "00"} {
		numberHoleAgrees(t, x)
	}
}

// FuzzNumberHole: whatever a number hole takes, fastjson reads as that number.
func FuzzNumberHole(f *testing.F) {
	for _, x := range []string{"-", "+", "-1", "1e5", "inf", "+-"} {
		f.Add(x)
	}
	f.Fuzz(numberHoleAgrees)
}

// TestContentKeyAllClears: the texts folded are cleared (a parser's scratch keeps no
// reference into a frame), and the key is the texts' ContentKey chain.
func TestContentKeyAllClears(t *testing.T) {
	texts := [][]byte{[]byte("1.5"), []byte("2"), nil}
	want := ContentKey(ContentKey(ContentKey(FNVOffset64, texts[0]), texts[1]), nil)
	if got := ContentKeyAll(FNVOffset64, texts); got != want {
		t.Errorf("key %x, want %x", got, want)
	}
	for i, x := range texts {
		if x != nil {
			t.Errorf("texts[%d] = %q after folding, want nil", i, x)
		}
	}
}
