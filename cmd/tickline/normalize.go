package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/shared/wire"
)

func runNormalize(_ context.Context, args []string, e *env) error {
	fs := newFlags("normalize", e)
	exName := fs.String("exchange", "", "exchange of the frames: binance, coinbase, kraken, okx, bybit, gateio, upbit, bithumb, korbit, coinone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ex, err := wire.ParseExchange(*exName)
	if err != nil {
		return fmt.Errorf("--exchange: %w (%w)", err, errUsage)
	}
	a, err := gateway.Adapter(ex)
	if err != nil {
		return err
	}
	var inputs []gateway.NormalizeInput
	if fs.NArg() == 0 {
		inputs = append(inputs, gateway.NormalizeInput{Name: "-", R: e.stdin})
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs = append(inputs, gateway.NormalizeInput{Name: name, R: f})
	}
	_, err = gateway.Normalize(a, inputs, e.stdout, e.stderr)
	return err
}
