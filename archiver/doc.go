// Package archiver mirrors the arbitrated record stream of every region into Kafka and
// loses nothing: one topic per region, one partition per exchange, every exchange event
// exactly once, in the order the archiver accepted it.
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
// the newest records are refused and counted in Stats.SpoolDropped (the alarm is up by
// then): the bound is the one place records can be lost, and it is loud.
//
// Segment files are named seg-<20-digit id>.spool. Each starts with an 8-byte magic
// ("TLSPOOL1") followed by entries:
//
//	u32 LE  body length
//	u32 LE  CRC-32C of the body
//	body:   u64 LE archive sequence | i32 LE partition | u8 region length | region | wire record
//
// A torn or corrupt tail (the process died inside a write) is truncated when the spool is
// opened. The spool does not fsync: it survives the process being killed (the data is in
// the page cache), not the host losing power.
//
// # Exactly once across a crash
//
// Every record carries an archive sequence number in a Kafka header (HeaderArchiveSeq),
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
//     arbiter, so that a gateway replaying or retransmitting already archived events sees
//     them dropped as duplicates; and notes, per gateway, the archived or spooled record
//     with the highest gateway sequence (its anchor, read from the wire header);
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
//     tail or the spool (it lost every race the tail shows) asks for whatever its journal
//     holds; a region whose archive is empty asks for nothing (the archive is not
//     backfilled from journals).
//   - In-run gap: a jump in a line's gateway sequence (the bus dropped records for the
//     archiver, or the line reconnected), asked for without waiting; at most 256 wait,
//     further gaps are counted in Stats.RetransmitSkipped and left to the other lines.
//
// Retransmitted records go through the same merger as live ones (arbiter.Merger's
// OfferRetransmit: same arbitration and status policy, without touching the line's
// liveness or sequence tracking), so an event another line already delivered, or that the
// archive holds, is dropped. Order: when a line's first live record arrives, the handler
// waits (up to Options.RetransmitWait, 5 s) for that line's restart window to be archived
// before it archives the record, so within a partition a line's window precedes its live
// records. Events only a later line's window holds, and in-run gap fills, land after live
// records already archived: late, never out of the arbiter's window of 8192 ids per stream
// (older ones are dropped as old). Archive sequences stay strictly increasing per
// partition in every case.
//
// What the tail cannot vouch for is not archived twice: when a partition's tail does not
// reach back to its log start, a retransmitted record older than the tail (an exchange id
// below the lowest one seeded for its stream, or, without one, a gateway receive time
// before the tail's first record) is dropped and counted in Stats.RetransmitBeforeTail.
// Raise --tail-records to let retransmits reach further back.
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
// # Record mapping
//
// Topic = archiver.topics[region]; partition = archiver.partitions[exchange] through
// Partitioner (no hashing and no fallback: a record whose exchange has no partition is
// counted in Stats.Unroutable and never produced); key = instrument; value = the wire
// record bytes unchanged; headers HeaderWireVersion, HeaderGateway, HeaderRegion,
// HeaderArchiveSeq (decimal text) and HeaderExchange (the exchange's name, so that tools
// like kcat can check the partition map without decoding values); timestamp = exchange
// time, or the gateway receive time when the exchange gives none (EventTime), in Kafka's
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
