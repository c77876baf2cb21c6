package kafka

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickline/tickline/shared/config"
)

func TestClientOptsErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, maxSecretFile+1), 0o600)
	for _, tc := range []struct {
		a    config.Archiver
		want string
	}{
		{config.Archiver{TLS: config.KafkaTLS{Enabled: true, CAFile: filepath.Join(dir, "missing")}}, "archiver.tls.ca_file"},
		{config.Archiver{TLS: config.KafkaTLS{Enabled: true, CAFile: notPEM}}, "no PEM certificate"},
		{config.Archiver{TLS: config.KafkaTLS{Enabled: true, CertFile: notPEM, KeyFile: notPEM}}, "archiver.tls.cert_file/key_file"},
		{config.Archiver{SASL: config.KafkaSASL{Mechanism: "SCRAM-SHA-1", Username: "u", Password: "p"}}, "archiver.sasl.mechanism"},
		{config.Archiver{SASL: config.KafkaSASL{Mechanism: "PLAIN", Username: "u", PasswordFile: big}}, "larger than"},
	} {
		_, err := ClientOpts(&tc.a)
		if !errors.Is(err, ErrSecurity) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want ErrSecurity naming %q", tc.a, err, tc.want)
		}
	}
}

func TestPasswordFileTrimmed(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("s3cret\n"), 0o600)
	m, err := Mechanism(config.KafkaSASL{Mechanism: "PLAIN", Username: "u", PasswordFile: f})
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := m.Authenticate(context.Background(), "127.0.0.1:1")
	if err != nil || string(msg) != "\x00u\x00s3cret" {
		t.Fatalf("PLAIN message %q, err %v", msg, err)
	}
}

// TestIntegrationKafkaTLSSASL talks to the real broker's SASL_SSL listener
// (scripts/kafka/kafka.sh starts one beside the plaintext one) with each mechanism:
// produce and read back a record; a wrong password, and TLS without the broker's CA, are
// refused.
func TestIntegrationKafkaTLSSASL(t *testing.T) {
	seeds, ca := os.Getenv("KAFKA_SECURE_SEEDS"), os.Getenv("KAFKA_CA")
	if seeds == "" || ca == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI: KAFKA_SECURE_SEEDS/KAFKA_CA not set (run under scripts/kafka/with-kafka.sh)")
		}
		t.Skip("no secure Kafka listener: run under scripts/kafka/with-kafka.sh (sets KAFKA_SECURE_SEEDS, KAFKA_CA)")
	}
	user, pass := os.Getenv("KAFKA_SASL_USER"), os.Getenv("KAFKA_SASL_PASSWORD")
	base := config.Archiver{Seeds: strings.Split(seeds, ","), TLS: config.KafkaTLS{Enabled: true, CAFile: ca}}
	topic := "tickline-sasl-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	for i, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		a := base
		a.SASL = config.KafkaSASL{Mechanism: mech, Username: user, Password: pass}
		cl := client(t, &a)
		if i == 0 {
			if _, err := kadm.NewClient(cl).CreateTopic(ctx(t), 1, -1, nil, topic); err != nil {
				t.Fatalf("%s: create topic: %v", mech, err)
			}
		}
		val := []byte("hello over " + mech)
		if err := cl.ProduceSync(ctx(t), &kgo.Record{Topic: topic, Value: val}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", mech, err)
		}
		cl.Close()
		rd := client(t, &a, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []string
		for len(got) < i+1 {
			fs := rd.PollFetches(ctx(t))
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: fetch: %v", mech, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		rd.Close()
		if got[i] != string(val) {
			t.Fatalf("%s: read back %q", mech, got)
		}
	}
	// Refused: a wrong password; TLS that does not trust the broker's CA.
	bad := base
	bad.SASL = config.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: user, Password: pass + "x"}
	if err := ping(t, &bad); err == nil {
		t.Fatal("wrong password accepted")
	}
	noCA := base
	noCA.TLS.CAFile = ""
	noCA.SASL = config.KafkaSASL{Mechanism: "SCRAM-SHA-512", Username: user, Password: pass}
	if err := ping(t, &noCA); err == nil {
		t.Fatal("broker certificate accepted without its CA")
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func client(t *testing.T, a *config.Archiver, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts, err := ClientOpts(a)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func ping(t *testing.T, a *config.Archiver) error {
	cl := client(t, a, kgo.RequestRetries(0), kgo.RetryTimeout(3*time.Second))
	defer cl.Close()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.Ping(c)
}
