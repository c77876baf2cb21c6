// Package archiver mirrors the arbitrated record stream of every region into Kafka and
// loses nothing: one topic per region, one partition per exchange, every exchange event
// exactly once, in the order the archiver accepted it.
//
// # Data flow and goroutines
//
//	gateways ──ZMQ──► bus.Subscriber ──► handler ──► Spool (disk) ──► producer ──► franz-go ──► Kafka
//
// Who owns what:
//
//   - The handler goroutine (bus.Subscriber.Run's) owns the per-region arbiter.Merger, the
//     per-partition archive sequence counters and the batch buffer. It never touches Kafka:
//     it reads each record's header, arbitrates, and appends the accepted records of a bus
//     batch to the spool with one write call. franz-go's Produce blocks when its buffer is
//     full; that happens on the producer goroutine only.
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
//  2. reads the tail of every partition (Options.TailRecords records): the last archive
//     sequence per partition, and the records themselves;
//  3. feeds the tail records, then the spool entries not yet in Kafka, through the
//     arbiter, so that a gateway replaying or retransmitting already archived events sees
//     them dropped as duplicates;
//  4. produces the spool entries not yet in Kafka (the ones at or below the partition's
//     last sequence are skipped and counted in Stats.Skipped), then new records, whose
//     sequences continue after the highest of Kafka's and the spool's.
//
// What the archiver cannot recover by itself is what gateways published while it was dead:
// the bus does not queue for a disconnected subscriber. Those records show up as gateway
// sequence gaps (Stats.SeqGaps) after the restart.
//
// # Record mapping
//
// Topic = archiver.topics[region]; partition = archiver.partitions[exchange] through
// Partitioner (no hashing and no fallback: a record whose exchange has no partition is
// counted in Stats.Unroutable and never produced); key = instrument; value = the wire
// record bytes unchanged; headers HeaderWireVersion, HeaderGateway, HeaderRegion,
// HeaderArchiveSeq (decimal text); timestamp = exchange time, or the gateway receive time
// when the exchange gives none (EventTime), in Kafka's millisecond resolution.
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
