package busbench

import (
	"context"
	"fmt"
)

// Run runs every scenario in turn and returns their results; a failing scenario is
// reported in its Note and the others still run.
func Run(ctx context.Context, cfg Config, progress func(string)) []Result {
	var out []Result
	for _, tr := range []string{"tcp", "ipc"} {
		for _, sys := range []string{"floor", "zmq4", "bus"} {
			out = append(out, one(ctx, cfg, sys, tr, false, progress))
		}
	}
	// The price of CURVE: the same bus pair, encrypted and authenticated (tcp, where it
	// is meant to run: across hosts).
	out = append(out, one(ctx, cfg, "bus-curve", "tcp", false, progress))
	out = append(out, one(ctx, cfg, "bus", "tcp", true, progress))
	out = append(out, one(ctx, cfg, "zmq4", "tcp", true, progress))
	return out
}

// RunOne runs one scenario: sys is floor, zmq4, bus or bus-curve; tr is tcp or ipc;
// stalled adds a stalled subscriber beside the healthy one.
func RunOne(ctx context.Context, cfg Config, sys, tr string, stalled bool, progress func(string)) Result {
	return one(ctx, cfg, sys, tr, stalled, progress)
}

func one(ctx context.Context, cfg Config, sys, tr string, stalled bool, progress func(string)) Result {
	res := Result{System: sys, Transport: tr, Name: sys + "/" + tr}
	if stalled {
		res.Variant, res.Name = "stalled", res.Name+"+stalled"
	}
	if progress != nil {
		progress(res.Name)
	}
	var pr pair
	var err error
	var heap func(bool) float64
	switch sys {
	case "floor":
		pr, err = newFloor(tr, cfg.Dir)
	case "zmq4":
		pr, err = newZmq(tr, cfg.Dir, stalled)
	case "bus":
		pr, err = newBus(tr, cfg.Dir, stalled, false)
		heap = heapMiB // the same sampling with and without the stalled subscriber
	case "bus-curve":
		pr, err = newBus(tr, cfg.Dir, stalled, true)
	}
	if err != nil {
		res.Note = fmt.Sprintf("setup failed: %v", err)
		return res
	}
	defer pr.close()
	if err := run(ctx, cfg, &res, pr, heap); err != nil {
		res.Note = err.Error()
	}
	if res.FloodRecv < res.FloodSent {
		res.Note += fmt.Sprintf(" healthy subscriber got %d of %d flood messages", res.FloodRecv, res.FloodSent)
	}
	return res
}
