// Package config is the tickline topology: the one YAML file every tickline process (gateway,
// strategy, archiver, replay) reads. It declares the regions, the gateways with the exchanges,
// symbols and channels each one carries and the endpoint it publishes on, the bus tuning, the
// strategy parameters, the archiver's Kafka layout and the replay defaults.
//
// Loading is strict: unknown keys, duplicate keys and values of the wrong type are errors,
// defaults live in one place (defaults.go, documented key by key in configs/README.md), and
// Validate checks everything that can be checked without the network, naming each bad field
// by its YAML path:
//
//	gateways[1].exchanges.binance.symbols.BTCUSDT: unknown channel "bboo" (line 23)
//
// A *Topology returned by Load or Parse is valid and is read-only from then on: it may be
// shared between goroutines without locking.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tickline/tickline/shared/wire"
)

// Version is the only schema version this package reads (the top-level `version` key).
const Version = 1

// Topology is the whole file.
type Topology struct {
	Version int      `yaml:"version"`
	Regions []Region `yaml:"regions"`
	Bus     Bus      `yaml:"bus"`
	// Arbitration tunes line arbitration in every receiver (strategy, archiver, tap).
	Arbitration Arbitration `yaml:"arbitration"`
	Gateways    []Gateway   `yaml:"gateways"`
	Strategy    Strategy    `yaml:"strategy"`
	Archiver    Archiver    `yaml:"archiver"`
	Replay      Replay      `yaml:"replay"`
}

// Region is a place gateways run in. Each region with gateways has its own Kafka topic; the
// gateways of one region are redundant lines for each other.
type Region struct {
	// Name is unique, [a-z0-9-]+.
	Name string `yaml:"name"`
}

// Arbitration tunes the receivers' line arbitration (shared/arbiter).
type Arbitration struct {
	// Tolerance is how far behind a line may be and still fill a hole, and how long a
	// copy is recognized, on the receiver's clock. (0, 10m].
	Tolerance time.Duration `yaml:"tolerance"`
	// MaxKeys bounds the event keys remembered across all streams (24 bytes each).
	// 1024..1<<26.
	MaxKeys int `yaml:"max_keys"`
}

// Bus tunes the ZeroMQ publisher/subscriber path shared by all processes.
type Bus struct {
	// QueueDepth is the number of records queued per subscriber; beyond it the oldest are
	// dropped (and show up as gateway-sequence gaps). 1..1<<24.
	QueueDepth int `yaml:"queue_depth"`
	// StallTimeout disconnects a subscriber that has not accepted a write for this long.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// WriteDeadline bounds one write to a subscriber's connection; <= StallTimeout.
	WriteDeadline time.Duration `yaml:"write_deadline"`
	// MaxMessageBytes is the largest message a subscriber accepts. 1 KiB..1 GiB.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// LowLatency, when set, trades CPU for latency on dedicated cores; nil = off.
	LowLatency *LowLatency `yaml:"low_latency,omitempty"`
}

// LowLatency is the bus's mode for dedicated cores: receivers and publisher writers spin
// on their sockets instead of parking, their goroutines keep their OS threads, and the
// process's garbage collector runs only near a memory limit. Every process that reads
// the topology (gateway, strategy, archiver, tap, replay) applies it.
type LowLatency struct {
	// Spin is how long a connection reader (and a publisher's writer) polls without
	// sleeping after its last data before it parks in the poller. (0, 100ms].
	Spin time.Duration `yaml:"spin"`
	// GCPercent is the process's GOGC: -1 = off (collection only near MemoryLimit), or
	// 25..10000. 0 = the default, -1.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimit is the process's GOMEMLIMIT in bytes, 64 MiB..1 TiB; 0 = the default,
	// 1 GiB.
	MemoryLimit int64 `yaml:"memory_limit"`
}

// Gateway is one gateway process: the exchange feeds it carries and where it publishes them.
type Gateway struct {
	// ID names the gateway in logs, metrics and Strategy.Subscribe; unique, [a-z0-9-]+.
	ID string `yaml:"id"`
	// Num is stamped on every record the gateway publishes; unique, 1..65535.
	Num uint16 `yaml:"num"`
	// Region must name one of Topology.Regions.
	Region string `yaml:"region"`
	// Publish is the endpoint subscribers dial: tcp://host:port or ipc:///abs/path. Unique in
	// the file; a tcp host must be a concrete address (not 0.0.0.0, ::, * or empty).
	Publish string `yaml:"publish"`
	// Bind is the endpoint the gateway listens on, when it differs from Publish (NAT, a
	// cloud host binding tcp://0.0.0.0:port). Empty means Publish.
	Bind string `yaml:"bind,omitempty"`
	// Metrics is the host:port the gateway serves /metrics and /healthz on; empty = none.
	Metrics string `yaml:"metrics,omitempty"`
	// Journal keeps what the gateway published for retransmits; nil = no journal.
	Journal *Journal `yaml:"journal,omitempty"`
	// Curve secures the bus endpoint with CURVE; nil = NULL (no security). See
	// GatewayCurve and SECURITY.md.
	Curve *GatewayCurve `yaml:"curve,omitempty"`
	// Feeds maps an exchange name (wire.ParseExchange) to its connection; at least one.
	Feeds map[string]*Feed `yaml:"exchanges"`
}

// Journal is a gateway's bounded record of what it published.
type Journal struct {
	// Records is the number of records kept (ring). 1..1<<26.
	Records int `yaml:"records"`
	// Retransmit is the endpoint the gateway answers retransmit requests on (required).
	Retransmit string `yaml:"retransmit"`
}

// Feed is one gateway's connection to one exchange.
type Feed struct {
	// WSURL is the exchange's WebSocket endpoint (ws:// or wss://). The adapter adds its
	// own query (e.g. Binance ?streams=...).
	WSURL string `yaml:"ws_url"`
	// RESTURL is the base (scheme://host[:port][/prefix]) for REST book snapshots; the
	// adapter appends the exchange's documented path (e.g. /api/v3/depth). Required where
	// the exchange's book needs a REST snapshot (book rule BookRESTSnapshot in the venue
	// table, shared/wire/venue.go: binance, gateio) and a book channel is subscribed.
	RESTURL string `yaml:"rest_url,omitempty"`
	// Symbols maps the exchange's own symbol (BTCUSDT, BTC-USD, BTC/USD, KRW-BTC, ...) to the
	// channels wanted for it. At least one symbol; channels non-empty, no duplicates.
	Symbols SymbolMap `yaml:"symbols"`
	// BookDepth is the number of levels per side to subscribe/keep; 0 = the adapter's
	// default for the exchange. 0..5000.
	BookDepth int `yaml:"book_depth,omitempty"`
	// StaleAfter marks the feed stale when nothing arrives on a live socket for this long.
	StaleAfter time.Duration `yaml:"stale_after,omitempty"`
}

// Channel is a kind of market data a feed subscribes to.
type Channel string

// Channels.
const (
	ChannelBBO    Channel = "bbo"    // best bid and offer
	ChannelTrade  Channel = "trade"  // trades
	ChannelBook   Channel = "book"   // order book (snapshot + deltas, or snapshots)
	ChannelTicker Channel = "ticker" // last price without bid/ask
)

// Valid reports whether c is one of the channel constants.
func (c Channel) Valid() bool {
	switch c {
	case ChannelBBO, ChannelTrade, ChannelBook, ChannelTicker:
		return true
	}
	return false
}

// Strategy configures the strategy process.
type Strategy struct {
	// Subscribe lists the gateway ids the strategy reads; empty in the file means all.
	Subscribe []string `yaml:"subscribe"`
	// ThresholdBps is the minimum edge net of fees, in basis points, to emit a signal.
	// Required, (0, 10000].
	ThresholdBps float64 `yaml:"threshold_bps"`
	// MaxNotional caps one signal's size, in USD (USDT) equivalent. Required, (0, 1e9].
	MaxNotional float64 `yaml:"max_notional"`
	// Staleness ignores quotes older than this (exchange time vs. receive time).
	Staleness time.Duration `yaml:"staleness"`
	// FeesBps maps exchange name to taker fee in basis points, [0, 1000). Every exchange a
	// subscribed gateway carries needs one.
	FeesBps map[string]float64 `yaml:"fees_bps"`
	// FX converts KRW prices; required when a KRW exchange (quote KRW in the venue table,
	// shared/wire/venue.go: upbit, bithumb, korbit, coinone) is subscribed.
	FX FX `yaml:"fx"`
	// SignalPublish is the endpoint signals are published on; empty = none.
	SignalPublish string `yaml:"signal_publish,omitempty"`
	// Output writes signals as JSON lines to this file; "-" = stdout, empty = none.
	Output string `yaml:"output,omitempty"`
	// Metrics is the host:port for /metrics and /healthz; empty = none.
	Metrics string `yaml:"metrics,omitempty"`
	// Curve is the strategy's CURVE keypair, required when its gateways have curve
	// sections; nil = NULL.
	Curve *ReceiverCurve `yaml:"curve,omitempty"`
}

// FX is the KRW per USD(T) rate source: exactly one of Market or StaticRate.
type FX struct {
	// Market takes the rate from a live market's mid price.
	Market *FXMarket `yaml:"market,omitempty"`
	// StaticRate is a fixed KRW per USDT rate; > 0 when used.
	StaticRate float64 `yaml:"static_rate,omitempty"`
}

// FXMarket names the market the FX rate is read from; it must be subscribed by a gateway
// the strategy reads.
type FXMarket struct {
	Exchange string `yaml:"exchange"`
	Symbol   string `yaml:"symbol"`
}

// Archiver configures the Kafka archiver. Archiving is per region: the archiver arbitrates
// the lines of each region's gateways and writes that region's stream to Topics[region],
// partition Partitions[exchange]. An exchange carried in two regions is archived in both
// regions' topics.
type Archiver struct {
	// Seeds are Kafka bootstrap brokers, host:port; at least one. A YAML list or one
	// comma-separated string (seeds: ${KAFKA_SEEDS}).
	Seeds List `yaml:"seeds"`
	// Topics maps region name to topic; every region that has a gateway needs one; unique.
	Topics map[string]string `yaml:"topics"`
	// Partitions maps exchange name to partition (>= 0). Every exchange carried in a region
	// needs one, and no two exchanges of one region may share a partition.
	Partitions map[string]int32 `yaml:"partitions"`
	// PartitionCount is the partition count each topic must have; 0 = per topic, one more
	// than the highest partition of that region's exchanges (see Topology.PartitionCount).
	PartitionCount int32 `yaml:"partition_count"`
	// ReplicationFactor is used when the archiver creates a topic. 1..32767. Below what the
	// cluster offers (fewer than min(brokers, 3)) is a warning at start; above the broker
	// count an error.
	ReplicationFactor int16 `yaml:"replication_factor"`
	// MinInsyncReplicas is the topic's min.insync.replicas, set when the archiver creates a
	// topic and checked on an existing one at start: with acks=all a record is acknowledged
	// only once this many replicas hold it, so a leader loss cannot lose it. 0 = default,
	// ReplicationFactor-1 with a floor of 1 (see MinISR). 0..ReplicationFactor.
	MinInsyncReplicas int16 `yaml:"min_insync_replicas"`
	// Compression is the producer codec: lz4, zstd, snappy, gzip or none.
	Compression string `yaml:"compression"`
	// Linger is the producer's batching delay (franz-go's default is 10ms: set explicitly).
	Linger time.Duration `yaml:"linger"`
	// SpoolDir holds records while brokers are unreachable.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool. 1 MiB..1 TiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// SpoolFsync is when the spool's writes are forced to disk: "none" (never: the spool
	// survives the process being killed, not the host losing power), "interval" (at most
	// SpoolFsyncInterval after a write: a power loss loses at most that much) or "batch"
	// (before each accepted batch counts as archived: nothing accepted is lost).
	SpoolFsync string `yaml:"spool_fsync"`
	// SpoolFsyncInterval is the fsync period of SpoolFsync "interval". (0, 10s].
	SpoolFsyncInterval time.Duration `yaml:"spool_fsync_interval"`
	// TLS secures the connections to the brokers (archiver and replay alike).
	TLS KafkaTLS `yaml:"tls"`
	// SASL authenticates to the brokers (archiver and replay alike).
	SASL KafkaSASL `yaml:"sasl"`
	// Metrics is the host:port for /metrics and /healthz; empty = none.
	Metrics string `yaml:"metrics,omitempty"`
	// Curve is the archiver's CURVE keypair, required when the gateways have curve
	// sections; nil = NULL.
	Curve *ReceiverCurve `yaml:"curve,omitempty"`
}

// KafkaTLS is TLS to the brokers. The brokers' certificates are always verified.
type KafkaTLS struct {
	// Enabled turns TLS on (the brokers' listener must be SSL or SASL_SSL).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs that sign the brokers' certificates; empty = the
	// system's roots.
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile and KeyFile are this client's PEM certificate and key, for brokers that
	// authenticate clients by certificate (mutual TLS); both or neither.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// ServerName overrides the name the brokers' certificates are checked against
	// (default: the host of each broker address).
	ServerName string `yaml:"server_name,omitempty"`
}

// KafkaSASL is SASL authentication to the brokers.
type KafkaSASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty = no SASL. PLAIN sends the
	// password as it is, so it requires TLS.
	Mechanism string `yaml:"mechanism,omitempty"`
	// Username is required with a mechanism.
	Username string `yaml:"username,omitempty"`
	// Password, or PasswordFile (whose content, without a trailing newline, is the
	// password): exactly one with a mechanism. Prefer the file, readable by the service only.
	Password     string `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// Replay holds the replay tool's defaults (its flags override them).
type Replay struct {
	// Speed is "max" (as fast as possible) or "<factor>x" ("1x", "10x", "0.5x"); see
	// ParseSpeed.
	Speed string `yaml:"speed"`
	// Output is zmq, jsonl, csv or parquet.
	Output string `yaml:"output"`
	// Publish is the endpoint for output zmq (required then).
	Publish string `yaml:"publish,omitempty"`
	// Path is the file for jsonl/csv/parquet output; "-" = stdout.
	Path string `yaml:"path"`
	// Metrics is the host:port for /metrics and /healthz while a replay runs; empty = none.
	Metrics string `yaml:"metrics,omitempty"`
}

// Load reads the file at path and returns its topology, decoded strictly, with defaults
// applied and validated. Problems in the file match ErrInvalid and name the field.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("topology %s: %w", path, err)
	}
	return t, nil
}

// Parse decodes a topology from YAML, strictly (unknown keys, duplicate keys and wrong types
// are errors), applies the defaults and validates it. ${NAME} and ${NAME:-default} in
// values are replaced from the environment first (expandEnv). Every problem found is reported (one
// *FieldError each, joined), with its YAML path and line.
func Parse(data []byte) (*Topology, error) {
	data, envErrs := expandEnv(data)
	if len(envErrs) > 0 {
		return nil, joinErrs(envErrs)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxErr(err)
	}
	if root.Kind == 0 {
		return nil, fieldErr("", ErrSyntax, "empty topology file")
	}
	idx := indexNodes(&root)
	scalarErrs := checkScalars(&root)

	t := Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(t); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, joinErrs(append(idx.decodeErrors(te.Errors), scalarErrs...))
		}
		return nil, syntaxErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fieldErr("", ErrSyntax, "more than one YAML document")
	}
	if len(scalarErrs) > 0 {
		return nil, joinErrs(scalarErrs) // validating truncated or defaulted values would mislead
	}
	applyDefaults(t)
	errs := t.validate()
	for _, e := range errs {
		e.Line = idx.lines[e.Path]
	}
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	return t, nil
}

func syntaxErr(err error) error {
	return fieldErr("", ErrSyntax, "%s", err.Error())
}

// Validate checks the whole topology and returns nil or every problem found, one
// *FieldError per problem (joined), each naming its field by YAML path. It does not apply
// defaults: a Topology built in code should start from Defaults().
func (t *Topology) Validate() error { return joinErrs(t.validate()) }

// Gateway returns the gateway with the given id.
func (t *Topology) Gateway(id string) (*Gateway, error) {
	for i := range t.Gateways {
		if t.Gateways[i].ID == id {
			return &t.Gateways[i], nil
		}
	}
	return nil, fmt.Errorf("gateway %q: %w", id, ErrUnknownName)
}

// Region returns the region with the given name.
func (t *Topology) Region(name string) (*Region, error) {
	for i := range t.Regions {
		if t.Regions[i].Name == name {
			return &t.Regions[i], nil
		}
	}
	return nil, fmt.Errorf("region %q: %w", name, ErrUnknownName)
}

// GatewaysIn returns the gateways of a region, in file order: the redundant lines whose
// streams the archiver arbitrates into the region's topic.
func (t *Topology) GatewaysIn(region string) []*Gateway {
	var out []*Gateway
	for i := range t.Gateways {
		if t.Gateways[i].Region == region {
			out = append(out, &t.Gateways[i])
		}
	}
	return out
}

// RegionExchanges returns the exchanges carried by any gateway of a region, in wire id order.
func (t *Topology) RegionExchanges(region string) []wire.Exchange {
	var out []wire.Exchange
	for _, g := range t.GatewaysIn(region) {
		for _, ex := range g.Exchanges() {
			if !slices.Contains(out, ex) {
				out = append(out, ex)
			}
		}
	}
	slices.Sort(out)
	return out
}

// PartitionCount returns the number of partitions a region's topic must have:
// Archiver.PartitionCount if set, else one more than the highest partition of the region's
// exchanges (0 for a region without gateways).
func (t *Topology) PartitionCount(region string) int32 {
	if t.Archiver.PartitionCount > 0 {
		return t.Archiver.PartitionCount
	}
	var n int32
	for _, ex := range t.RegionExchanges(region) {
		if p, ok := t.Archiver.Partitions[ex.String()]; ok && p+1 > n {
			n = p + 1
		}
	}
	return n
}

// Spool fsync policies (archiver.spool_fsync).
const (
	SpoolFsyncNone     = "none"     // never fsync: survives a killed process, not a power loss
	SpoolFsyncInterval = "interval" // fsync every spool_fsync_interval while writes are pending
	SpoolFsyncBatch    = "batch"    // fsync each batch before it counts as accepted
)

// MinISR returns the min.insync.replicas the archiver's topics need: MinInsyncReplicas, or
// when 0, ReplicationFactor-1 with a floor of 1.
func (a *Archiver) MinISR() int16 {
	if a.MinInsyncReplicas > 0 {
		return a.MinInsyncReplicas
	}
	return max(a.ReplicationFactor-1, 1)
}

// Partition returns the Kafka partition of an exchange's records.
func (a *Archiver) Partition(ex wire.Exchange) (int32, bool) {
	p, ok := a.Partitions[ex.String()]
	return p, ok
}

// Exchanges returns the exchanges the gateway carries, in wire id order. Names that are not
// exchanges (only possible in an unvalidated Topology) are skipped.
func (g *Gateway) Exchanges() []wire.Exchange {
	out := make([]wire.Exchange, 0, len(g.Feeds))
	for name := range g.Feeds {
		if ex, err := wire.ParseExchange(name); err == nil {
			out = append(out, ex)
		}
	}
	slices.Sort(out)
	return out
}

// Feed returns the gateway's feed for an exchange.
func (g *Gateway) Feed(ex wire.Exchange) (*Feed, bool) {
	f, ok := g.Feeds[ex.String()]
	return f, ok && f != nil
}

// BindEndpoint returns the endpoint the gateway listens on: Bind, or Publish when Bind is empty.
func (g *Gateway) BindEndpoint() string {
	if g.Bind != "" {
		return g.Bind
	}
	return g.Publish
}
