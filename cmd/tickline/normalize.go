package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/tickline/tickline/gateway"
	"github.com/tickline/tickline/shared/wire"
)

func runNormalize(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	exName := fs.String("exchange", "", "exchange of the frames: "+wire.ExchangeNames())
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
	var closers []io.Closer
	if fs.NArg() == 0 {
		inputs = append(inputs, gateway.NormalizeInput{Name: "-", R: e.stdin})
		if c, ok := e.stdin.(io.Closer); ok {
			closers = append(closers, c)
		}
	}
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs = append(inputs, gateway.NormalizeInput{Name: name, R: f})
		closers = append(closers, f)
	}
	// SIGINT/SIGTERM: Normalize stops between lines; closing the inputs ends a read that
	// waits on a pipe or terminal.
	var once sync.Once
	stop := context.AfterFunc(ctx, func() {
		once.Do(func() {
			for _, c := range closers {
				c.Close()
			}
		})
	})
	defer stop()
	return interruptible(ctx, func() error {
		_, err := gateway.Normalize(ctx, a, inputs, e.stdout, e.stderr)
		return err
	})
}
