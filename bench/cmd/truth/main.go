// Command truth compares the simulator's event log with the records of a merged stream
// (`tickline tap` output) and, optionally, of an archive rendered the same way, and prints
// the per-venue table of bench/truth. It exits 1 when a venue lost or duplicated events.
//
//	go run ./bench/cmd/truth --events events.jsonl --tap tap.jsonl [--archive archive.jsonl] [--detail]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tickline/tickline/bench/truth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "truth:", err)
		os.Exit(1)
	}
}

var errNotOK = fmt.Errorf("events lost or duplicated")

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("truth", flag.ContinueOnError)
	events := fs.String("events", "", "the simulator's event log (tickline sim --events)")
	tapPath := fs.String("tap", "", "the merged stream (tickline tap --out)")
	archive := fs.String("archive", "", "the archive as tap-format JSON lines (optional)")
	detail := fs.Bool("detail", false, "print a row per kind under each venue")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *events == "" || *tapPath == "" {
		return fmt.Errorf("--events and --tap are required")
	}
	ev, err := truth.ReadEventsFile(*events)
	if err != nil {
		return err
	}
	tapped, err := truth.ReadRecordsFile(*tapPath, "tap")
	if err != nil {
		return err
	}
	var archived []truth.Line
	if *archive != "" {
		if archived, err = truth.ReadRecordsFile(*archive, "archive"); err != nil {
			return err
		}
	}
	rep := truth.Compare(ev, tapped, archived, *archive != "")
	if err := rep.Write(stdout, *detail); err != nil {
		return err
	}
	if !rep.OK() {
		return errNotOK
	}
	return nil
}
