// Package zmtp is tickline's own ZMTP 3.x connection handshake (RFC 23 / RFC 37) with the
// NULL and CURVE (RFC 26, CurveZMQ) security mechanisms, and the CURVE message codec
// used after it.
//
// It exists because zmq4 v0.17.0 reads the handshake with make([]byte, size) of whatever
// size the peer claims: one 73-byte message (a greeting plus a command frame claiming
// 2^62 bytes) panics the process, and 2^40 is a fatal out-of-memory. Here every length
// read from the peer is checked against a small fixed limit (Limits) before anything is
// allocated, the handshake reads exactly the bytes it needs (no read-ahead into the
// traffic that follows), and the caller bounds the whole exchange with a deadline on the
// connection.
//
// # Scope
//
// Handshake performs the greeting and the mechanism's command exchange for the socket
// types the bus uses (PUB, SUB; XPUB and XSUB peers are accepted) and those of a byte
// stream (DEALER client, ROUTER server: the journal's retransmit endpoint) and returns a
// Session. After it, the bus frames messages itself (see shared/bus); with CURVE each
// frame travels as a MESSAGE box that Session.SealFrames produces and Session.OpenReader
// undoes. Conn wraps both for a byte stream: io.Reader and io.Writer over the session.
//
// # Concurrency
//
// Handshake runs on one goroutine. A Session's sending side (Seal) and receiving side
// (the reader from OpenReader) each have one owner at a time: the caller serialises
// Seal calls (the nonce must grow in the order bytes reach the wire), and reads the
// receiving side from one goroutine.
package zmtp
