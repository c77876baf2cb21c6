// Package bus is tickline's ZeroMQ PUB/SUB transport between gateways and their
// receivers (strategy, archiver, replay).
//
// It speaks ZMTP 3.0 with NULL security on tcp:// and ipc:// (unix socket) endpoints, so
// libzmq and zmq4 peers interoperate in both directions. zmq4 (github.com/go-zeromq/zmq4)
// performs the greeting and READY handshake on each connection (zmq4.Open); after that
// the bus reads and writes ZMTP frames itself, because zmq4's PUB socket has one writer
// goroutine and one unbounded queue for all subscribers (a stalled subscriber freezes the
// others and memory grows without bound) and its Conn costs two syscalls and about 15
// allocations per message.
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
//     the worst case; each subscriber preallocates QueueDepth × SlotBytes (2 MiB with
//     the defaults) on connect, and slots grow only for messages larger than SlotBytes.
//   - Subscriber memory is bounded by (QueueBatches + endpoints + 1) batches of
//     max(BatchBytes, largest message received) bytes, plus one ReadBufferBytes per
//     endpoint.
//   - The Subscriber reads each connection in its own goroutine into reused batches and
//     hands them to one handler through a bounded channel (with a single publisher, Run
//     reads it itself and calls the handler directly). A slow handler blocks the
//     readers, TCP pushes back, and the publisher drops for this subscriber alone.
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
