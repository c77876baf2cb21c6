package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/zmtp"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut})
	return code, out.String(), errOut.String()
}

func TestCheckConfig(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	for _, f := range files {
		if code, out, errOut := runCmd(t, "", "check-config", f); code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("%s: code %d, %s %s", f, code, out, errOut)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nregionz: []\n"), 0o644)
	if code, _, errOut := runCmd(t, "", "check-config", bad); code != 1 || !strings.Contains(errOut, "regionz") {
		t.Errorf("bad config: code %d, stderr %s", code, errOut)
	}
	if code, _, _ := runCmd(t, "", "check-config"); code != 2 {
		t.Errorf("missing arg: code %d", code)
	}
}

func TestNormalizeCommand(t *testing.T) {
	in := `{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}}
{"broken`
	code, out, errOut := runCmd(t, in, "normalize", "--exchange", "binance")
	if code != 1 {
		t.Fatalf("code %d, want 1 (one malformed line)", code)
	}
	if !strings.Contains(out, `"instrument":"BTC-USDT"`) || !strings.Contains(errOut, "-:2: error") {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	if code, _, _ := runCmd(t, "", "normalize", "--exchange", "nasdaq"); code != 2 {
		t.Fatalf("unknown exchange: code %d", code)
	}
	if code, _, _ := runCmd(t, "", "bogus"); code != 2 {
		t.Fatalf("unknown command: code %d", code)
	}
}

// TestMetricsFlags: --metrics is checked before anything starts; replay's like the file's
// replay.metrics key (format, clash with another address of the topology).
func TestMetricsFlags(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of stderr
	}{
		{[]string{"replay", "--config", "../../configs/demo.yaml", "--metrics", "127.0.0.1"}, []string{"--metrics", "replay.metrics", "host:port"}},
		{[]string{"replay", "--config", "../../configs/demo.yaml", "--metrics", "127.0.0.1:9101"}, []string{"--metrics", "replay.metrics", "gateways[0].metrics"}},
		{[]string{"sim", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1"}, []string{"metrics: listening on 127.0.0.1"}},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, "", tt.args...)
		if code != 1 {
			t.Errorf("%v: code %d, want 1; stderr %s", tt.args, code, errOut)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr %q lacks %q", tt.args, errOut, w)
			}
		}
	}
}

func TestTapCommandUsage(t *testing.T) {
	if code, _, errOut := runCmd(t, "", "tap"); code != 2 || !strings.Contains(errOut, "usage: tickline tap") {
		t.Errorf("no --config: code %d, stderr %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "", "tap", "--config", "../../configs/demo.yaml", "--gateways", "gw-nope"); code != 1 || !strings.Contains(errOut, "gw-nope") {
		t.Errorf("unknown gateway: code %d, stderr %s", code, errOut)
	}
}

// TestKeygen: the printed keys parse, the public key belongs to the secret, and
// --secret-file writes a 0600 file that the config's key-file loader reads.
func TestKeygen(t *testing.T) {
	code, out, errOut := runCmd(t, "", "keygen")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	var pubText, secText string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		v = strings.Trim(v, `"`)
		switch k {
		case "public_key":
			pubText = v
		case "secret_key":
			secText = v
		}
	}
	pub, err := zmtp.ParseKey(pubText)
	if err != nil {
		t.Fatalf("public %q: %v", pubText, err)
	}
	sec, err := zmtp.ParseKey(secText)
	if err != nil {
		t.Fatalf("secret %q: %v", secText, err)
	}
	if zmtp.PublicFromSecret(sec) != pub {
		t.Fatal("public key does not belong to the secret key")
	}
	path := filepath.Join(t.TempDir(), "k.key")
	code, out, _ = runCmd(t, "", "keygen", "--secret-file", path)
	if code != 0 || strings.Contains(out, "secret") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	k, err := zmtp.ReadKeyFile(path)
	if err != nil || !strings.Contains(out, zmtp.PublicFromSecret(k).String()) {
		t.Fatalf("key file: %v (stdout %q)", err, out)
	}
	if code, _, _ := runCmd(t, "", "keygen", "--secret-file", path); code != 1 {
		t.Fatalf("overwrote an existing key file: code %d", code)
	}
}
