// Package archiver mirrors the arbitrated record stream of every region into Kafka: one
// topic per region, one partition per exchange, each exchange event once, in the order the
// archiver accepted it. "Guarantees" below says exactly what holds under which faults, and
// which losses are possible and counted.
//
// # Guarantees
//
// An exchange event is archived at most once, and at least once if some line of its region
// carried it — delivered it live, or still holds it in its gateway's journal when the
// archiver asks — except where a counter below says otherwise. Each fault, and what it
// costs:
//
//   - Kafka unreachable, or a broker lost: nothing. Records wait in the spool (bounded by
//     archiver.spool_max_bytes) and are produced when Kafka is back; idempotent, acks=all,
//     on topics created with min.insync.replicas (default replication_factor-1, at least 1),
//     so an acknowledged record is on at least that many replicas and survives the loss of
//     all but one of them (Kafka's unclean leader election off, its default). With
//     replication_factor 1 a broker's disk is the only copy: the archiver warns at start
//     (durability_warnings) when the cluster could give more, and refuses to start when
//     min.insync.replicas cannot be met (ErrDurability).
//   - The spool full: the records refused are lost, counted in spool_dropped_total and
//     logged; they take no archive sequence (no hole). The alarm is up long before.
//   - The archiver killed (SIGKILL, OOM): nothing. The spool is in the page cache; on
//     restart the partition tails say what reached Kafka, the rest of the spool is produced,
//     and what the gateways published meanwhile (and a batch torn by the kill) comes back
//     from their journals. One window remains: a produce request of the dead process that
//     reaches a broker more than 3 s after the restart read the tail is archived twice
//     (Kafka transactions would close it; not used).
//   - The host losing power: per archiver.spool_fsync. "batch": nothing accepted is lost.
//     "interval" (default, 100 ms): spool writes of the last interval may be gone; the
//     restart windows fetch them again from the journals when they still hold them.
//     "none": everything since the page cache was last written back, likewise.
//   - The spool damaged on disk: a torn tail is cut (spool_torn_bytes_total); a corrupt
//     span inside a segment is skipped (the framing re-synchronises on the next entry whose
//     CRC-32C matches) and the records it held that Kafka does not have are lost, counted in
//     spool_corrupt_lost_total.
//   - The bus dropping records for the archiver, a line reconnecting, the archiver down:
//     the gateways' journals fill the gap (Retransmit). What no journal holds any more is
//     lost unless another line carried it: retransmit_lost_total.
//   - The archiver started after the gateways, or on an empty archive: each journaled line's
//     first live record opens a window over whatever its journal holds (backfill).
//   - A retransmitted record older than what the archiver can check against the archive (the
//     partition tail read at start, or the archive index) is not archived, because the
//     archive may hold it: retransmit_before_tail_total, retransmit_beyond_index_total. Such
//     records are lost if the archive did not hold them after all.
//
// What the arbiter decides on the live path (first arrival wins, duplicates dropped, records
// of a line more than its tolerance behind) is shared/arbiter's contract; the archiver
// counts its drops in duplicates_total. Content-only events (no exchange id) that repeat
// identically and carry no exchange time cannot be told apart: a retransmitted repeat is
// dropped as archived already.
//
// # Data flow and goroutines
//
//	gateways ──ZMQ──► bus.Subscriber ──► handler ──────┐
//	gateway journals ──TCP──► retransmitter ───────────┴─► Spool (disk) ──► producer ──► franz-go ──► Kafka
//
// Who owns what:
//
//   - The handler goroutine (bus.Subscriber.Run's) owns the lines' live state (gateway
//     sequence followed per line, restart windows not opened yet) and the batch buffer.
//     The per-region arbiter.Merger and per-partition archive sequence counters are
//     guarded by Archiver.mu, which the handler holds for one bus batch and the
//     retransmitter for one chunk of retransmitted records; whoever holds it assigns
//     archive sequences and writes the spool, so each partition's sequences reach the
//     spool in order. The handler never touches Kafka: it reads each record's header,
//     arbitrates, and appends the accepted records of a bus batch to the spool with one
//     write call. franz-go's Produce blocks when its buffer is full; that happens on the
//     producer goroutine only.
//   - The retransmitter goroutine (only when a gateway keeps a journal) fetches ranges from
//     gateways' journals one request at a time and archives them through the merger (see
//     Retransmit below).
//   - The producer goroutine reads the spool in order (page-cache hot in steady state) and
//     hands records to franz-go. Acknowledgements come back on franz-go's goroutines and
//     count against the spool segment the record came from; a segment is deleted once it is
//     sealed, fully read and fully acknowledged.
//   - A monitor goroutine raises the spool alarm (Stats.Alarm, Stats.Alarms) when records
//     wait and Kafka has acknowledged nothing for Options.AlarmAfter.
//
// Archiver.Run starts all of them and returns after they exit.
//
// # The spool is the queue
//
// Every accepted record is written to the spool before it is produced, so the spool is both
// the bounded queue between the handler and the producer and the write-ahead journal that
// survives a crash. In steady state the producer reads what the handler wrote microseconds
// earlier from the page cache; when Kafka is unreachable the spool grows (bounded by
// archiver.spool_max_bytes) and drains in order when Kafka is back. When the spool is full
// the newest records are refused, lost and counted in Stats.SpoolDropped (the alarm is up by
// then); the archive sequences route gave them are given back, so each partition's
// sequence has no hole.
//
// Segment files are named seg-<20-digit id>.spool. Each starts with an 8-byte magic
// ("TLSPOOL1") followed by entries:
//
//	u32 LE  body length
//	u32 LE  CRC-32C of the body
//	body:   u64 LE archive sequence | i32 LE partition | u8 region length | region | wire record
//
// When the spool is opened, each segment is checked entry by entry. A torn or corrupt tail
// (the process died inside a write) is truncated (Stats.SpoolTornBytes). A corrupt span
// followed by valid entries is skipped: the framing re-synchronises on the next offset
// holding a whole entry whose CRC-32C matches, and the segment is rewritten without the
// span (Stats.SpoolCorruptBytes). Each partition's entries are consecutive in the spool, so
// the gaps the span leaves in their archive sequences say which records it held; those
// Kafka does not have are lost (Stats.SpoolCorruptLost, logged).
//
// Durability on the host (archiver.spool_fsync): "none" never fsyncs (survives the process
// being killed, not the host losing power); "interval" fsyncs the segment being written
// every archiver.spool_fsync_interval while writes are pending, on a goroutine of its own,
// so writers never wait; "batch" fsyncs every bus batch (and retransmit chunk) before it
// counts as accepted, on the writer (the handler). Every policy but "none" fsyncs a segment
// when it is sealed and the directory when a segment is created. Measured on the 2-core
// VM's ext4 (BenchmarkSpoolWrite, 64 records of 150 bytes per write): none 2.1–7.2M
// records/s, interval 2.9–4.6M, batch 72–110k (one fsync 0.3–0.9 ms): "batch" bounds the
// archiver to about 64 records per fsync time at small batches.
//
// # Exactly once across a crash
//
// Every record carries an archive sequence number in a Kafka header (kafka.HeaderArchiveSeq),
// assigned by the handler per (region, partition) when the record enters the spool,
// strictly increasing. Within a partition the idempotent producer writes in order without
// gaps, so "is this spool entry already in Kafka?" is answered by comparing its sequence
// with the last one in the partition. On start the archiver:
//
//  1. checks (or creates) the topics and their partition counts;
//  2. waits until the partitions' end offsets have not moved for 3 s (a produce request of
//     the process that died may still be queued at a broker or waiting for replication;
//     a request delayed longer than that could still be produced twice — Kafka
//     transactions would close this window and are not used), then reads the tail of every
//     partition (Options.TailRecords records): the last archive
//     sequence per partition, and the records themselves;
//  3. feeds the tail records, then the spool entries not yet in Kafka, through the
//     arbiter, so that a gateway replaying already archived events sees them dropped as
//     duplicates; notes every tail record and spool entry in the region's archive index
//     (what retransmits are checked against); and notes, per gateway, the archived or
//     spooled record with the highest gateway sequence (its anchor, read from the wire
//     header);
//  4. produces the spool entries not yet in Kafka (the ones at or below the partition's
//     last sequence are skipped and counted in Stats.Skipped), then new records, whose
//     sequences continue after the highest of Kafka's and the spool's;
//  5. fetches, from each gateway that keeps a journal, what it published while the
//     archiver was dead (Retransmit).
//
// # Retransmit
//
// The bus does not queue for a disconnected subscriber, so what gateways publish while the
// archiver is dead, or what the bus drops on the way to it, reaches it only through the
// gateways' journals (shared/journal: a bounded ring of published records served on
// gateways[].journal.retransmit). The retransmitter asks for two kinds of ranges:
//
//   - Restart window, once per line after a start: (anchor, F), where F is the gateway
//     sequence of the line's first live record. A line with no record of its own in the
//     tail or the spool — its region's archive is empty (a first start, or the archiver
//     started after the gateways), or it lost every race the tail shows — asks for
//     whatever its journal holds (backfill).
//   - In-run gap: a jump in a line's gateway sequence (the bus dropped records for the
//     archiver, or the line reconnected), asked for without waiting; at most 256 wait,
//     further gaps are counted in Stats.RetransmitSkipped and left to the other lines.
//
// Whether a retransmitted event is archived already is asked of the archive, not of the
// arbiter: each region keeps an archive index (index.go) of the events it archived —
// every record written to the spool in this run, plus the partition tails and spool
// entries recovery read — keyed by what every line's copy shares (exchange, kind,
// instrument, Seq and identity flags; content keys also SeqFirst and exchange time). The
// arbiter answers "did a line deliver this lately?" and forgets after
// `arbitration.tolerance` (10 s); the index answers "is it in the archive?"
// for at least Options.IndexRecords events (default the region's largest journal plus the
// tails recovery reads; 21 to 43 bytes per event; 1M events ≈ 32 MB). Outcomes: in the index, RetransmitArchived; not in it but older than
// a partial tail or than the index reaches, RetransmitBeforeTail / RetransmitBeyondIndex
// (the archive may hold it: not archived twice); otherwise archived (RetransmitAccepted)
// and offered to the merger (OfferRetransmit, without touching the line's liveness or
// sequence tracking) so that a slower line's later copy is a duplicate. Status records
// follow the merger's status policy (RetransmitStatusDropped). Order: when a line's first
// live record arrives, the handler
// waits (up to Options.RetransmitWait, 5 s) for that line's restart window to be archived
// before it archives the record, so within a partition a line's window precedes its live
// records. Events only a later line's window holds, and in-run gap fills, land after live
// records already archived: late, out of exchange order. Archive sequences stay strictly
// increasing per partition in every case.
//
// What the tail cannot vouch for is not archived twice: when a partition's tail does not
// reach back to its log start, a retransmitted record older than the tail (an exchange id
// below the lowest one seeded for its stream, or, without one, a gateway receive time
// before the tail's first record) that the archive index does not hold is dropped and
// counted in Stats.RetransmitBeforeTail. Raise --tail-records to let retransmits reach
// further back.
//
// Gateway restarts: a gateway numbers its records from 1 again when it restarts. A first
// live sequence at or below the anchor, a jump back in the run, or a journal holding a
// different record under the anchor's number (each request first fetches the anchor
// itself to check) means a new incarnation: counted in Stats.GatewayRestarts and logged,
// and its journal is fetched from 1. What the old incarnation published after the anchor
// is gone with its journal.
//
// Limits: a request is tried Options.RetransmitAttempts times (5), pausing from
// Options.RetransmitBackoff (100 ms) doubling up to 2 s; each attempt is bounded to 30 s,
// its dial to 5 s. Records a request asked for and no journal returned (evicted from the
// ring, never journaled, the endpoint unreachable after every attempt, or shutdown) are
// counted in Stats.RetransmitLost and logged at error level: lost unless another line
// carried them. Requests given up count in Stats.RetransmitFailed. The counters are the
// tickline_archiver_retransmit_* metrics.
//
// # Topics and durability
//
// At start the archiver lists the brokers and its topics (EnsureTopicsDurable). Missing
// topics are created with the partition count the map needs, archiver.replication_factor,
// min.insync.replicas = archiver.min_insync_replicas (default replication_factor-1, at
// least 1) and retention.ms=-1. Errors (the archiver does not start): an existing topic
// with another partition count (ErrPartitionMismatch); min.insync.replicas above the
// replication factor, a replication factor above the brokers, or an existing topic whose
// min.insync.replicas exceeds its replicas or the brokers (ErrDurability: every acks=all
// produce would fail). Warnings (logged, tickline_archiver_durability_warnings, with
// topic_replicas and topic_min_insync_replicas per topic): a replication factor below
// min(brokers, 3), or an existing topic with fewer replicas or a lower
// min.insync.replicas than configured. The archiver never alters existing topics.
//
// # Record mapping
//
// Topic = archiver.topics[region]; partition = archiver.partitions[exchange] through
// Partitioner (no hashing and no fallback: a record whose exchange has no partition is
// counted in Stats.Unroutable and never produced); key = instrument; value = the wire
// record bytes unchanged; headers kafka.HeaderWireVersion, kafka.HeaderGateway, kafka.HeaderRegion,
// kafka.HeaderArchiveSeq (decimal text) and kafka.HeaderExchange (the exchange's name, so that tools
// like kcat can check the partition map without decoding values); timestamp = exchange
// time, or the gateway receive time when the exchange gives none (kafka.EventTime), in Kafka's
// millisecond resolution.
//
// # Producer settings
//
// Idempotent, acks=all, unlimited retries (franz-go's default: a record is never given up
// while the broker may still take it), compression from archiver.compression, linger from
// archiver.linger (default 5 ms, set explicitly because franz-go's default is 10 ms),
// batches up to 1 MB. At 300k records/s of ~150 bytes a partition fills a batch well
// before the linger expires; at low rates the linger bounds the added latency to 5 ms,
// which an archive does not mind, and buys larger batches that compress better.
package archiver
