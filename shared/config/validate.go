package config

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tickline/tickline/shared/wire"
)

// Limits beyond which a value is a typo rather than a choice.
const (
	maxQueueDepth      = 1 << 24
	minMessageBytes    = 1 << 10
	maxMessageBytes    = 1 << 30
	maxJournalRecords  = 1 << 26
	maxBookDepth       = 5000
	maxThresholdBps    = 10000 // 100 %
	maxFeeBps          = 1000  // 10 %, exclusive
	maxNotional        = 1e9
	maxStaticRate      = 1e6
	maxPartition       = 99999
	maxPartitionCount  = 100000
	maxLinger          = 10 * time.Second
	maxFsyncInterval   = 10 * time.Second
	maxTimeout         = 10 * time.Minute
	maxStale           = time.Hour
	minSpoolBytes      = 1 << 20
	maxSpoolBytes      = 1 << 40
	maxIDLen           = 63
	maxKafkaTopicChars = 249
)

var (
	reName  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	reTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// symbolStyles are the venue table's symbol styles (shared/wire/venue.go), compiled: a
// symbol in another exchange's style (BTC-USDT on binance) is the most common copy-paste
// mistake.
var symbolStyles = compileSymbolStyles()

func compileSymbolStyles() map[wire.Exchange]*regexp.Regexp {
	out := make(map[wire.Exchange]*regexp.Regexp)
	for _, v := range wire.Venues() {
		out[v.Exchange] = regexp.MustCompile(v.Symbol)
	}
	return out
}

var compressions = []string{"lz4", "zstd", "snappy", "gzip", "none"}

// spoolFsyncs are the archiver.spool_fsync policies.
var spoolFsyncs = []string{SpoolFsyncNone, SpoolFsyncInterval, SpoolFsyncBatch}

// replayOutputs are the replay.output values: zmq publishes on replay.publish, the others
// write to replay.path. archiver/replay opens them (its outputs table), and a test there
// fails when the two lists differ.
var replayOutputs = []string{"zmq", "jsonl", "csv", "parquet"}

// ReplayOutputs returns the replay.output values Validate accepts.
func ReplayOutputs() []string { return slices.Clone(replayOutputs) }

// validator collects every problem instead of stopping at the first.
type validator struct {
	errs []*FieldError
	// listen maps "network|address" of everything that listens at a concrete address
	// (publish endpoints, retransmit endpoints, metrics) to the path that claimed it; tcp
	// addresses in canonical form (canonicalAddr: localhost is 127.0.0.1).
	listen map[string]string
}

func (v *validator) add(path string, category error, format string, args ...any) {
	v.errs = append(v.errs, fieldErr(path, category, format, args...))
}

func (t *Topology) validate() []*FieldError {
	v := &validator{listen: make(map[string]string)}

	switch t.Version {
	case Version:
	case 0:
		v.add("version", ErrMissing, "required: version: %d", Version)
	default:
		v.add("version", ErrRange, "unsupported version %d (this build reads %d)", t.Version, Version)
	}

	regions := v.regions(t.Regions)
	v.bus(&t.Bus)
	v.gateways(t.Gateways, regions)
	v.strategy(t)
	v.archiver(t, regions)
	v.replay(&t.Replay)
	v.curve(t)
	return v.errs
}

func (v *validator) regions(rs []Region) map[string]bool {
	seen := make(map[string]bool, len(rs))
	if len(rs) == 0 {
		v.add("regions", ErrMissing, "at least one region is required")
	}
	for i, r := range rs {
		p := fmt.Sprintf("regions[%d].name", i)
		if !v.name(p, r.Name) {
			continue
		}
		if seen[r.Name] {
			v.add(p, ErrDuplicate, "region %q declared twice", r.Name)
		}
		seen[r.Name] = true
	}
	return seen
}

// name checks an id/region name: required, [a-z0-9-]+, at most 63 bytes.
func (v *validator) name(path, s string) bool {
	switch {
	case s == "":
		v.add(path, ErrMissing, "required")
	case len(s) > maxIDLen || !reName.MatchString(s):
		v.add(path, ErrFormat, "%q: want lower-case letters, digits and '-', starting with a letter or digit, at most %d bytes", s, maxIDLen)
	default:
		return true
	}
	return false
}

func (v *validator) bus(b *Bus) {
	v.intRange("bus.queue_depth", int64(b.QueueDepth), 1, maxQueueDepth)
	v.durRange("bus.stall_timeout", b.StallTimeout, maxTimeout)
	if v.durRange("bus.write_deadline", b.WriteDeadline, maxTimeout) && b.StallTimeout > 0 && b.WriteDeadline > b.StallTimeout {
		v.add("bus.write_deadline", ErrConflict, "%s is longer than bus.stall_timeout %s", b.WriteDeadline, b.StallTimeout)
	}
	v.intRange("bus.max_message_bytes", int64(b.MaxMessageBytes), minMessageBytes, maxMessageBytes)
	if ll := b.LowLatency; ll != nil {
		v.durRange("bus.low_latency.spin", ll.Spin, 100*time.Millisecond)
		if ll.GCPercent != -1 {
			v.intRange("bus.low_latency.gc_percent", int64(ll.GCPercent), 25, 10000)
		}
		v.intRange("bus.low_latency.memory_limit", ll.MemoryLimit, 64<<20, 1<<40)
	}
}

func (v *validator) gateways(gs []Gateway, regions map[string]bool) {
	if len(gs) == 0 {
		v.add("gateways", ErrMissing, "at least one gateway is required")
	}
	ids := make(map[string]int)
	nums := make(map[uint16]int)
	for i := range gs {
		g := &gs[i]
		p := fmt.Sprintf("gateways[%d]", i)
		if v.name(p+".id", g.ID) {
			if j, dup := ids[g.ID]; dup {
				v.add(p+".id", ErrDuplicate, "gateway id %q already used by gateways[%d]", g.ID, j)
			} else {
				ids[g.ID] = i
			}
		}
		if g.Num == 0 {
			v.add(p+".num", ErrMissing, "required: 1..65535, unique")
		} else if j, dup := nums[g.Num]; dup {
			v.add(p+".num", ErrDuplicate, "gateway num %d already used by gateways[%d]", g.Num, j)
		} else {
			nums[g.Num] = i
		}
		switch {
		case g.Region == "":
			v.add(p+".region", ErrMissing, "required")
		case !regions[g.Region]:
			v.add(p+".region", ErrUnknownName, "unknown region %q", g.Region)
		}
		v.endpoint(p+".publish", g.Publish, true)
		if g.Bind != "" {
			v.endpoint(p+".bind", g.Bind, false)
		}
		v.listenAddr(p+".metrics", g.Metrics)
		if j := g.Journal; j != nil {
			v.intRange(p+".journal.records", int64(j.Records), 1, maxJournalRecords)
			v.endpoint(p+".journal.retransmit", j.Retransmit, true)
		}
		if len(g.Feeds) == 0 {
			v.add(p+".exchanges", ErrMissing, "at least one exchange is required")
		}
		for _, name := range sortedKeys(g.Feeds) {
			v.feed(p+".exchanges."+name, name, g.Feeds[name])
		}
	}
}

func (v *validator) feed(p, name string, f *Feed) {
	ex, err := wire.ParseExchange(name)
	if err != nil {
		v.add(p, ErrUnknownName, "unknown exchange %q (known: %s)", name, wire.ExchangeNames())
		return
	}
	if f == nil {
		v.add(p, ErrMissing, "empty: ws_url and symbols are required")
		return
	}
	if f.WSURL == "" {
		v.add(p+".ws_url", ErrMissing, "required")
	} else if err := checkURL(f.WSURL, "ws", "wss"); err != nil {
		v.add(p+".ws_url", ErrFormat, "%v", err)
	}
	if f.RESTURL != "" {
		if err := checkURL(f.RESTURL, "http", "https"); err != nil {
			v.add(p+".rest_url", ErrFormat, "%v", err)
		}
	}
	if len(f.Symbols) == 0 {
		v.add(p+".symbols", ErrMissing, "at least one symbol is required")
	}
	book := false
	venue, _ := ex.Venue()
	for _, sym := range sortedKeys(f.Symbols) {
		sp := p + ".symbols." + sym
		if !symbolStyles[ex].MatchString(sym) {
			v.add(sp, ErrFormat, "symbol %q is not in %s's own style (e.g. %s)", sym, name, venue.SymbolExample)
		}
		chans := f.Symbols[sym]
		if len(chans) == 0 {
			v.add(sp, ErrMissing, "no channels (want some of bbo, trade, book, ticker)")
		}
		for i, c := range chans {
			switch {
			case !c.Valid():
				v.add(sp, ErrUnknownName, "unknown channel %q (want bbo, trade, book or ticker)", string(c))
			case slices.Contains(chans[:i], c):
				v.add(sp, ErrDuplicate, "channel %q listed twice", string(c))
			}
			book = book || c == ChannelBook
		}
	}
	if book && f.RESTURL == "" && venue.NeedsRESTSnapshot() {
		v.add(p+".rest_url", ErrMissing, "required: %s books start from a REST snapshot and a book channel is subscribed", name)
	}
	v.intRange(p+".book_depth", int64(f.BookDepth), 0, maxBookDepth)
	v.durRange(p+".stale_after", f.StaleAfter, maxStale)
}

func (v *validator) strategy(t *Topology) {
	s := &t.Strategy
	carried, subscribed := v.strategySubscribe(t)
	v.floatRange("strategy.threshold_bps", s.ThresholdBps, false, maxThresholdBps, true)
	v.floatRange("strategy.max_notional", s.MaxNotional, false, maxNotional, true)
	v.durRange("strategy.staleness", s.Staleness, maxStale)
	v.durRange("arbitration.tolerance", t.Arbitration.Tolerance, 10*time.Minute)
	if k := t.Arbitration.MaxKeys; k < 1024 || k > 1<<26 {
		v.add("arbitration.max_keys", ErrRange, "%d: want 1024..%d", k, 1<<26)
	}
	v.fees(s, carried)
	v.fx(&s.FX, carried, subscribed)
	if s.SignalPublish != "" {
		v.endpoint("strategy.signal_publish", s.SignalPublish, true)
	}
	v.listenAddr("strategy.metrics", s.Metrics)
}

// strategySubscribe checks strategy.subscribe and returns the exchanges the strategy
// sees, each with a gateway carrying it (for messages), and the subscribed gateways.
func (v *validator) strategySubscribe(t *Topology) (carried map[wire.Exchange]string, subscribed []*Gateway) {
	s := &t.Strategy
	carried = make(map[wire.Exchange]string)
	for i, id := range s.Subscribe {
		p := fmt.Sprintf("strategy.subscribe[%d]", i)
		g, err := t.Gateway(id)
		switch {
		case err != nil:
			v.add(p, ErrUnknownName, "unknown gateway %q", id)
			continue
		case slices.Contains(s.Subscribe[:i], id):
			v.add(p, ErrDuplicate, "gateway %q listed twice", id)
			continue
		}
		subscribed = append(subscribed, g)
		for _, ex := range g.Exchanges() {
			if _, ok := carried[ex]; !ok {
				carried[ex] = g.ID
			}
		}
	}
	return carried, subscribed
}

// fees checks strategy.fees_bps: known exchanges, a fee for every carried one.
func (v *validator) fees(s *Strategy, carried map[wire.Exchange]string) {
	for _, name := range sortedKeys(s.FeesBps) {
		p := "strategy.fees_bps." + name
		if _, err := wire.ParseExchange(name); err != nil {
			v.add(p, ErrUnknownName, "unknown exchange %q (known: %s)", name, wire.ExchangeNames())
			continue
		}
		v.floatRange(p, s.FeesBps[name], true, maxFeeBps, false)
	}
	for _, ex := range wire.Exchanges() {
		if gw, ok := carried[ex]; ok {
			if _, ok := s.FeesBps[ex.String()]; !ok {
				v.add("strategy.fees_bps", ErrMissing, "no fee for exchange %q (carried by gateway %s)", ex, gw)
			}
		}
	}
}

// fx checks strategy.fx: one source, a market some subscribed gateway carries, and a rate
// at all when an exchange quoting in another currency (the venue table's Quote) is seen.
func (v *validator) fx(fx *FX, carried map[wire.Exchange]string, subscribed []*Gateway) {
	if fx.Market != nil && fx.StaticRate != 0 {
		v.add("strategy.fx", ErrConflict, "set exactly one of market and static_rate")
	}
	if fx.StaticRate != 0 {
		v.floatRange("strategy.fx.static_rate", fx.StaticRate, false, maxStaticRate, true)
	}
	if m := fx.Market; m != nil {
		v.fxMarket(m, subscribed)
	}
	if fx.Market == nil && fx.StaticRate == 0 {
		for _, venue := range wire.Venues() {
			if _, ok := carried[venue.Exchange]; ok && venue.Quote != "" {
				v.add("strategy.fx", ErrMissing, "required: %s exchange %s is subscribed; set fx.market or fx.static_rate", venue.Quote, venue.Name)
				break
			}
		}
	}
}

// fxMarket checks strategy.fx.market: a known exchange and a symbol that a subscribed
// gateway carries.
func (v *validator) fxMarket(m *FXMarket, subscribed []*Gateway) {
	ex, err := wire.ParseExchange(m.Exchange)
	switch {
	case m.Exchange == "":
		v.add("strategy.fx.market.exchange", ErrMissing, "required")
	case err != nil:
		v.add("strategy.fx.market.exchange", ErrUnknownName, "unknown exchange %q (known: %s)", m.Exchange, wire.ExchangeNames())
	case m.Symbol == "":
		v.add("strategy.fx.market.symbol", ErrMissing, "required")
	default:
		found := false
		for _, g := range subscribed {
			if f, ok := g.Feed(ex); ok {
				_, has := f.Symbols[m.Symbol]
				found = found || has
			}
		}
		if !found {
			v.add("strategy.fx.market.symbol", ErrUnknownName, "%s %q is not subscribed by any gateway in strategy.subscribe", m.Exchange, m.Symbol)
		}
	}
}

// kafkaSecurity checks archiver.tls and archiver.sasl (files are read when a client is
// made: shared/kafka).
func (v *validator) kafkaSecurity(a *Archiver) {
	t := a.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
		v.add("archiver.tls.enabled", ErrRange, "tls settings given but tls is not enabled")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("archiver.tls.cert_file", ErrMissing, "cert_file and key_file go together (mutual TLS)")
	}
	s := a.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			v.add("archiver.sasl.mechanism", ErrMissing, "sasl credentials given without a mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
		}
		return
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		v.add("archiver.sasl.mechanism", ErrUnknownName, "unknown mechanism %q (known: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", s.Mechanism)
	}
	if s.Username == "" {
		v.add("archiver.sasl.username", ErrMissing, "a username is required with sasl.mechanism")
	}
	if (s.Password == "") == (s.PasswordFile == "") {
		v.add("archiver.sasl.password", ErrMissing, "exactly one of password and password_file is required with sasl.mechanism")
	}
	if s.Mechanism == "PLAIN" && !t.Enabled {
		v.add("archiver.sasl.mechanism", ErrRange, "PLAIN sends the password in clear: enable archiver.tls")
	}
}

func (v *validator) archiver(t *Topology, regions map[string]bool) {
	a := &t.Archiver
	v.seeds(a.Seeds)
	v.kafkaSecurity(a)
	v.topics(a.Topics, regions)
	v.partitions(a)
	v.regionPartitions(t)
	v.archiverDurability(a)
}

// seeds checks archiver.seeds: at least one, each host:port, no repeats.
func (v *validator) seeds(seeds []string) {
	if len(seeds) == 0 {
		v.add("archiver.seeds", ErrMissing, "at least one Kafka broker (host:port) is required")
	}
	for i, s := range seeds {
		p := fmt.Sprintf("archiver.seeds[%d]", i)
		if err := checkHostPort(s, false); err != nil {
			v.add(p, ErrFormat, "%v", err)
		} else if slices.Contains(seeds[:i], s) {
			v.add(p, ErrDuplicate, "seed %q listed twice", s)
		}
	}
}

// topics checks archiver.topics: known regions, valid Kafka topic names, one region each.
func (v *validator) topics(topics map[string]string, regions map[string]bool) {
	topicOwner := make(map[string]string)
	for _, region := range sortedKeys(topics) {
		p := "archiver.topics." + region
		topic := topics[region]
		if !regions[region] {
			v.add(p, ErrUnknownName, "unknown region %q", region)
		}
		switch {
		case topic == "":
			v.add(p, ErrMissing, "empty topic name")
		case len(topic) > maxKafkaTopicChars || topic == "." || topic == ".." || !reTopic.MatchString(topic):
			v.add(p, ErrFormat, "topic %q: want 1..%d of [a-zA-Z0-9._-], not \".\" or \"..\"", topic, maxKafkaTopicChars)
		default:
			if other, dup := topicOwner[topic]; dup {
				v.add(p, ErrDuplicate, "topic %q already used by region %s", topic, other)
			} else {
				topicOwner[topic] = region
			}
		}
	}
}

// partitions checks archiver.partitions (known exchanges, in range) against
// archiver.partition_count.
func (v *validator) partitions(a *Archiver) {
	for _, name := range sortedKeys(a.Partitions) {
		p := "archiver.partitions." + name
		if _, err := wire.ParseExchange(name); err != nil {
			v.add(p, ErrUnknownName, "unknown exchange %q (known: %s)", name, wire.ExchangeNames())
		}
		v.intRange(p, int64(a.Partitions[name]), 0, maxPartition)
	}
	if v.intRange("archiver.partition_count", int64(a.PartitionCount), 0, maxPartitionCount) && a.PartitionCount > 0 {
		for _, name := range sortedKeys(a.Partitions) {
			if p := a.Partitions[name]; p >= a.PartitionCount {
				v.add("archiver.partition_count", ErrRange, "%d partitions cannot hold partition %d of %s", a.PartitionCount, p, name)
			}
		}
	}
}

// regionPartitions checks that every region with gateways has a topic and a partition per
// exchange it archives, no two exchanges sharing one.
func (v *validator) regionPartitions(t *Topology) {
	a := &t.Archiver
	missingPart := make(map[wire.Exchange]bool)
	for _, r := range t.Regions {
		gws := t.GatewaysIn(r.Name)
		if len(gws) == 0 {
			continue
		}
		topic, ok := a.Topics[r.Name]
		if !ok {
			v.add("archiver.topics", ErrMissing, "no topic for region %q (gateway %s)", r.Name, gws[0].ID)
		}
		used := make(map[int32]wire.Exchange)
		for _, ex := range t.RegionExchanges(r.Name) {
			part, ok := a.Partitions[ex.String()]
			if !ok {
				if !missingPart[ex] {
					v.add("archiver.partitions", ErrMissing, "no partition for exchange %q (archived in region %s)", ex, r.Name)
					missingPart[ex] = true
				}
				continue
			}
			if other, clash := used[part]; clash {
				v.add("archiver.partitions."+ex.String(), ErrConflict, "partition %d of topic %q (region %s) is already used by %s", part, topic, r.Name, other)
				continue
			}
			used[part] = ex
		}
	}
}

// archiverDurability checks replication, the spool, compression and linger.
func (v *validator) archiverDurability(a *Archiver) {
	if a.ReplicationFactor < 1 {
		v.add("archiver.replication_factor", ErrRange, "%d: want 1..32767", a.ReplicationFactor)
	}
	switch {
	case a.MinInsyncReplicas < 0:
		v.add("archiver.min_insync_replicas", ErrRange, "%d: want 0 (replication_factor-1) .. replication_factor", a.MinInsyncReplicas)
	case a.ReplicationFactor >= 1 && a.MinInsyncReplicas > a.ReplicationFactor:
		v.add("archiver.min_insync_replicas", ErrConflict, "%d exceeds replication_factor %d: no produce with acks=all could ever succeed",
			a.MinInsyncReplicas, a.ReplicationFactor)
	}
	if !slices.Contains(spoolFsyncs, a.SpoolFsync) {
		v.add("archiver.spool_fsync", ErrUnknownName, "unknown fsync policy %q (want %s)", a.SpoolFsync, strings.Join(spoolFsyncs, ", "))
	}
	v.durRange("archiver.spool_fsync_interval", a.SpoolFsyncInterval, maxFsyncInterval)
	if !slices.Contains(compressions, a.Compression) {
		v.add("archiver.compression", ErrUnknownName, "unknown compression %q (want %s)", a.Compression, strings.Join(compressions, ", "))
	}
	if a.Linger < 0 || a.Linger > maxLinger {
		v.add("archiver.linger", ErrRange, "%s: want 0..%s", a.Linger, maxLinger)
	}
	if a.SpoolDir == "" {
		v.add("archiver.spool_dir", ErrMissing, "required")
	}
	v.intRange("archiver.spool_max_bytes", a.SpoolMaxBytes, minSpoolBytes, maxSpoolBytes)
	v.listenAddr("archiver.metrics", a.Metrics)
}

func (v *validator) replay(r *Replay) {
	if _, detail, category := parseSpeed(r.Speed); category != nil {
		v.add("replay.speed", category, "%s", detail)
	}
	if !slices.Contains(replayOutputs, r.Output) {
		v.add("replay.output", ErrUnknownName, "unknown output %q (want %s)", r.Output, strings.Join(replayOutputs, ", "))
	}
	if r.Output == "zmq" && r.Publish == "" {
		v.add("replay.publish", ErrMissing, "required for output zmq")
	}
	if r.Publish != "" {
		v.endpoint("replay.publish", r.Publish, true)
	}
	if r.Output != "zmq" && r.Path == "" {
		v.add("replay.path", ErrMissing, "required for output %s (\"-\" = stdout)", r.Output)
	}
	v.listenAddr("replay.metrics", r.Metrics)
}

// endpoint checks a bus endpoint. dialed endpoints are what other processes connect to:
// they need a concrete host and a fixed port, and must be unique in the file.
func (v *validator) endpoint(path, s string, dialed bool) {
	if s == "" {
		v.add(path, ErrMissing, "required: tcp://host:port or ipc:///path")
		return
	}
	network, addr, err := parseEndpoint(s)
	if err != nil {
		v.add(path, ErrFormat, "%v", err)
		return
	}
	if network == "tcp" {
		host, port, _ := net.SplitHostPort(addr)
		if port == "0" {
			v.add(path, ErrFormat, "endpoint %q: port 0 is not a fixed address", s)
			return
		}
		if dialed && unspecifiedHost(host) {
			v.add(path, ErrFormat, "endpoint %q: others dial this address; name a concrete host (use bind for 0.0.0.0)", s)
			return
		}
	}
	if dialed {
		if network == "tcp" {
			addr = canonicalAddr(addr)
		}
		v.claim(path, network+"|"+addr, s)
	}
}

// listenAddr checks an optional host:port listen address (metrics) and claims it when its
// host is concrete.
func (v *validator) listenAddr(path, s string) {
	if s == "" {
		return
	}
	if err := checkHostPort(s, true); err != nil {
		v.add(path, ErrFormat, "%v", err)
		return
	}
	if !unspecifiedHost(hostOf(s)) {
		v.claim(path, "tcp|"+canonicalAddr(s), s)
	}
}

// claim records that path listens on key; a second claimant is a duplicate.
func (v *validator) claim(path, key, shown string) {
	if other, dup := v.listen[key]; dup {
		v.add(path, ErrDuplicate, "address %q already used by %s", shown, other)
		return
	}
	v.listen[key] = path
}

// hostOf returns the host of a host:port already checked by checkHostPort.
func hostOf(hostport string) string {
	host, _, _ := net.SplitHostPort(hostport)
	return host
}

func (v *validator) intRange(path string, n, lo, hi int64) bool {
	if n < lo || n > hi {
		v.add(path, ErrRange, "%d: want %d..%d", n, lo, hi)
		return false
	}
	return true
}

// durRange checks 0 < d <= hi.
func (v *validator) durRange(path string, d, hi time.Duration) bool {
	if d <= 0 || d > hi {
		v.add(path, ErrRange, "%s: want more than 0 and at most %s", d, hi)
		return false
	}
	return true
}

// floatRange checks that f is finite and in [0, hi] or (0, hi] (zeroOK), with hi exclusive
// unless hiIncl.
func (v *validator) floatRange(path string, f float64, zeroOK bool, hi float64, hiIncl bool) {
	lo, hib := "(0", ")"
	if zeroOK {
		lo = "[0"
	}
	if hiIncl {
		hib = "]"
	}
	bad := math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (f == 0 && !zeroOK) || f > hi || (f == hi && !hiIncl)
	if bad {
		v.add(path, ErrRange, "%v: want a finite number in %s, %g%s", f, lo, hi, hib)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
