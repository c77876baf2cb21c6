package main

import (
	"context"
	"flag"

	"github.com/tickline/tickline/shared/arbiter"

	"github.com/tickline/tickline/archiver"
)

// runArchiver runs `tickline archiver --config FILE`: subscribe to every gateway, arbitrate
// each region's lines, archive into Kafka (one topic per region, one partition per
// exchange) through the disk spool. SIGINT/SIGTERM stop it cleanly (final flush; what is
// not acknowledged stays in the spool for the next start).
func runArchiver(ctx context.Context, fs *flag.FlagSet, args []string, e *env) error {
	tail := fs.Int("tail-records", 16384, "records read from each partition's tail at start to seed the arbiter")
	applySeeds := seedsFlag(fs)
	topo, err := parseConfig(fs, args, e)
	if err != nil {
		return err
	}
	applySeeds(topo)
	a, err := archiver.New(topo, archiver.Options{TailRecords: *tail, Arbiter: arbiter.OptionsFrom(topo.Arbitration)}, e.log)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
