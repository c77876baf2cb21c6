package bus

import "bytes"

// Topics are ordered general → specific, dot separated: "<kind>.<exchange>.<instrument>",
// e.g. "bbo.binance.BTC-USDT". ZeroMQ filters by plain byte prefix, so "bbo." selects
// every BBO record and "bbo.binance." every Binance BBO; "" selects everything. Because
// the match is a byte prefix, "bbo.bin" also matches "bbo.binance.…": end prefixes with
// the separator to select whole levels.

// subscription is one subscribed prefix with its reference count: ZeroMQ subscriptions
// are a multiset (subscribing twice needs two cancels), as in libzmq's trie.
type subscription struct {
	prefix []byte
	refs   int
}

// subscriptions is a small set of prefixes owned by one publisher-side connection and
// guarded by that connection's mutex. Linear search: subscribers hold a handful of
// prefixes, and a linear scan over a few short slices beats any index at that size.
type subscriptions struct {
	list []subscription
}

// add subscribes prefix (copied) and reports whether the set may keep it: false when the
// set already holds max distinct prefixes.
func (s *subscriptions) add(prefix []byte, max int) bool {
	for i := range s.list {
		if bytes.Equal(s.list[i].prefix, prefix) {
			s.list[i].refs++
			return true
		}
	}
	if len(s.list) >= max {
		return false
	}
	s.list = append(s.list, subscription{prefix: bytes.Clone(prefix), refs: 1})
	return true
}

// remove cancels one reference to prefix. Cancelling a prefix that is not subscribed is
// a no-op, as in libzmq.
func (s *subscriptions) remove(prefix []byte) {
	for i := range s.list {
		if bytes.Equal(s.list[i].prefix, prefix) {
			s.list[i].refs--
			if s.list[i].refs == 0 {
				last := len(s.list) - 1
				s.list[i] = s.list[last]
				s.list[last] = subscription{}
				s.list = s.list[:last]
			}
			return
		}
	}
}

// match reports whether topic starts with any subscribed prefix. It does not allocate.
func (s *subscriptions) match(topic []byte) bool {
	for i := range s.list {
		if bytes.HasPrefix(topic, s.list[i].prefix) {
			return true
		}
	}
	return false
}

// strings returns the subscribed prefixes (one entry per distinct prefix).
func (s *subscriptions) strings() []string {
	out := make([]string, len(s.list))
	for i := range s.list {
		out[i] = string(s.list[i].prefix)
	}
	return out
}
