package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file holds what strict loading needs beyond yaml.v3's own checks:
//
//   - yaml.v3 truncates a number in float syntax into an integer field (queue_depth: 1.5
//     becomes 1) and lets an explicit null (`~`, or a key with no value) leave a field as it
//     was, silently keeping its default. checkScalars walks the document beside the
//     Topology's type and reports both.
//   - yaml.v3 checks a mapping's keys for duplicates pairwise, which is quadratic: a feed
//     with 40,000 symbols took 15 s to load. SymbolMap decodes a feed's symbols itself, in
//     linear time, with the same errors.

// maxScalarDepth bounds the walk (the schema is 7 levels deep).
const maxScalarDepth = 32

var durationType = reflect.TypeFor[time.Duration]()

// checkScalars reports float-syntax numbers for integer keys and nulls for scalar keys.
// Aliases are not followed (their anchor is checked where it is written).
func checkScalars(root *yaml.Node) []*FieldError {
	var errs []*FieldError
	var walk func(n *yaml.Node, t reflect.Type, path string, depth int)
	walk = func(n *yaml.Node, t reflect.Type, path string, depth int) {
		if n == nil || t == nil || depth > maxScalarDepth {
			return
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, t, path, depth+1)
			}
		case yaml.ScalarNode:
			if e := scalarErr(n, t, path); e != nil {
				errs = append(errs, e)
			}
		case yaml.SequenceNode:
			if t.Kind() != reflect.Slice {
				return // a type error yaml.v3 reports
			}
			for i, c := range n.Content {
				walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "<<" && v.Kind != yaml.AliasNode {
					walk(v, t, path, depth+1)
					continue
				}
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				switch t.Kind() {
				case reflect.Map:
					walk(v, t.Elem(), p, depth+1)
				case reflect.Struct:
					if ft := fieldType(t, k.Value); ft != nil {
						walk(v, ft, p, depth+1)
					}
				}
			}
		}
	}
	walk(root, reflect.TypeFor[Topology](), "", 0)
	return errs
}

// scalarErr checks one scalar against the type it decodes into.
func scalarErr(n *yaml.Node, t reflect.Type, path string) *FieldError {
	tag := n.ShortTag()
	var e *FieldError
	switch {
	case tag == "!!null":
		switch t.Kind() {
		case reflect.Slice, reflect.Map, reflect.Struct:
			return nil // an empty list, map or section: the same as leaving the key out
		}
		e = fieldErr(path, ErrType, "null: give a value, or leave the key out for its default")
	case tag == "!!float" && t != durationType && isInt(t.Kind()):
		e = fieldErr(path, ErrType, "cannot use number %q: want %s", n.Value, friendlyType(t.String()))
	default:
		return nil
	}
	e.Line = n.Line
	return e
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// fieldType returns the type of the struct field whose yaml tag names key (nil: none).
func fieldType(t reflect.Type, key string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f.Type
		}
	}
	return nil
}

// SymbolMap maps an exchange's own symbols to the channels wanted for each (Feed.Symbols).
// It is a plain map; its only purpose is decoding in linear time (see checkScalars' file).
type SymbolMap map[string][]Channel

// UnmarshalYAML decodes a mapping of symbols, reporting duplicate keys and wrong types as
// yaml.v3 does (so errors carry the same paths), in time linear in the number of symbols.
func (m *SymbolMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode || hasMerge(n) {
		var plain map[string][]Channel // yaml.v3's own decoding and errors
		err := n.Decode(&plain)
		*m = plain
		return err
	}
	out := make(SymbolMap, len(n.Content)/2)
	firstLine := make(map[string]int, len(n.Content)/2)
	var msgs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var key string
		if err := k.Decode(&key); err != nil {
			msgs = append(msgs, typeErrors(err)...)
			continue
		}
		if line, dup := firstLine[key]; dup {
			msgs = append(msgs, fmt.Sprintf("line %d: mapping key %q already defined at line %d", k.Line, key, line))
			continue
		}
		firstLine[key] = k.Line
		var chans []Channel
		if err := v.Decode(&chans); err != nil {
			msgs = append(msgs, typeErrors(err)...)
		}
		out[key] = chans
	}
	*m = out
	if len(msgs) > 0 {
		return &yaml.TypeError{Errors: msgs}
	}
	return nil
}

func hasMerge(n *yaml.Node) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == "<<" {
			return true
		}
	}
	return false
}

// typeErrors returns a decode error's messages in yaml.v3's TypeError form.
func typeErrors(err error) []string {
	if te, ok := err.(*yaml.TypeError); ok {
		return te.Errors
	}
	return []string{err.Error()}
}
