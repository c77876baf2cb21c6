package kafka

import "github.com/tickline/tickline/shared/wire"

// The archive record contract, shared by the archiver (which writes it) and replay (which
// reads it): one Kafka record per wire record, in the region's topic and its exchange's
// partition; key = the instrument (wire.InstrumentOf); value = the wire record unchanged;
// timestamp = EventTime in ms; and these headers.

// Kafka record header keys written on every archived record. Values are decimal text
// (version, gateway number, archive sequence) or names (region, exchange).
const (
	HeaderWireVersion = "tickline.wire_version" // wire.Version of the value
	HeaderGateway     = "tickline.gateway"      // the gateway number (wire GatewayID) that delivered the record first
	HeaderRegion      = "tickline.region"       // the region whose lines were arbitrated
	HeaderArchiveSeq  = "tickline.archive_seq"  // per-partition archive sequence, from 1, strictly increasing
	HeaderExchange    = "tickline.exchange"     // the exchange's name as in archiver.partitions ("binance"), for tools that do not decode the value
)

// EventTime returns the time a record is filed under, in ns since the Unix epoch: the
// exchange time, or the gateway receive time when the exchange gives none. The Kafka record
// timestamp is this value in milliseconds; replay merges by it.
func EventTime(h *wire.Header) int64 {
	if h.TsExchange > 0 {
		return h.TsExchange
	}
	return h.TsRecv
}
