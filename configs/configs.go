// Package configs embeds the topology files shipped with tickline, so that `tickline demo`
// runs on embedded defaults from any directory.
package configs

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/tickline/tickline/shared/config"
)

// Demo is configs/demo.yaml: loopback, simulator, two gateways in two regions.
//
//go:embed demo.yaml
var Demo []byte

// DemoSim is the simulator address demo.yaml's feeds point at (`tickline sim`'s default
// --listen).
const DemoSim = "127.0.0.1:18080"

// DemoAt parses demo (the text of demo.yaml: Demo, or the file as it is on disk) with its
// feeds pointed at a simulator on simAddr instead of DemoSim, and keeps on every gateway
// only the given exchanges (all when none): the topology a test or harness runs against
// its own simulator. An exchange the demo does not carry is an error. The result is not
// validated again: a subset may leave the strategy's settings (its FX market on upbit)
// without their feed, which a harness that runs no strategy does not need.
func DemoAt(demo []byte, simAddr string, exchanges ...string) (*config.Topology, error) {
	topo, err := config.Parse([]byte(strings.ReplaceAll(string(demo), DemoSim, simAddr)))
	if err != nil {
		return nil, err
	}
	if len(exchanges) > 0 {
		for i := range topo.Gateways {
			keep := map[string]*config.Feed{}
			for _, ex := range exchanges {
				f, ok := topo.Gateways[i].Feeds[ex]
				if !ok {
					return nil, fmt.Errorf("configs: the demo's gateway %s has no feed for exchange %q", topo.Gateways[i].ID, ex)
				}
				keep[ex] = f
			}
			topo.Gateways[i].Feeds = keep
		}
	}
	return topo, nil
}
