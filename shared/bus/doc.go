// Package bus is tickline's ZeroMQ PUB/SUB transport between gateways and their
// receivers (strategy, archiver, replay).
//
// It speaks ZMTP 3.0 on tcp:// and ipc:// (unix socket) endpoints, with NULL security or
// CURVE (RFC 26: Options.Curve, SubOptions.Curve), so libzmq and zmq4 peers interoperate
// in both directions. The greeting and handshake are tickline's own (shared/zmtp): every
// length a peer sends is checked against a small fixed limit before anything is
// allocated, under a handshake deadline (zmq4's handshake allocated whatever a peer
// claimed: 73 bytes crashed the process). After the handshake the bus reads and writes
// ZMTP frames itself, because zmq4's PUB socket has one writer goroutine and one
// unbounded queue for all subscribers (a stalled subscriber freezes the others and memory
// grows without bound) and its Conn costs two syscalls and about 15 allocations per
// message. With CURVE, whoever writes a subscriber's socket seals the frames just before
// writing (nonces follow wire order) and the reader opens them.
//
// # Limits
//
// Handshakes in progress are limited (Options.MaxHandshakes, the oldest evicted) apart
// from established subscribers (Options.MaxSubscribers); subscriptions per subscriber
// (MaxSubscriptions) and their length (MaxPrefixBytes) are capped, and matching costs
// one map lookup per distinct prefix length up to the topic's length, however many
// prefixes a subscriber holds. Every refusal is counted by reason (Refusal;
// PublisherStats.Refused, EndpointStats.Refused).
//
// # Messages
//
// A message is two frames: a topic, ordered general → specific and dot separated
// ("bbo.binance.BTC-USDT"), and an opaque payload (a wire record). Subscriptions are
// ZeroMQ byte prefixes of the topic; "" receives everything.
//
// # Drop and backpressure policy
//
//   - Publisher.Publish never blocks on I/O. Each subscriber has its own ring of
//     Options.QueueDepth messages; when it is full the oldest message is dropped and
//     counted for that subscriber only (SubscriberStats.Dropped, PublisherStats.Dropped).
//   - Each subscriber has its own writer goroutine that writes everything queued in one
//     write call (up to Options.WriteBatchBytes). A message that reaches an idle
//     subscriber after a pause (Options.DirectWriteGap) is written by Publish itself with
//     one non-blocking write, which saves the writer's wake-up; the writer gets whatever
//     the socket did not take, ahead of the queue. A subscriber that takes nothing for
//     Options.StallTimeout is disconnected (PublisherStats.StallDisconnects); it may
//     reconnect.
//   - Publisher memory is bounded by MaxSubscribers × QueueDepth × MaxMessageBytes in
//     the worst case. A subscriber's ring starts at 64 slots of SlotBytes and doubles,
//     only when full, up to QueueDepth, so memory follows what is actually queued (a
//     subscriber that keeps up costs 32 KiB of slots with the defaults); slots grow only
//     for messages larger than SlotBytes.
//   - Subscriber memory is bounded by (QueueBatches + 2 × endpoints) batches of
//     max(BatchBytes, largest message received) bytes, plus one ReadBufferBytes per
//     endpoint.
//   - The Subscriber reads each connection in its own goroutine into reused batches. A
//     reader that finds the handler idle with nothing waiting calls it itself (no
//     hand-off, no wake-up); otherwise its batch joins a bounded FIFO queue that Run's
//     goroutine drains, so endpoints reach the handler in arrival order under load. A
//     slow handler fills the queue, the readers stop, TCP pushes back, and the publisher
//     drops for this subscriber alone.
//   - Nobody is told about drops in-band: receivers detect them as gaps in each
//     gateway's record sequence number, with SeqTracker.
//
// # Goroutines and ownership
//
// NewPublisher starts the accept loop; each subscriber connection has a reader and a
// writer goroutine; Publisher.Close waits for all. Subscriber.Run starts one goroutine
// per endpoint (none for a single endpoint, which it reads itself), calls the handler on
// its own goroutine, and returns after all have exited. Buffers passed to Publish may be reused when it returns; Messages handed to
// the handler are valid only until it returns.
package bus
