package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file maps yaml.v3's line-numbered decode errors ("line 7: field bogus not found in
// type config.Gateway") to YAML paths ("gateways[0].bogus"), and validation paths back to
// lines, by indexing the document's node tree.

// maxIndexEntries bounds the index; past it, errors simply carry no line or a coarser path.
// Aliases are not followed (that could expand exponentially), so the index is linear in the
// file anyway: a value reached through an alias is reported at its anchor's path, and
// validation errors under an alias carry no line.
const maxIndexEntries = 1 << 20

// nodeEntry is one key (or sequence item) of the document.
type nodeEntry struct {
	line  int    // line of the key or item
	path  string // YAML path of its value
	key   string // mapping key; "" for sequence items
	value string // the value when it is a scalar
	vline int    // line of the value node
	vkind yaml.Kind
}

type nodeIndex struct {
	lines   map[string]int // path → line of first occurrence
	entries []nodeEntry    // document order, parents before children
}

func indexNodes(root *yaml.Node) *nodeIndex {
	idx := &nodeIndex{lines: make(map[string]int)}
	idx.walk(root, "", 0)
	return idx
}

func (idx *nodeIndex) add(e nodeEntry) bool {
	if len(idx.entries) >= maxIndexEntries {
		return false
	}
	idx.entries = append(idx.entries, e)
	if _, ok := idx.lines[e.path]; !ok {
		idx.lines[e.path] = e.line
	}
	return true
}

func (idx *nodeIndex) walk(n *yaml.Node, path string, depth int) {
	if n == nil || depth > 100 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			idx.walk(c, path, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && v.Kind != yaml.AliasNode { // merge key: merged keys live at this level
				idx.walk(v, path, depth+1)
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if !idx.add(entryFor(k.Line, p, k.Value, v)) {
				return
			}
			idx.walk(v, p, depth+1)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			if !idx.add(entryFor(c.Line, p, "", c)) {
				return
			}
			idx.walk(c, p, depth+1)
		}
	}
}

func entryFor(line int, path, key string, v *yaml.Node) nodeEntry {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	e := nodeEntry{line: line, path: path, key: key, vline: v.Line, vkind: v.Kind}
	if v.Kind == yaml.ScalarNode {
		e.value = v.Value
	}
	return e
}

var (
	reLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown   = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	reDupKey    = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	reDupField  = regexp.MustCompile(`^field (.+) already set in type \S+$`)
	reUnmarshal = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

// decodeErrors turns yaml.v3 TypeError messages into FieldErrors with paths.
func (idx *nodeIndex) decodeErrors(msgs []string) []*FieldError {
	out := make([]*FieldError, 0, len(msgs))
	for _, msg := range msgs {
		m := reLine.FindStringSubmatch(msg)
		if m == nil {
			out = append(out, fieldErr("", ErrType, "%s", msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		rest := m[2]
		var fe *FieldError
		switch {
		case reUnknown.MatchString(rest):
			key := reUnknown.FindStringSubmatch(rest)[1]
			fe = fieldErr(idx.pathAt(line, key, "", false), ErrUnknownKey, "unknown key %q", key)
		case reDupKey.MatchString(rest):
			sm := reDupKey.FindStringSubmatch(rest)
			fe = fieldErr(idx.pathAt(line, sm[1], "", false), ErrDuplicate, "duplicate key %q (first at line %s)", sm[1], sm[2])
		case reDupField.MatchString(rest):
			key := reDupField.FindStringSubmatch(rest)[1]
			fe = fieldErr(idx.pathAt(line, key, "", false), ErrDuplicate, "key %q given twice", key)
		case reUnmarshal.MatchString(rest):
			sm := reUnmarshal.FindStringSubmatch(rest)
			tag, val, goType := sm[1], sm[2], sm[3]
			path := idx.pathAt(line, "", val, tag == "!!map" || tag == "!!seq")
			want := friendlyType(goType)
			if goType == "time.Duration" {
				fe = fieldErr(path, ErrFormat, "invalid duration %q: want %s", val, want)
			} else if val != "" {
				fe = fieldErr(path, ErrType, "cannot use %s %q: want %s", tagName(tag), val, want)
			} else {
				fe = fieldErr(path, ErrType, "cannot use a %s: want %s", tagName(tag), want)
			}
		default:
			fe = fieldErr(idx.pathAt(line, "", "", false), ErrType, "%s", rest)
		}
		fe.Line = line
		// A mistake inside an anchor is decoded, and reported by yaml.v3, once per alias.
		if !slices.ContainsFunc(out, func(o *FieldError) bool { return *o == *fe }) {
			out = append(out, fe)
		}
	}
	return out
}

// pathAt picks the path an error on line refers to: the entry with that key, else the
// entry whose scalar value matches val (yaml.v3 shortens long values to 7 chars + "..."),
// else (for map/seq type errors) the entry whose collection value starts on that line,
// else the last (deepest) entry on the line.
func (idx *nodeIndex) pathAt(line int, key, val string, collection bool) string {
	var best, byKey, byVal, byColl string
	for _, e := range idx.entries {
		if e.line != line && !(collection && e.vline == line) {
			continue
		}
		if e.line == line {
			best = e.path
		}
		if key != "" && e.key == key && e.line == line && byKey == "" {
			byKey = e.path
		}
		if val != "" && e.line == line && byVal == "" && matchShortened(e.value, val) {
			byVal = e.path
		}
		if collection && e.vline == line && (e.vkind == yaml.MappingNode || e.vkind == yaml.SequenceNode) && byColl == "" {
			byColl = e.path
		}
	}
	for _, p := range []string{byKey, byVal, byColl, best} {
		if p != "" {
			return p
		}
	}
	return fmt.Sprintf("(line %d)", line)
}

func matchShortened(full, short string) bool {
	if p, ok := strings.CutSuffix(short, "..."); ok {
		return len(full) > 10 && strings.HasPrefix(full, p)
	}
	return full == short
}

func tagName(tag string) string {
	switch tag {
	case "!!str":
		return "string"
	case "!!int":
		return "integer"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!map":
		return "mapping"
	case "!!seq":
		return "list"
	case "!!null":
		return "null"
	}
	return strings.TrimPrefix(tag, "!!")
}

func friendlyType(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 500ms, 5s or 1m30s"
	case goType == "string" || goType == "config.Channel":
		return "a string"
	case goType == "float64":
		return "a number"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		if lo, hi, ok := intRange(goType); ok {
			return fmt.Sprintf("an integer in [%s, %s]", lo, hi)
		}
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "config."),
		strings.HasPrefix(goType, "*config."):
		return "a mapping"
	}
	return goType
}

// intRange gives the bounds of the narrow integer types the schema uses.
func intRange(goType string) (lo, hi string, ok bool) {
	switch goType {
	case "uint16":
		return "0", "65535", true
	case "int16":
		return "-32768", "32767", true
	case "int32":
		return "-2147483648", "2147483647", true
	}
	return "", "", false
}
