package bus

import "slices"

// Topics are ordered general → specific, dot separated: "<kind>.<exchange>.<instrument>",
// e.g. "bbo.binance.BTC-USDT". ZeroMQ filters by plain byte prefix, so "bbo." selects
// every BBO record and "bbo.binance." every Binance BBO; "" selects everything. Because
// the match is a byte prefix, "bbo.bin" also matches "bbo.binance.…": end prefixes with
// the separator to select whole levels.

// subscriptions is one publisher-side connection's set of prefixes, guarded by that
// connection's mutex. ZeroMQ subscriptions are a multiset (subscribing twice needs two
// cancels), so each prefix carries a reference count.
//
// Matching is not linear in the number of prefixes: the set is a map keyed by prefix,
// plus the sorted list of distinct prefix lengths in use, and match looks up the topic's
// first L bytes for each such length L ≤ len(topic). The cost is bounded by the topic's
// length whatever the subscriber sends (1,024 non-matching prefixes of one length cost
// one lookup, not 1,024 comparisons).
type subscriptions struct {
	set     map[string]int // prefix → references
	lens    []int          // distinct lengths of the prefixes in set, ascending
	lenRefs map[int]int    // length → distinct prefixes of that length
}

// subResult is the outcome of add.
type subResult uint8

const (
	subOK      subResult = iota
	subTooMany           // the set already holds the maximum of distinct prefixes
	subTooLong           // the prefix is longer than allowed
)

// add subscribes prefix (copied), unless the set already holds maxCount distinct
// prefixes or prefix is longer than maxLen bytes.
func (s *subscriptions) add(prefix []byte, maxCount, maxLen int) subResult {
	if len(prefix) > maxLen {
		return subTooLong
	}
	if n, ok := s.set[string(prefix)]; ok {
		s.set[string(prefix)] = n + 1
		return subOK
	}
	if len(s.set) >= maxCount {
		return subTooMany
	}
	if s.set == nil {
		s.set = make(map[string]int)
		s.lenRefs = make(map[int]int)
	}
	s.set[string(prefix)] = 1
	if s.lenRefs[len(prefix)] == 0 {
		i, _ := slices.BinarySearch(s.lens, len(prefix))
		s.lens = slices.Insert(s.lens, i, len(prefix))
	}
	s.lenRefs[len(prefix)]++
	return subOK
}

// remove cancels one reference to prefix. Cancelling a prefix that is not subscribed is
// a no-op, as in libzmq.
func (s *subscriptions) remove(prefix []byte) {
	n, ok := s.set[string(prefix)]
	if !ok {
		return
	}
	if n > 1 {
		s.set[string(prefix)] = n - 1
		return
	}
	delete(s.set, string(prefix))
	s.lenRefs[len(prefix)]--
	if s.lenRefs[len(prefix)] == 0 {
		delete(s.lenRefs, len(prefix))
		if i, found := slices.BinarySearch(s.lens, len(prefix)); found {
			s.lens = slices.Delete(s.lens, i, i+1)
		}
	}
}

// match reports whether topic starts with any subscribed prefix. It does not allocate
// (map lookups keyed by string(bytes) do not copy).
func (s *subscriptions) match(topic []byte) bool {
	for _, l := range s.lens {
		if l > len(topic) {
			return false
		}
		if _, ok := s.set[string(topic[:l])]; ok {
			return true
		}
	}
	return false
}

// strings returns the subscribed prefixes (one entry per distinct prefix), sorted.
func (s *subscriptions) strings() []string {
	out := make([]string, 0, len(s.set))
	for p := range s.set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
