package adapter

import "slices"

// LocalBookDepth is the depth the gateway's local book of sub keeps: the depth the
// exchange's own book for the subscription has (BookDepther: Kraken rounds 0 to 10 and 20
// to 25, and its checksum covers that book), else the configured depth (0: untrimmed).
// The session and bench/gwbench both size their books with it.
func LocalBookDepth(a Adapter, sub Sub) int {
	if d, ok := a.(BookDepther); ok {
		return d.BookDepth(sub.Depth)
	}
	return sub.Depth
}

// DerivesBBO reports whether sub's BBO comes from its book top: the venue has no BBO
// channel (Limits.BBOFromBook) and sub asks for ChanBBO.
func DerivesBBO(a Adapter, sub Sub) bool {
	return a.Limits().BBOFromBook && slices.Contains(sub.Channels, ChanBBO)
}
