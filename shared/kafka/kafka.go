// Package kafka holds what every tickline Kafka client shares: the connection to the
// brokers as the topology's archiver section describes it (seeds, TLS, SASL), for the
// archiver and the replay tool alike, through franz-go's own options.
package kafka

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tickline/tickline/shared/config"
)

// ErrSecurity: a TLS or SASL setting could not be turned into a client option (a file
// missing or not PEM, an unknown mechanism).
var ErrSecurity = errors.New("kafka: security settings")

// maxSecretFile bounds the files read here (CA bundles, keys, password files).
const maxSecretFile = 1 << 20

// ClientOpts returns the options that connect a franz-go client to the brokers of a:
// seed brokers, TLS and SASL. Errors wrap ErrSecurity and name the config key.
func ClientOpts(a *config.Archiver) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(a.Seeds...)}
	if a.TLS.Enabled {
		tc, err := TLSConfig(a.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if a.SASL.Mechanism != "" {
		m, err := Mechanism(a.SASL)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// TLSConfig builds the client TLS configuration of t (TLS 1.2 at least; the brokers'
// certificates verified against t.CAFile, or the system's roots).
func TLSConfig(t config.KafkaTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := readFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: archiver.tls.ca_file: %w", ErrSecurity, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: archiver.tls.ca_file %s: no PEM certificate in it", ErrSecurity, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := readFile(t.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: archiver.tls.cert_file: %w", ErrSecurity, err)
		}
		key, err := readFile(t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: archiver.tls.key_file: %w", ErrSecurity, err)
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("%w: archiver.tls.cert_file/key_file: %w", ErrSecurity, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Mechanism returns the SASL mechanism s names, with its credentials.
func Mechanism(s config.KafkaSASL) (sasl.Mechanism, error) {
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := readFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: archiver.sasl.password_file: %w", ErrSecurity, err)
		}
		pass = string(bytes.TrimRight(b, "\r\n"))
	}
	switch s.Mechanism {
	case "PLAIN":
		return plain.Auth{User: s.Username, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%w: archiver.sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", ErrSecurity, s.Mechanism)
}

// readFile reads a small file, refusing one larger than maxSecretFile.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxSecretFile)
	}
	return b, nil
}
