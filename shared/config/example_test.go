package config_test

import (
	"errors"
	"fmt"

	"github.com/tickline/tickline/shared/config"
)

const exampleYAML = `
version: 1
regions: [{name: global}]
gateways:
  - id: gw-global-a
    num: 1
    region: global
    publish: tcp://127.0.0.1:7101
    exchanges:
      binance:
        ws_url: wss://stream.binance.com:9443/stream
        symbols: {BTCUSDT: [bbo, trade]}
strategy:
  threshold_bps: 5
  max_notional: 10000
  fees_bps: {binance: 10}
archiver:
  seeds: [127.0.0.1:9092]
  topics: {global: ticks.global}
  partitions: {binance: 0}
replay:
  publish: tcp://127.0.0.1:7401
`

func ExampleParse() {
	t, err := config.Parse([]byte(exampleYAML))
	if err != nil {
		fmt.Println(err)
		return
	}
	gw, _ := t.Gateway("gw-global-a")
	fmt.Println(gw.Num, gw.Exchanges(), t.Bus.QueueDepth, t.Strategy.Subscribe, t.PartitionCount("global"))
	// Output: 1 [binance] 65536 [gw-global-a] 1
}

func ExampleFieldError() {
	bad := []byte(exampleYAML[:len(exampleYAML)-len("replay:\n  publish: tcp://127.0.0.1:7401\n")] +
		"replay:\n  publish: tcp://127.0.0.1:7101\n")
	_, err := config.Parse(bad)
	var fe *config.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Path, errors.Is(err, config.ErrDuplicate), errors.Is(err, config.ErrInvalid))
	}
	fmt.Println(err)
	// Output:
	// replay.publish true true
	// replay.publish: address "tcp://127.0.0.1:7101" already used by gateways[0].publish (line 22)
}

func ExampleParseEndpoint() {
	fmt.Println(config.ParseEndpoint("tcp://127.0.0.1:7101"))
	fmt.Println(config.ParseEndpoint("ipc:///run/tickline/gw.sock"))
	_, _, err := config.ParseEndpoint("udp://127.0.0.1:7101")
	fmt.Println(errors.Is(err, config.ErrFormat))
	// Output:
	// tcp 127.0.0.1:7101 <nil>
	// unix /run/tickline/gw.sock <nil>
	// true
}

func ExampleParseSpeed() {
	for _, s := range []string{"max", "10x", "0.5x"} {
		f, _ := config.ParseSpeed(s)
		fmt.Println(s, f)
	}
	// Output:
	// max 0
	// 10x 10
	// 0.5x 0.5
}
