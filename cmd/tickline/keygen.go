package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/tickline/tickline/shared/zmtp"
)

// runKeygen prints a new CURVE keypair in Z85 (like libzmq's zmq_curve_keypair), or
// with --secret-file writes the secret key to a new file (mode 0600) and prints only
// the public key.
func runKeygen(_ context.Context, fs *flag.FlagSet, args []string, e *env) error {
	secretFile := fs.String("secret-file", "", "write the secret key to this new file (0600) instead of printing it")
	if err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	pub, sec, err := zmtp.GenerateKeyPair()
	if err != nil {
		return err
	}
	if *secretFile != "" {
		f, err := os.OpenFile(*secretFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		_, werr := fmt.Fprintln(f, sec.String())
		if err := errors.Join(werr, f.Close()); err != nil {
			return fmt.Errorf("keygen: writing %s: %w", *secretFile, err)
		}
		fmt.Fprintf(e.stdout, "public_key: %q\n", pub.String())
		return nil
	}
	fmt.Fprintf(e.stdout, "public_key: %q\nsecret_key: %q\n", pub.String(), sec.String())
	return nil
}
