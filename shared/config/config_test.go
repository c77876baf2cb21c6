package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tickline/tickline/shared/wire"
)

// TestConfigsDir loads and validates every topology shipped in configs/.
func TestConfigsDir(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d files in configs/, want at least demo.yaml and production.example.yaml", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			top, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for _, r := range top.Regions {
				if gws := top.GatewaysIn(r.Name); len(gws) > 0 && top.PartitionCount(r.Name) < 1 {
					t.Errorf("region %s: partition count %d", r.Name, top.PartitionCount(r.Name))
				}
			}
		})
	}
}

// TestDemoShape pins what the demo promises: two loopback gateways in two regions, each
// carrying every exchange of the venue table.
func TestDemoShape(t *testing.T) {
	top, err := Load("../../configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Gateways) != 2 || top.Gateways[0].Region == top.Gateways[1].Region {
		t.Fatalf("want two gateways in two regions, got %+v", top.Gateways)
	}
	for _, g := range top.Gateways {
		if got := g.Exchanges(); !reflect.DeepEqual(got, wire.Exchanges()) {
			t.Errorf("%s carries %v, want every exchange of the venue table (shared/wire/venue.go)", g.ID, got)
		}
		for name, f := range g.Feeds {
			if !strings.HasPrefix(f.WSURL, "ws://127.0.0.1:") {
				t.Errorf("%s %s: ws_url %s is not loopback", g.ID, name, f.WSURL)
			}
		}
		if !strings.HasPrefix(g.Publish, "tcp://127.0.0.1:") {
			t.Errorf("%s: publish %s is not loopback", g.ID, g.Publish)
		}
	}
}

func readBase(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBaseIsValid(t *testing.T) {
	if _, err := Parse([]byte(readBase(t))); err != nil {
		t.Fatal(err)
	}
}

// edit replaces the first occurrence of old with new.
type edit struct{ old, new string }

func TestInvalid(t *testing.T) {
	cases := []struct {
		name     string
		edits    []edit
		path     string // the FieldError's Path
		category error
		detail   string // substring of the detail
	}{
		// Strict decoding.
		{"unknown top key", []edit{{"version: 1\n", "version: 1\nbogus: 1\n"}}, "bogus", ErrUnknownKey, `unknown key "bogus"`},
		{"unknown gateway key", []edit{{"    num: 1\n", "    num: 1\n    nmu: 2\n"}}, "gateways[0].nmu", ErrUnknownKey, `"nmu"`},
		{"unknown feed key", []edit{{"        stale_after: 30s\n", "        stale_afetr: 30s\n"}}, "gateways[1].exchanges.okx.stale_afetr", ErrUnknownKey, ""},
		{"unknown key in flow map", []edit{{"{retransmit:", "{records: 5, retransmt:"}}, "gateways[0].journal.retransmt", ErrUnknownKey, ""},
		{"duplicate yaml key", []edit{{"    num: 2\n", "    num: 2\n    num: 3\n"}}, "gateways[1].num", ErrDuplicate, ""},
		{"duplicate symbol key", []edit{{"          BTC_KRW: [trade]\n", "          BTC_KRW: [trade]\n          BTC_KRW: [bbo]\n"}}, "gateways[0].exchanges.bithumb.symbols.BTC_KRW", ErrDuplicate, ""},
		{"num not an integer", []edit{{"num: 2", "num: two"}}, "gateways[1].num", ErrType, `"two"`},
		{"num overflows uint16", []edit{{"num: 2", "num: 70000"}}, "gateways[1].num", ErrType, "65535"},
		{"regions not a list", []edit{{"regions:\n  - name: korea\n  - name: global\n", "regions: korea\n"}}, "regions", ErrType, "list"},
		{"bad duration", []edit{{"max_notional: 10000\n", "max_notional: 10000\n  staleness: 2x\n"}}, "strategy.staleness", ErrFormat, "duration"},
		{"bare number duration", []edit{{"stale_after: 30s", "stale_after: 30"}}, "gateways[1].exchanges.okx.stale_after", ErrFormat, "duration"},

		// Values yaml.v3 accepts silently (issue 10 item 7).
		{"float into int", []edit{{"gateways:\n", "bus: {queue_depth: 1.5}\ngateways:\n"}}, "bus.queue_depth", ErrType, `"1.5"`},
		{"float syntax into int", []edit{{"num: 2", "num: 2.0"}}, "gateways[1].num", ErrType, "integer"},
		{"float into journal records", []edit{{"{retransmit:", "{records: 1e3, retransmit:"}}, "gateways[0].journal.records", ErrType, ""},
		{"null for a key with a default", []edit{{"gateways:\n", "bus: {queue_depth: ~}\ngateways:\n"}}, "bus.queue_depth", ErrType, "null"},
		{"empty value for a key with a default", []edit{{"        stale_after: 30s\n", "        stale_after:\n"}}, "gateways[1].exchanges.okx.stale_after", ErrType, "null"},
		{"null string", []edit{{"metrics: 127.0.0.1:9101", "metrics: ~"}}, "gateways[0].metrics", ErrType, "null"},

		// Addresses.
		{"metrics host not an IPv4", []edit{{"metrics: 127.0.0.1:9101", "metrics: 999.1.1.1:9101"}}, "gateways[0].metrics", ErrFormat, "999.1.1.1"},
		{"metrics host short IPv4", []edit{{"metrics: 127.0.0.1:9101", "metrics: 10.1.1:9101"}}, "gateways[0].metrics", ErrFormat, ""},
		{"metrics bad host name", []edit{{"metrics: 127.0.0.1:9101", "metrics: my_host:9101"}}, "gateways[0].metrics", ErrFormat, ""},
		{"endpoint host not an IPv4", []edit{{"tcp://127.0.0.1:7101", "tcp://256.0.0.1:7101"}}, "gateways[0].publish", ErrFormat, "256.0.0.1"},
		{"seed host not an IPv4", []edit{{"seeds: [127.0.0.1:9092]", "seeds: [127.0.0.300:9092]"}}, "archiver.seeds[0]", ErrFormat, ""},
		{"localhost is 127.0.0.1", []edit{{"ipc:///tmp/tickline-gw-b.sock", "tcp://localhost:7101"}}, "gateways[1].publish", ErrDuplicate, "gateways[0].publish"},
		{"LOCALHOST. is 127.0.0.1", []edit{{"  publish: tcp://127.0.0.1:7401\n", "  publish: tcp://127.0.0.1:7401\n  metrics: LOCALHOST.:9101\n"}}, "replay.metrics", ErrDuplicate, "gateways[0].metrics"},
		{"IPv4-mapped IPv6 is IPv4", []edit{{"  publish: tcp://127.0.0.1:7401\n", "  publish: tcp://127.0.0.1:7401\n  metrics: '[::ffff:127.0.0.1]:9101'\n"}}, "replay.metrics", ErrDuplicate, "gateways[0].metrics"},

		// Top level and regions.
		{"version missing", []edit{{"version: 1\n", ""}}, "version", ErrMissing, ""},
		{"version unsupported", []edit{{"version: 1\n", "version: 2\n"}}, "version", ErrRange, "unsupported"},
		{"duplicate region", []edit{{"  - name: global\n", "  - name: global\n  - name: korea\n"}}, "regions[2].name", ErrDuplicate, ""},
		{"bad region name", []edit{{"  - name: global\n", "  - name: global\n  - name: North_America\n"}}, "regions[2].name", ErrFormat, ""},

		// Bus.
		{"queue_depth explicit zero", []edit{{"gateways:\n", "bus: {queue_depth: 0}\ngateways:\n"}}, "bus.queue_depth", ErrRange, ""},
		{"queue_depth absurd", []edit{{"gateways:\n", "bus: {queue_depth: 16777217}\ngateways:\n"}}, "bus.queue_depth", ErrRange, ""},
		{"negative stall_timeout", []edit{{"gateways:\n", "bus: {stall_timeout: -1s}\ngateways:\n"}}, "bus.stall_timeout", ErrRange, ""},
		{"low_latency spin too long", []edit{{"gateways:\n", "bus: {low_latency: {spin: 1s}}\ngateways:\n"}}, "bus.low_latency.spin", ErrRange, ""},
		{"low_latency gc_percent 10", []edit{{"gateways:\n", "bus: {low_latency: {gc_percent: 10}}\ngateways:\n"}}, "bus.low_latency.gc_percent", ErrRange, ""},
		{"low_latency memory_limit 1 MiB", []edit{{"gateways:\n", "bus: {low_latency: {memory_limit: 1048576}}\ngateways:\n"}}, "bus.low_latency.memory_limit", ErrRange, ""},
		{"low_latency unknown key", []edit{{"gateways:\n", "bus: {low_latency: {spinn: 1ms}}\ngateways:\n"}}, "bus.low_latency.spinn", ErrUnknownKey, ""},
		{"write_deadline over stall_timeout", []edit{{"gateways:\n", "bus: {stall_timeout: 1s, write_deadline: 2s}\ngateways:\n"}}, "bus.write_deadline", ErrConflict, ""},

		// Gateways.
		{"duplicate gateway id", []edit{{"id: gw-b", "id: gw-a"}}, "gateways[1].id", ErrDuplicate, `"gw-a"`},
		{"bad gateway id", []edit{{"id: gw-b", "id: GW_B"}}, "gateways[1].id", ErrFormat, ""},
		{"duplicate gateway num", []edit{{"num: 2", "num: 1"}}, "gateways[1].num", ErrDuplicate, ""},
		{"gateway num zero", []edit{{"num: 2", "num: 0"}}, "gateways[1].num", ErrMissing, ""},
		{"unknown region", []edit{{"region: global", "region: globl"}}, "gateways[1].region", ErrUnknownName, `"globl"`},
		{"missing region", []edit{{"    region: global\n", ""}}, "gateways[1].region", ErrMissing, ""},
		{"endpoint without port", []edit{{"tcp://127.0.0.1:7101", "tcp://127.0.0.1"}}, "gateways[0].publish", ErrFormat, ""},
		{"endpoint bad scheme", []edit{{"tcp://127.0.0.1:7101", "udp://127.0.0.1:7101"}}, "gateways[0].publish", ErrFormat, "scheme"},
		{"endpoint relative ipc", []edit{{"ipc:///tmp/tickline-gw-b.sock", "ipc://tickline.sock"}}, "gateways[1].publish", ErrFormat, "absolute"},
		{"endpoint unspecified host", []edit{{"tcp://127.0.0.1:7101", "tcp://0.0.0.0:7101"}}, "gateways[0].publish", ErrFormat, "bind"},
		{"endpoint port zero", []edit{{"tcp://127.0.0.1:7101", "tcp://127.0.0.1:0"}}, "gateways[0].publish", ErrFormat, "port 0"},
		{"duplicate publish", []edit{{"ipc:///tmp/tickline-gw-b.sock", "tcp://127.0.0.1:7101"}}, "gateways[1].publish", ErrDuplicate, "gateways[0].publish"},
		{"publish clashes with metrics", []edit{{"tcp://127.0.0.1:7401", "tcp://127.0.0.1:9101"}}, "replay.publish", ErrDuplicate, ""},
		{"journal without retransmit", []edit{{"{retransmit: tcp://127.0.0.1:7201}", "{records: 10}"}}, "gateways[0].journal.retransmit", ErrMissing, ""},
		{"bad metrics address", []edit{{"metrics: 127.0.0.1:9101", "metrics: 127.0.0.1"}}, "gateways[0].metrics", ErrFormat, ""},
		{"no exchanges", []edit{{"    exchanges:\n      binance:", "    exchanges: {}\n    xx:\n      binance:"}}, "gateways[1].xx", ErrUnknownKey, ""},
		{"unknown exchange", []edit{{"      okx:\n", "      okex:\n"}}, "gateways[1].exchanges.okex", ErrUnknownName, `"okex"`},
		{"bad channel", []edit{{"BTCUSDT: [bbo, trade, book]", "BTCUSDT: [bboo, trade, book]"}}, "gateways[1].exchanges.binance.symbols.BTCUSDT", ErrUnknownName, `unknown channel "bboo"`},
		{"duplicate channel", []edit{{"BTCUSDT: [bbo, trade, book]", "BTCUSDT: [bbo, trade, bbo]"}}, "gateways[1].exchanges.binance.symbols.BTCUSDT", ErrDuplicate, ""},
		{"no channels", []edit{{"BTCUSDT: [bbo, trade, book]", "BTCUSDT: []"}}, "gateways[1].exchanges.binance.symbols.BTCUSDT", ErrMissing, ""},
		{"symbol in wrong style", []edit{{"BTCUSDT: [bbo, trade, book]", "BTC-USDT: [bbo, trade, book]"}}, "gateways[1].exchanges.binance.symbols.BTC-USDT", ErrFormat, "BTCUSDT"},
		{"missing ws_url", []edit{{"        ws_url: wss://ws.okx.com:8443/ws/v5/public\n", ""}}, "gateways[1].exchanges.okx.ws_url", ErrMissing, ""},
		{"ws_url not websocket", []edit{{"wss://ws.okx.com:8443/ws/v5/public", "https://ws.okx.com/ws/v5/public"}}, "gateways[1].exchanges.okx.ws_url", ErrFormat, "scheme"},
		{"binance book without rest_url", []edit{{"        rest_url: https://api.binance.com\n", ""}}, "gateways[1].exchanges.binance.rest_url", ErrMissing, "snapshot"},
		{"bad book_depth", []edit{{"        stale_after: 30s\n", "        book_depth: -1\n"}}, "gateways[1].exchanges.okx.book_depth", ErrRange, ""},

		// Strategy.
		{"subscribe unknown gateway", []edit{{"  threshold_bps: 5\n", "  subscribe: [gw-a, gw-c]\n  threshold_bps: 5\n"}}, "strategy.subscribe[1]", ErrUnknownName, `"gw-c"`},
		{"threshold absurd", []edit{{"threshold_bps: 5", "threshold_bps: 20000"}}, "strategy.threshold_bps", ErrRange, ""},
		{"threshold missing", []edit{{"  threshold_bps: 5\n", ""}}, "strategy.threshold_bps", ErrRange, ""},
		{"notional infinite", []edit{{"max_notional: 10000", "max_notional: .inf"}}, "strategy.max_notional", ErrRange, ""},
		{"NaN fee", []edit{{"binance: 10,", "binance: .nan,"}}, "strategy.fees_bps.binance", ErrRange, "NaN"},
		{"negative fee", []edit{{"okx: 8}", "okx: -1}"}}, "strategy.fees_bps.okx", ErrRange, ""},
		{"absurd fee", []edit{{"okx: 8}", "okx: 1000}"}}, "strategy.fees_bps.okx", ErrRange, ""},
		{"fee for unknown exchange", []edit{{"okx: 8}", "okx: 8, okex: 8}"}}, "strategy.fees_bps.okex", ErrUnknownName, ""},
		{"missing fee", []edit{{"bithumb: 4, ", ""}}, "strategy.fees_bps", ErrMissing, `"bithumb"`},
		{"fx both sources", []edit{{"symbol: KRW-USDT}\n", "symbol: KRW-USDT}\n    static_rate: 1400\n"}}, "strategy.fx", ErrConflict, ""},
		{"fx missing with KRW exchange", []edit{{"  fx:\n    market: {exchange: upbit, symbol: KRW-USDT}\n", ""}}, "strategy.fx", ErrMissing, "KRW"},
		{"fx market not subscribed", []edit{{"symbol: KRW-USDT}", "symbol: KRW-USDC}"}}, "strategy.fx.market.symbol", ErrUnknownName, ""},
		{"fx static rate NaN", []edit{{"    market: {exchange: upbit, symbol: KRW-USDT}\n", "    static_rate: .nan\n"}}, "strategy.fx.static_rate", ErrRange, ""},

		// Archiver.
		{"partition collision in one topic", []edit{{"bithumb: 1,", "bithumb: 0,"}}, "archiver.partitions.bithumb", ErrConflict, `"ticks.korea" (region korea) is already used by upbit`},
		{"missing topic for region", []edit{{", global: ticks.global}", "}"}}, "archiver.topics", ErrMissing, `"global"`},
		{"topic for unknown region", []edit{{", global: ticks.global}", ", global: ticks.global, mars: ticks.mars}"}}, "archiver.topics.mars", ErrUnknownName, ""},
		{"duplicate topic", []edit{{"global: ticks.global}", "global: ticks.korea}"}}, "archiver.topics.korea", ErrDuplicate, ""},
		{"bad topic name", []edit{{"global: ticks.global}", "global: ticks/global}"}}, "archiver.topics.global", ErrFormat, ""},
		{"missing partition", []edit{{"okx: 1}", "}"}}, "archiver.partitions", ErrMissing, `"okx"`},
		{"negative partition", []edit{{"okx: 1}", "okx: -1}"}}, "archiver.partitions.okx", ErrRange, ""},
		{"partition_count too small", []edit{{"okx: 1}\n", "okx: 1}\n  partition_count: 1\n"}}, "archiver.partition_count", ErrRange, "partition 1"},
		{"no seeds", []edit{{"  seeds: [127.0.0.1:9092]\n", ""}}, "archiver.seeds", ErrMissing, ""},
		{"bad seed", []edit{{"seeds: [127.0.0.1:9092]", "seeds: [127.0.0.1]"}}, "archiver.seeds[0]", ErrFormat, ""},
		{"bad compression", []edit{{"  seeds:", "  compression: brotli\n  seeds:"}}, "archiver.compression", ErrUnknownName, ""},
		{"linger too long", []edit{{"  seeds:", "  linger: 1m\n  seeds:"}}, "archiver.linger", ErrRange, ""},
		{"sasl unknown mechanism", []edit{{"  seeds:", "  sasl: {mechanism: SCRAM-SHA-1, username: u, password: p}\n  seeds:"}}, "archiver.sasl.mechanism", ErrUnknownName, "SCRAM-SHA-512"},
		{"sasl no username", []edit{{"  seeds:", "  sasl: {mechanism: SCRAM-SHA-256, password: p}\n  seeds:"}}, "archiver.sasl.username", ErrMissing, ""},
		{"sasl two passwords", []edit{{"  seeds:", "  sasl: {mechanism: SCRAM-SHA-256, username: u, password: p, password_file: /f}\n  seeds:"}}, "archiver.sasl.password", ErrMissing, "exactly one"},
		{"sasl plain without tls", []edit{{"  seeds:", "  sasl: {mechanism: PLAIN, username: u, password: p}\n  seeds:"}}, "archiver.sasl.mechanism", ErrRange, "in clear"},
		{"sasl credentials without mechanism", []edit{{"  seeds:", "  sasl: {username: u}\n  seeds:"}}, "archiver.sasl.mechanism", ErrMissing, ""},
		{"tls settings while off", []edit{{"  seeds:", "  tls: {ca_file: /ca.pem}\n  seeds:"}}, "archiver.tls.enabled", ErrRange, ""},
		{"tls cert without key", []edit{{"  seeds:", "  tls: {enabled: true, cert_file: /c.pem}\n  seeds:"}}, "archiver.tls.cert_file", ErrMissing, ""},
		{"arbitration tolerance zero", []edit{{"version: 1\n", "version: 1\narbitration: {tolerance: 0s}\n"}}, "arbitration.tolerance", ErrRange, ""},
		{"arbitration max_keys small", []edit{{"version: 1\n", "version: 1\narbitration: {max_keys: 10}\n"}}, "arbitration.max_keys", ErrRange, ""},
		{"replication factor zero", []edit{{"  seeds:", "  replication_factor: 0\n  seeds:"}}, "archiver.replication_factor", ErrRange, ""},
		{"min.insync.replicas above replication factor", []edit{{"  seeds:", "  replication_factor: 2\n  min_insync_replicas: 3\n  seeds:"}}, "archiver.min_insync_replicas", ErrConflict, "replication_factor 2"},
		{"negative min.insync.replicas", []edit{{"  seeds:", "  min_insync_replicas: -1\n  seeds:"}}, "archiver.min_insync_replicas", ErrRange, ""},
		{"unknown spool fsync", []edit{{"  seeds:", "  spool_fsync: always\n  seeds:"}}, "archiver.spool_fsync", ErrUnknownName, `"always"`},
		{"zero spool fsync interval", []edit{{"  seeds:", "  spool_fsync_interval: 0s\n  seeds:"}}, "archiver.spool_fsync_interval", ErrRange, ""},

		// Replay.
		{"bad speed", []edit{{"replay:\n", "replay:\n  speed: fast\n"}}, "replay.speed", ErrFormat, ""},
		{"zero speed", []edit{{"replay:\n", "replay:\n  speed: 0x\n"}}, "replay.speed", ErrRange, ""},
		{"bad output", []edit{{"replay:\n", "replay:\n  output: avro\n"}}, "replay.output", ErrUnknownName, ""},
		{"zmq without publish", []edit{{"  publish: tcp://127.0.0.1:7401\n", ""}}, "replay.publish", ErrMissing, ""},
		{"bad replay metrics", []edit{{"  publish: tcp://127.0.0.1:7401\n", "  publish: tcp://127.0.0.1:7401\n  metrics: 127.0.0.1\n"}}, "replay.metrics", ErrFormat, "host:port"},
		{"replay metrics port zero", []edit{{"  publish: tcp://127.0.0.1:7401\n", "  publish: tcp://127.0.0.1:7401\n  metrics: 127.0.0.1:0\n"}}, "replay.metrics", ErrFormat, "port"},
		{"replay metrics clashes", []edit{{"  publish: tcp://127.0.0.1:7401\n", "  publish: tcp://127.0.0.1:7401\n  metrics: 127.0.0.1:9101\n"}}, "replay.metrics", ErrDuplicate, "gateways[0].metrics"},

		// Whole file.
		{"two documents", []edit{{"replay:\n", "---\nreplay:\n"}}, "", ErrSyntax, ""},
		{"malformed yaml", []edit{{"regions:\n", "regions: [\n"}}, "", ErrSyntax, ""},
	}
	base := readBase(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := base
			for _, e := range tc.edits {
				if !strings.Contains(doc, e.old) {
					t.Fatalf("test bug: %q not in base.yaml", e.old)
				}
				doc = strings.Replace(doc, e.old, e.new, 1)
			}
			top, err := Parse([]byte(doc))
			if err == nil {
				t.Fatalf("Parse succeeded, want an error at %s", tc.path)
			}
			if top != nil {
				t.Errorf("Parse returned a topology along with an error")
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tc.category) {
				t.Errorf("error does not match ErrInvalid and %v:\n%v", tc.category, err)
			}
			fe := findField(err, tc.path, tc.category)
			if fe == nil {
				t.Fatalf("no %v error at path %q in:\n%v", tc.category, tc.path, err)
			}
			if !strings.Contains(fe.Detail, tc.detail) {
				t.Errorf("detail %q does not contain %q", fe.Detail, tc.detail)
			}
			if !strings.HasPrefix(fe.Error(), tc.path) {
				t.Errorf("message %q does not start with the path %q", fe.Error(), tc.path)
			}
		})
	}
}

// fieldErrors flattens an error tree into its FieldErrors.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if e := errors.Unwrap(err); e != nil {
			walk(e)
		}
	}
	walk(err)
	return out
}

func findField(err error, path string, category error) *FieldError {
	for _, fe := range fieldErrors(err) {
		if fe.Path == path && errors.Is(fe, category) {
			return fe
		}
	}
	return nil
}

// TestErrorLine checks the example message from the package doc, line number included.
func TestErrorLine(t *testing.T) {
	doc := strings.Replace(readBase(t), "BTCUSDT: [bbo, trade, book]", "BTCUSDT: [bboo, trade, book]", 1)
	_, err := Parse([]byte(doc))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("no FieldError: %v", err)
	}
	line := 1 + strings.Count(doc[:strings.Index(doc, "BTCUSDT:")], "\n")
	want := `gateways[1].exchanges.binance.symbols.BTCUSDT: unknown channel "bboo" (want bbo, trade, book or ticker) (line ` + strconv.Itoa(line) + ")"
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
}

// TestAllErrorsReported: validation does not stop at the first problem.
func TestAllErrorsReported(t *testing.T) {
	doc := readBase(t)
	for _, e := range []edit{
		{"region: global", "region: globl"},
		{"okx: 8}", "okx: .nan}"},
	} {
		doc = strings.Replace(doc, e.old, e.new, 1)
	}
	doc = strings.Replace(doc, "max_notional: 10000", "max_notional: -1", 1)
	_, err := Parse([]byte(doc))
	got := fieldErrors(err)
	if len(got) != 3 {
		t.Fatalf("got %d errors, want 3:\n%v", len(got), err)
	}
	for i, want := range []string{"gateways[1].region", "strategy.max_notional", "strategy.fees_bps.okx"} {
		if got[i].Path != want {
			t.Errorf("error %d at %s, want %s", i, got[i].Path, want)
		}
	}
}

// TestStaleAfterFromVenueTable: a feed that leaves stale_after out runs with its venue's
// StaleAfter from the venue table (one fact, set from the exchange's heartbeats), not a
// topology-wide constant; a value written in the file wins.
func TestStaleAfterFromVenueTable(t *testing.T) {
	for _, v := range wire.Venues() {
		top := &Topology{Gateways: []Gateway{{Feeds: map[string]*Feed{v.Name: {}, "written": {StaleAfter: time.Minute}}}}}
		applyDefaults(top)
		if got := top.Gateways[0].Feeds[v.Name].StaleAfter; got != v.Limits.StaleAfter || got <= 0 {
			t.Errorf("%s: stale_after = %s, want the venue table's %s", v.Name, got, v.Limits.StaleAfter)
		}
		if got := top.Gateways[0].Feeds["written"].StaleAfter; got != time.Minute {
			t.Errorf("written stale_after = %s, want 1m", got)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	top, err := Parse([]byte(readBase(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := Bus{QueueDepth: 65536, StallTimeout: 5 * time.Second, WriteDeadline: time.Second, MaxMessageBytes: 4 << 20}
	if top.Bus != want {
		t.Errorf("bus = %+v, want %+v", top.Bus, want)
	}
	// Literals, not the constants: these are the values configs/README.md documents.
	if got := top.Gateways[0].Journal.Records; got != 1<<20 {
		t.Errorf("journal.records = %d, want 1048576", got)
	}
	if got := top.Gateways[0].Feeds["upbit"].StaleAfter; got != 60*time.Second {
		t.Errorf("upbit stale_after = %s, want the venue table's 60s", got)
	}
	if got := top.Gateways[1].Feeds["okx"].StaleAfter; got != 30*time.Second {
		t.Errorf("okx stale_after = %s, want the file's 30s", got)
	}
	if got := top.Strategy.Subscribe; !reflect.DeepEqual(got, []string{"gw-a", "gw-b"}) {
		t.Errorf("strategy.subscribe = %v, want every gateway", got)
	}
	if top.Strategy.Staleness != 2*time.Second {
		t.Errorf("strategy.staleness = %s", top.Strategy.Staleness)
	}
	a := top.Archiver
	if a.ReplicationFactor != 3 || a.Compression != "zstd" || a.Linger != 5*time.Millisecond ||
		a.SpoolDir != "/var/lib/tickline/spool" || a.SpoolMaxBytes != 1<<30 || a.PartitionCount != 0 {
		t.Errorf("archiver defaults not applied: %+v", a)
	}
	if a.SpoolFsync != "interval" || a.SpoolFsyncInterval != 100*time.Millisecond || a.MinInsyncReplicas != 0 || a.MinISR() != 2 {
		t.Errorf("archiver durability defaults not applied: %+v (MinISR %d)", a, a.MinISR())
	}
	for _, tt := range []struct{ rf, set, want int16 }{{1, 0, 1}, {2, 0, 1}, {3, 0, 2}, {5, 0, 4}, {3, 3, 3}, {3, 1, 1}} {
		c := Archiver{ReplicationFactor: tt.rf, MinInsyncReplicas: tt.set}
		if got := c.MinISR(); got != tt.want {
			t.Errorf("MinISR(rf %d, set %d) = %d, want %d", tt.rf, tt.set, got, tt.want)
		}
	}
	if r := top.Replay; r.Speed != "max" || r.Output != "zmq" || r.Path != "-" {
		t.Errorf("replay defaults not applied: %+v", r)
	}
	// partition_count 0: per topic, highest partition of the region + 1.
	if got := top.PartitionCount("korea"); got != 2 {
		t.Errorf("PartitionCount(korea) = %d, want 2", got)
	}
}

// TestLowLatencyDefaults: an empty bus.low_latency turns the mode on with the documented
// values; a value in the file wins.
func TestLowLatencyDefaults(t *testing.T) {
	doc := strings.Replace(readBase(t), "gateways:\n", "bus: {low_latency: {}}\ngateways:\n", 1)
	top, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := LowLatency{Spin: 200 * time.Microsecond, GCPercent: -1, MemoryLimit: 1 << 30}
	if ll := top.Bus.LowLatency; ll == nil || *ll != want {
		t.Fatalf("low_latency = %+v, want %+v", ll, want)
	}
	doc = strings.Replace(readBase(t), "gateways:\n", "bus: {low_latency: {spin: 1ms, gc_percent: 400}}\ngateways:\n", 1)
	if top, err = Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	if ll := top.Bus.LowLatency; ll.Spin != time.Millisecond || ll.GCPercent != 400 || ll.MemoryLimit != 1<<30 {
		t.Fatalf("low_latency = %+v", ll)
	}
}

// TestExplicitValueWins: a key in the file beats the default, even an explicit zero.
func TestExplicitValueWins(t *testing.T) {
	doc := strings.Replace(readBase(t), "  seeds:", "  linger: 0s\n  partition_count: 8\n  seeds:", 1)
	top, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if top.Archiver.Linger != 0 || top.PartitionCount("global") != 8 {
		t.Errorf("linger %s, partition count %d; want 0s and 8", top.Archiver.Linger, top.PartitionCount("global"))
	}
}

// TestRoundTrip: a loaded topology marshals back to YAML that loads to the same value
// (durations as strings, no lost keys), so tools can print the effective config.
func TestRoundTrip(t *testing.T) {
	for _, f := range []string{"testdata/base.yaml", "../../configs/production.example.yaml"} {
		top, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(top)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: reparse: %v\n%s", f, err, out)
		}
		if !reflect.DeepEqual(top, again) {
			t.Errorf("%s: round trip changed the topology", f)
		}
	}
}

func TestLookups(t *testing.T) {
	top, err := Parse([]byte(readBase(t)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := top.Gateway("gw-b")
	if err != nil || g.Num != 2 {
		t.Fatalf("Gateway(gw-b) = %+v, %v", g, err)
	}
	if _, err := top.Gateway("nope"); !errors.Is(err, ErrUnknownName) {
		t.Errorf("Gateway(nope) err = %v, want ErrUnknownName", err)
	}
	if r, err := top.Region("global"); err != nil || r.Name != "global" {
		t.Errorf("Region(global) = %+v, %v", r, err)
	}
	if _, err := top.Region("mars"); !errors.Is(err, ErrUnknownName) {
		t.Errorf("Region(mars) err = %v", err)
	}
	if got := g.Exchanges(); !reflect.DeepEqual(got, []wire.Exchange{wire.Binance, wire.OKX}) {
		t.Errorf("gw-b exchanges = %v", got)
	}
	if got := top.RegionExchanges("korea"); !reflect.DeepEqual(got, []wire.Exchange{wire.Upbit, wire.Bithumb}) {
		t.Errorf("korea exchanges = %v", got)
	}
	if p, ok := top.Archiver.Partition(wire.Bithumb); !ok || p != 1 {
		t.Errorf("bithumb partition = %d, %v", p, ok)
	}
	if f, ok := g.Feed(wire.Binance); !ok || f.RESTURL != "https://api.binance.com" {
		t.Errorf("Feed(binance) = %+v, %v", f, ok)
	}
	if _, ok := g.Feed(wire.Upbit); ok {
		t.Errorf("gw-b has no upbit feed")
	}
	if got := g.BindEndpoint(); got != g.Publish {
		t.Errorf("BindEndpoint = %q, want publish %q", got, g.Publish)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("err = %v, want a not-exist error that is not ErrInvalid", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n"} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) err = %v, want ErrSyntax", doc, err)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	long := "ipc:///" + strings.Repeat("a", 200)
	cases := []struct {
		in, network, address string
		ok                   bool
	}{
		{"tcp://127.0.0.1:7101", "tcp", "127.0.0.1:7101", true},
		{"tcp://localhost:0", "tcp", "localhost:0", true},
		{"tcp://[::1]:7101", "tcp", "[::1]:7101", true},
		{"tcp://*:7101", "tcp", ":7101", true},
		{"tcp://:7101", "tcp", ":7101", true},
		{"ipc:///tmp/x.sock", "unix", "/tmp/x.sock", true},
		{"tcp://127.0.0.1", "", "", false},
		{"tcp://127.0.0.1:65536", "", "", false},
		{"tcp://127.0.0.1:-1", "", "", false},
		{"tcp://127.0.0.1:http", "", "", false},
		{"tcp://a b:1", "", "", false},
		{"ipc://rel.sock", "", "", false},
		{long, "", "", false},
		{"inproc://x", "", "", false},
		{"127.0.0.1:7101", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range cases {
		n, a, err := ParseEndpoint(tc.in)
		if (err == nil) != tc.ok || n != tc.network || a != tc.address {
			t.Errorf("ParseEndpoint(%q) = %q, %q, %v", tc.in, n, a, err)
		}
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Errorf("ParseEndpoint(%q) err %v does not wrap ErrFormat", tc.in, err)
		}
	}
}

func TestParseSpeed(t *testing.T) {
	cases := []struct {
		in   string
		want float64
		err  error
	}{
		{"max", 0, nil},
		{"1x", 1, nil},
		{"10x", 10, nil},
		{"0.5x", 0.5, nil},
		{"1000000x", 1e6, nil},
		{"1000001x", 0, ErrRange},
		{"0x", 0, ErrRange},
		{"-1x", 0, ErrRange},
		{"NaNx", 0, ErrRange},
		{"infx", 0, ErrRange},
		{"x", 0, ErrFormat},
		{"10", 0, ErrFormat},
		{"fast", 0, ErrFormat},
		{"", 0, ErrFormat},
	}
	for _, tc := range cases {
		got, err := ParseSpeed(tc.in)
		if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("ParseSpeed(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestReadmeDocumentsEveryKey: configs/README.md names every key of the schema by its full
// path (lists as "[]", map keys as "*"), so a new field cannot ship undocumented.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, p := range schemaPaths(reflect.TypeOf(Topology{}), "") {
		if !strings.Contains(string(readme), "`"+p+"`") {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("configs/README.md does not document:\n  %s", strings.Join(missing, "\n  "))
	}
}

// schemaPaths lists the YAML path of every field under typ.
func schemaPaths(typ reflect.Type, prefix string) []string {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []string
	switch typ.Kind() {
	case reflect.Struct:
		if typ == reflect.TypeOf(time.Duration(0)) {
			return nil
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, p)
			out = append(out, schemaPaths(f.Type, p)...)
		}
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.Struct || typ.Elem().Kind() == reflect.Pointer {
			return schemaPaths(typ.Elem(), prefix+"[]")
		}
	case reflect.Map:
		k := typ.Elem()
		for k.Kind() == reflect.Pointer {
			k = k.Elem()
		}
		if k.Kind() == reflect.Struct {
			return schemaPaths(typ.Elem(), prefix+".*")
		}
	}
	return out
}

// FuzzParse: Parse never panics, and whatever it accepts is valid and has defaults applied.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/base.yaml", "../../configs/demo.yaml", "../../configs/production.example.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := Parse(data)
		if err != nil {
			if top != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v with topology %v / not ErrInvalid", err, top != nil)
			}
			return
		}
		if err := top.Validate(); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
	})
}
