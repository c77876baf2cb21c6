package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/zmtp"
)

// Keys printed by libzmq's zmq_curve_keypair (TEST KEYS ONLY, never deploy them).
const (
	gwPub   = "9HV-XgY^EES[foxHk[jEP1=i+^WpzIUj+WgWShNA"
	gwSec   = "V2/ZF0g^rEDUXe<:pL#T.&q/7^p*t./><6eL9gI<"
	rcvPub  = "52yfBT8Hh(thfmegIsS#&a&oc*}DxWuox/95]wJ>"
	rcvSec  = "N&8+:DCl=C.Jdq=1dRF.)Qo^A=5QSg&%)2lxuCUH"
	rcv2Pub = "?+1EB0:v.*TUbFoWl%bph5vF(sjIS5{=#v?d:.@N"
)

// secured adds curve sections to base.yaml: both gateways, the strategy and the archiver.
func secured(t *testing.T) string {
	t.Helper()
	doc := readBase(t)
	gw := `    curve:
      public_key: "` + gwPub + `"
      secret_key: "` + gwSec + `"
      allow: ["` + rcvPub + `", "` + rcv2Pub + `"]
`
	doc = strings.Replace(doc, "    journal: {retransmit: tcp://127.0.0.1:7201}\n", "    journal: {retransmit: tcp://127.0.0.1:7201}\n"+gw, 1)
	doc = strings.Replace(doc, "    publish: ipc:///tmp/tickline-gw-b.sock\n", "    publish: ipc:///tmp/tickline-gw-b.sock\n"+gw, 1)
	rc := "  curve: {secret_key: \"" + rcvSec + "\", public_key: \"" + rcvPub + "\"}\n"
	doc = strings.Replace(doc, "  fx:\n", rc+"  fx:\n", 1)
	doc = strings.Replace(doc, "  seeds: [127.0.0.1:9092]\n", "  seeds: [127.0.0.1:9092]\n"+rc, 1)
	return doc
}

func TestCurveConfig(t *testing.T) {
	top, err := Parse([]byte(secured(t)))
	if err != nil {
		t.Fatalf("secured base: %v", err)
	}
	sec, allowed, err := top.Gateways[0].Curve.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if zmtp.PublicFromSecret(sec).String() != gwPub || len(allowed) != 2 || allowed[0].String() != rcvPub {
		t.Fatalf("keys %s %v", zmtp.PublicFromSecret(sec), allowed)
	}
	rsec, err := top.Strategy.Curve.Secret()
	if err != nil || zmtp.PublicFromSecret(rsec).String() != rcvPub {
		t.Fatalf("receiver secret: %v", err)
	}
	keys, ok, err := top.GatewayKeys([]string{top.Gateways[1].Publish, top.Gateways[0].Publish})
	if err != nil || !ok || keys[0].String() != gwPub || keys[1].String() != gwPub {
		t.Fatalf("GatewayKeys = %v %v %v", keys, ok, err)
	}

	// A key file instead of the inline secret.
	path := filepath.Join(t.TempDir(), "gw.key")
	if err := os.WriteFile(path, []byte(gwSec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(secured(t), `secret_key: "`+gwSec+`"`, "secret_key_file: "+path, 1)
	top, err = Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if sec2, _, err := top.Gateways[0].Curve.Keys(); err != nil || sec2 != sec {
		t.Fatalf("key file: %v", err)
	}
}

func TestCurveConfigInvalid(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		path     string
		category error
	}{
		{"short public key", `public_key: "` + gwPub + `"`, `public_key: "abc"`, "gateways[0].curve.public_key", ErrFormat},
		{"bad z85", `public_key: "` + gwPub + `"`, `public_key: "` + strings.Repeat("~", 40) + `"`, "gateways[0].curve.public_key", ErrFormat},
		{"secret of another key", `secret_key: "` + gwSec + `"`, `secret_key: "` + rcvSec + `"`, "gateways[0].curve.secret_key", ErrConflict},
		{"both secrets", `secret_key: "` + gwSec + `"`, `secret_key: "` + gwSec + `"` + "\n      secret_key_file: /x", "gateways[0].curve.secret_key", ErrConflict},
		{"no secret", "      secret_key: \"" + gwSec + "\"\n", "", "gateways[0].curve.secret_key_file", ErrMissing},
		{"empty allow", `allow: ["` + rcvPub + `", "` + rcv2Pub + `"]`, "allow: []", "gateways[0].curve.allow", ErrMissing},
		{"duplicate allow", `allow: ["` + rcvPub + `", "` + rcv2Pub + `"]`, `allow: ["` + rcvPub + `", "` + rcvPub + `"]`, "gateways[0].curve.allow[1]", ErrDuplicate},
		{"receiver without keys", "  curve: {secret_key: \"" + rcvSec + "\", public_key: \"" + rcvPub + "\"}\n  fx:", "  fx:", "strategy.curve", ErrMissing},
		{"receiver bad public", `public_key: "` + rcvPub + `"}`, `public_key: "x"}`, "strategy.curve.public_key", ErrFormat},
		{"unknown key", "      allow:", "      alow: []\n      allow:", "gateways[0].curve.alow", ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := secured(t)
			if !strings.Contains(doc, tc.old) {
				t.Fatalf("test bug: %q not in the secured base", tc.old)
			}
			_, err := Parse([]byte(strings.Replace(doc, tc.old, tc.new, 1)))
			if err == nil {
				t.Fatal("accepted")
			}
			if fe := findField(err, tc.path, tc.category); fe == nil {
				t.Fatalf("no %v at %s in:\n%v", tc.category, tc.path, err)
			}
		})
	}
	// Mixed: one gateway secured, the other not, both read by the strategy.
	doc := readBase(t)
	doc = strings.Replace(doc, "    journal: {retransmit: tcp://127.0.0.1:7201}\n", "    journal: {retransmit: tcp://127.0.0.1:7201}\n    curve: {public_key: \""+gwPub+"\", secret_key: \""+gwSec+"\", allow: [\""+rcvPub+"\"]}\n", 1)
	_, err := Parse([]byte(doc))
	if fe := findField(err, "strategy.curve", ErrConflict); fe == nil {
		t.Fatalf("mixed mechanisms accepted: %v", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
}
