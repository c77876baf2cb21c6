package config

import (
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// Every default of the topology lives in this file; configs/README.md lists the same values.
// The one exception is a feed's stale_after: its default is the venue's own, the
// StaleAfter of the exchange's row in the venue table (shared/wire/venue.go), which is
// set from that exchange's heartbeat periods.
//
// Two mechanisms, one rule each:
//   - Section keys (bus, strategy, archiver, replay) are pre-set by Defaults before the file
//     is decoded over them, so a key written in the file always wins, even an explicit 0
//     (which Validate may then reject, e.g. bus.queue_depth: 0).
//   - Keys inside lists and maps (a gateway's journal, a feed's stale_after) cannot be
//     pre-set; applyDefaults fills them after decoding where they are zero.

// Default values, exported so processes and tests can refer to them.
const (
	DefaultQueueDepth      = 65536           // bus.queue_depth: records per subscriber queue
	DefaultStallTimeout    = 5 * time.Second // bus.stall_timeout
	DefaultWriteDeadline   = 1 * time.Second // bus.write_deadline
	DefaultMaxMessageBytes = 4 << 20         // bus.max_message_bytes: 4 MiB

	DefaultLowLatencySpin   = 200 * time.Microsecond // bus.low_latency.spin
	DefaultLowLatencyGC     = -1                     // bus.low_latency.gc_percent: off
	DefaultLowLatencyMemory = 1 << 30                // bus.low_latency.memory_limit: 1 GiB

	DefaultJournalRecords = 1 << 20 // gateways[].journal.records (when a journal is configured)
	// gateways[].exchanges.*.stale_after: the venue table's StaleAfter for the exchange.

	DefaultStaleness = 2 * time.Second // strategy.staleness

	DefaultArbiterTolerance = 10 * time.Second // arbitration.tolerance
	DefaultArbiterMaxKeys   = 1 << 21          // arbitration.max_keys: ~48 MiB of keys

	DefaultReplicationFactor = 3                         // archiver.replication_factor
	DefaultCompression       = "zstd"                    // archiver.compression
	DefaultLinger            = 5 * time.Millisecond      // archiver.linger (franz-go's own default is 10ms)
	DefaultSpoolDir          = "/var/lib/tickline/spool" // archiver.spool_dir
	DefaultSpoolMaxBytes     = 1 << 30                   // archiver.spool_max_bytes: 1 GiB
	DefaultSpoolFsync        = SpoolFsyncInterval        // archiver.spool_fsync
	DefaultSpoolFsyncEvery   = 100 * time.Millisecond    // archiver.spool_fsync_interval
	// archiver.min_insync_replicas: 0 = replication_factor-1, at least 1 (Archiver.MinISR).

	DefaultReplaySpeed  = "max" // replay.speed: as fast as possible
	DefaultReplayOutput = "zmq" // replay.output
	DefaultReplayPath   = "-"   // replay.path: stdout
)

// Defaults returns a Topology holding every section default and nothing else (no regions,
// gateways, strategy thresholds, fees or Kafka layout: those have no sensible default).
// Parse decodes the file over it; code that builds a Topology by hand should start here.
func Defaults() *Topology {
	return &Topology{
		Bus: Bus{
			QueueDepth:      DefaultQueueDepth,
			StallTimeout:    DefaultStallTimeout,
			WriteDeadline:   DefaultWriteDeadline,
			MaxMessageBytes: DefaultMaxMessageBytes,
		},
		Arbitration: Arbitration{Tolerance: DefaultArbiterTolerance, MaxKeys: DefaultArbiterMaxKeys},
		Strategy: Strategy{
			Staleness: DefaultStaleness,
			// Subscribe: empty = every gateway (filled by applyDefaults).
			// ThresholdBps, MaxNotional, FeesBps, FX: required, no default.
		},
		Archiver: Archiver{
			// Seeds, Topics, Partitions: required, no default.
			PartitionCount:     0, // per topic: highest partition of the region + 1
			ReplicationFactor:  DefaultReplicationFactor,
			Compression:        DefaultCompression,
			Linger:             DefaultLinger,
			SpoolDir:           DefaultSpoolDir,
			SpoolMaxBytes:      DefaultSpoolMaxBytes,
			SpoolFsync:         DefaultSpoolFsync,
			SpoolFsyncInterval: DefaultSpoolFsyncEvery,
		},
		Replay: Replay{
			Speed:  DefaultReplaySpeed,
			Output: DefaultReplayOutput,
			Path:   DefaultReplayPath,
		},
	}
}

// applyDefaults fills the defaults that live inside lists and maps, after decoding.
func applyDefaults(t *Topology) {
	for i := range t.Gateways {
		g := &t.Gateways[i]
		if g.Journal != nil && g.Journal.Records == 0 {
			g.Journal.Records = DefaultJournalRecords
		}
		for name, f := range g.Feeds {
			if f != nil && f.StaleAfter == 0 {
				f.StaleAfter = venueStaleAfter(name)
			}
		}
	}
	if ll := t.Bus.LowLatency; ll != nil {
		if ll.Spin == 0 {
			ll.Spin = DefaultLowLatencySpin
		}
		if ll.GCPercent == 0 {
			ll.GCPercent = DefaultLowLatencyGC
		}
		if ll.MemoryLimit == 0 {
			ll.MemoryLimit = DefaultLowLatencyMemory
		}
	}
	// strategy.subscribe: empty means every gateway, in file order.
	if len(t.Strategy.Subscribe) == 0 {
		for _, g := range t.Gateways {
			t.Strategy.Subscribe = append(t.Strategy.Subscribe, g.ID)
		}
	}
}

// venueStaleAfter is the venue table's StaleAfter for the exchange named name, 0 for an
// unknown name (which Validate reports).
func venueStaleAfter(name string) time.Duration {
	ex, err := wire.ParseExchange(name)
	if err != nil {
		return 0
	}
	v, _ := ex.Venue()
	return v.Limits.StaleAfter
}
