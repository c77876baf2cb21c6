// Package configs embeds the topology files shipped with tickline, so that `tickline demo`
// runs on embedded defaults from any directory.
package configs

import _ "embed"

// Demo is configs/demo.yaml: loopback, simulator, two gateways in two regions.
//
//go:embed demo.yaml
var Demo []byte
