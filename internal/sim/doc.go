// Package sim is the exchange simulator behind `tickline sim`: all ten exchanges' real
// WebSocket protocols (and the REST book snapshots the adapters need) on one loopback
// port, driven by a seeded market model or by recorded frames, with fault injection per
// connection. The gateway reaches it through the topology file's endpoints: every
// exchange lives under /<exchange> followed by its real path (configs/demo.yaml):
//
//	binance   ws /binance/stream (also /ws, /ws/<stream>)   REST /binance/api/v3/depth
//	coinbase  ws /coinbase/
//	kraken    ws /kraken/v2
//	okx       ws /okx/ws/v5/public
//	bybit     ws /bybit/v5/public/spot
//	gateio    ws /gateio/ws/v4/                             REST /gateio/api/v4/spot/order_book
//	upbit     ws /upbit/websocket/v1                        (binary frames)
//	bithumb   ws /bithumb/pub/ws (legacy), /bithumb/websocket/v1 (Upbit-compatible, binary)
//	                                                        REST /bithumb/public/orderbook/<SYM>
//	korbit    ws /korbit/v2/public
//	coinone   ws /coinone/
//
// # Data flow
//
//	generator (1 goroutine) ── model.burst: step each live book Rate×dt times ──► event
//	   └─ deliver: encode once per (book, stream key) into an arena ──► conn.push (queue)
//	conn writer (1 per connection) ── faults ──► raw WebSocket frames, one write per batch
//	conn reader (the HTTP handler goroutine) ── gorilla ReadMessage ──► session.handle:
//	   acks, heartbeats, subscribe (snapshot queued under the model lock, then deltas)
//
// # Files
//
//	server.go   Server: New/Run/Start/Close, HTTP routing, upgrades (and refusals),
//	            subscribe/unsubscribe, the generator and fan-out (hub = one exchange)
//	conn.go     conn: per-connection queue, reader/writer goroutines, fault application
//	options.go  Options, Fault, Counters/Stats, defaults and validation
//	model.go    model: seeded common factors per asset, FX, instruments
//	book.go     book: integer L2 book per (exchange, instrument) stepping by events; Level
//	venue.go    venue/session interfaces, registration (venues served in the order of the
//	            venue table, shared/wire/venue.go), stream keys, shared level encoders
//	num.go      append-style decimal and time formatting in each exchange's style
//	wsframe.go  server-side WebSocket frame headers
//	replay.go   recorded-frame mode (Options.Replay)
//	main.go     Main (`tickline sim` flags), ParseFault
//	metrics.go  Register (tickline_sim_* per exchange, read from the counters), Health
//	events.go   the event log (Options.Events, --events): the ground truth of bench/truth
//	<exchange>.go  one venue per exchange, all of the same shape: registration (init),
//	            premium, symbol mapping, subscribe/heartbeat handling (session), encode
//	            and snapshot
//
// # Ownership and concurrency
//
// Server.mu (the model lock) guards the model, every book, every stream's subscriber list
// and each connection's subscription list; the generator holds it for one burst, a
// subscribing reader holds it while queueing the snapshot and registering, so a snapshot
// and the next delta always chain. Lock order: Server.mu, then conn.mu. Frames queued on
// a connection are immutable and may be shared by every subscriber of the same stream.
// Run waits for the HTTP server, the generator, the metrics server (Options.Metrics) and
// every connection handler; each handler waits for its writer (and replay) goroutine.
// Close is idempotent.
//
// # Backpressure
//
// The generator never blocks: a connection's queue grows until MaxQueueBytes, then the
// connection is closed (Counters.SlowCloses), as exchanges drop slow consumers.
//
// # Fidelity
//
// Sequence fields follow each exchange's rules (Binance/Gate U/u with the REST id,
// OKX seqId/prevSeqId, Bybit u/seq, Kraken CRC32 of the top 10, Coinbase feed sequence
// on ticker/match/heartbeat), so a client applying every message to the snapshot holds
// exactly Server.Book. Korbit's frames follow the adapter's (third-party) sources and are
// unverified against live traffic; Coinone frames are always in the DEFAULT format.
package sim
