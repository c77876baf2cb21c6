package replay

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/tickline/tickline/shared/bus"
)

// Output is a kind of replay output that the topology (replay.output) and the CLI
// (--output) name: how to open its sink. Adding one: the sink in a file of its own here,
// a row in outputs, and its name in shared/config's replay outputs (TestOutputsMatchConfig
// fails until both lists agree).
type Output struct {
	// Name is the replay.output / --output value.
	Name string
	// File outputs write to OutputConfig.Path ("-" = stdout); the others publish on
	// OutputConfig.Publish (replay.publish / --publish).
	File bool
	// Open makes the sink. For a File output, c.W is the opened file, which the sink
	// closes when it is an io.Closer. ctx bounds what the sink waits for (subscribers).
	Open func(ctx context.Context, c OutputConfig) (Sink, error)
}

// OutputConfig is what opening an output may use.
type OutputConfig struct {
	// Publish is the bus endpoint of a publishing output.
	Publish string
	// Path is a File output's file; "-" writes to Stdout, which the sink does not close.
	Path   string
	Stdout io.Writer
	// W is the opened Path (set by OpenOutput for File outputs).
	W io.Writer
	// Bus configures a publishing output's publisher; WaitSubscribers makes it wait for
	// that many subscribers before its first record (ZMQOptions).
	Bus             bus.Options
	WaitSubscribers int
	Log             *slog.Logger
}

// outputs are the replay outputs, in the order the CLI lists them.
var outputs = []Output{
	{Name: "zmq", Open: func(ctx context.Context, c OutputConfig) (Sink, error) {
		return NewZMQSink(ctx, c.Publish, ZMQOptions{WaitSubscribers: c.WaitSubscribers, Bus: c.Bus}, c.Log)
	}},
	{Name: "jsonl", File: true, Open: func(_ context.Context, c OutputConfig) (Sink, error) { return NewJSONLSink(c.W), nil }},
	{Name: "csv", File: true, Open: func(_ context.Context, c OutputConfig) (Sink, error) { return NewCSVSink(c.W), nil }},
	{Name: "parquet", File: true, Open: func(_ context.Context, c OutputConfig) (Sink, error) { return NewParquetSink(c.W), nil }},
}

// Outputs returns the replay outputs.
func Outputs() []Output { return append([]Output(nil), outputs...) }

// OutputNames returns the outputs' names, in order.
func OutputNames() []string {
	names := make([]string, len(outputs))
	for i, o := range outputs {
		names[i] = o.Name
	}
	return names
}

// LookupOutput returns the output called name.
func LookupOutput(name string) (Output, bool) {
	for _, o := range outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Output{}, false
}

// OpenOutput opens the sink of the output called name: a File output's file is created
// first (Path "-" is Stdout, left open), a publishing output needs Publish.
func OpenOutput(ctx context.Context, name string, c OutputConfig) (Sink, error) {
	o, ok := LookupOutput(name)
	if !ok {
		return nil, fmt.Errorf("--output: unknown output %q (want %s)", name, orList(OutputNames()))
	}
	if !o.File {
		if c.Publish == "" {
			return nil, fmt.Errorf("--publish: required for %s output", name)
		}
		return o.Open(ctx, c)
	}
	if c.Path == "-" {
		c.W = struct{ io.Writer }{c.Stdout} // hides Close: stdout stays open
	} else {
		f, err := os.Create(c.Path)
		if err != nil {
			return nil, fmt.Errorf("replay output: %w", err)
		}
		c.W = f
	}
	s, err := o.Open(ctx, c)
	if err != nil {
		if cl, ok := c.W.(io.Closer); ok {
			cl.Close()
		}
		return nil, err
	}
	return s, nil
}

// orList writes names as "a, b, c or d".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
