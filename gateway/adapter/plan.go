package adapter

// Pack lays subscriptions out over connections to wsURL, for venues that subscribe with
// lists of topics: each Sub's topics (topics(sub), in order; its error stops the plan)
// stay on one connection, a connection takes topics while it has fewer than perConn, and
// they are sent in subscribe frames of at most perFrame topics each, built by
// frame(topics, n) where n numbers the plan's frames from 1 (request ids). Plan-time
// only: never on the per-message path.
func Pack[T any](wsURL string, subs []Sub, perConn, perFrame int, topics func(Sub) ([]T, error), frame func(args []T, n int) []byte) ([]ConnPlan, error) {
	var plans []ConnPlan
	var cur *ConnPlan
	var args []T
	frames, n := 0, 0
	flush := func() {
		if len(args) > 0 {
			frames++
			cur.Subscribe = append(cur.Subscribe, frame(args, frames))
			args = args[:0]
		}
	}
	for _, s := range subs {
		names, err := topics(s)
		if err != nil {
			return nil, err
		}
		if cur == nil || n+len(names) > perConn {
			if cur != nil {
				flush()
			}
			plans = append(plans, ConnPlan{URL: wsURL})
			cur = &plans[len(plans)-1]
			n = 0
		}
		cur.Symbols = append(cur.Symbols, s.Symbol)
		for _, name := range names {
			args = append(args, name)
			n++
			if len(args) == perFrame {
				flush()
			}
		}
	}
	if cur != nil {
		flush()
	}
	return plans, nil
}
