// Command tickline is the one tickline binary: one subcommand per role.
//
//	tickline demo                              the whole pipeline locally (make demo)
//	tickline check-config FILE                 load and validate a topology file
//	tickline gateway --config FILE --id ID     run one gateway
//	tickline strategy --config FILE            run the strategy
//	tickline tap --config FILE [--gateways ..] the merged stream as JSON lines (strategy/tap)
//	tickline sim [flags]                       the exchange simulator (internal/sim)
//	tickline archiver --config FILE            archive every region's arbitrated stream into Kafka
//	tickline replay --config FILE [flags]      replay the archive onto the bus or into JSONL/CSV/Parquet
//	tickline normalize --exchange EX [FILE...] raw exchange frames (JSON lines) → normalized JSON lines
//	tickline keygen [--secret-file FILE]       a CURVE keypair for the bus (Z85, as zmq_curve_keypair)
//
// Mains stay thin (STYLE.md §2): parse flags, load config, build the logger, call the
// package's New/Run under a signal context, shut down in reverse order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tickline/tickline/archiver/replay"
)

// command is one subcommand.
type command struct {
	name, usage string
	// run runs the command with args; fs, named after the command and reporting to
	// stderr, is the command's flag set, for it to declare its flags on and parse args.
	run func(ctx context.Context, fs *flag.FlagSet, args []string, env *env) error
}

// env carries the process's streams and logger to a subcommand (tests swap them).
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
}

// errUsage makes main print the usage and exit 2.
var errUsage = errors.New("usage")

var commands = []command{
	{"demo", "demo [--duration D] [--rate R]\n\tthe whole pipeline on loopback: simulator, two gateways, strategy, archive and replay, with a live view", runDemo},
	{"check-config", "check-config FILE\n\tload a topology file strictly, apply defaults and validate it", runCheckConfig},
	{"gateway", "gateway --config FILE --id ID [--wait-subscribers N]\n\trun one gateway of the topology: exchange sessions → records on its bus endpoint", runGateway},
	{"strategy", "strategy --config FILE [--report 10s] [--endpoints EP,..]\n\tsubscribe to every gateway (or to the endpoints given, e.g. a replay's --publish), arbitrate the lines, detect cross-exchange arbitrage, emit signals", runStrategy},
	{"tap", "tap --config FILE [--gateways ID,..] [--out FILE] [--duration D]\n\tsubscribe to the gateways like the strategy, arbitrate, print every delivered record as a JSON line (normalize's schema plus gateway_id, gateway_seq, line)", runTap},
	{"archiver", "archiver --config FILE [--tail-records 16384] [--seeds H:P,..]\n\tsubscribe to every gateway, arbitrate each region's lines, archive into Kafka (topic per region, partition per exchange) through a disk spool", runArchiver},
	{"replay", "replay --config FILE [--regions R,..] [--topics T,..] [--exchanges EX,..] [--instruments I,..] [--kinds K,..] [--from T] [--to T] [--speed max|Nx] [--output " + strings.Join(replay.OutputNames(), "|") + "] [--publish EP] [--path FILE|-] [--wait-subscribers 1] [--metrics HOST:PORT] [--order event|publish] [--reorder 250ms] [--all-copies] [--seeds H:P,..] [--follow]\n\tread the archive back merged in time order, each exchange event once, paced, onto the bus or into a file (SIGUSR1 pauses, SIGUSR2 resumes; /control on the metrics address pauses, resumes, changes speed and seeks)", runReplay},
	{"sim", "sim [--listen 127.0.0.1:18080] [--seed N] [--rate R] [--duration D] [--fault ex:gap=N,...] [--replay ex=FILE] [--metrics HOST:PORT] [--events FILE] [--generate-for D]\n\tserve all ten exchanges' protocols on loopback from a seeded market model or recorded frames", runSim},
	{"keygen", "keygen [--secret-file FILE]\n\tprint a new CURVE keypair for the bus in Z85 (public_key, secret_key), or write the secret to a new 0600 file and print the public key", runKeygen},
	{"normalize", "normalize --exchange EX [FILE...]\n\tread raw frames (one JSON document per line; stdin when no FILE) and print one JSON object per normalized record", runNormalize},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tickline COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.usage)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and maps its error to an exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout) // asked for: not an error
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		err := c.run(ctx, fs, args[1:], e)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp): // --help: the flags were printed; not an error
			fmt.Fprintf(e.stderr, "usage: tickline %s\n", c.usage)
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "usage: tickline %s\n", c.usage)
			return 2
		default:
			// "tickline replay: replay: …" says the command twice: once is enough.
			fmt.Fprintf(e.stderr, "tickline %s: %s\n", c.name, strings.TrimPrefix(err.Error(), c.name+": "))
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "tickline: unknown command %q\n", args[0])
	usage(e.stderr)
	return 2
}
