package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterrupted: SIGINT/SIGTERM (the cancelled context) ends check-config and normalize
// while they wait on input that never comes (a FIFO nobody writes, a silent stdin); they
// used to ignore it.
func TestInterrupted(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "topo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	for _, tc := range []struct {
		args  []string
		stdin io.Reader
	}{
		{[]string{"check-config", fifo}, strings.NewReader("")},
		{[]string{"normalize", "--exchange", "binance"}, pr},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, tc.args, &env{stdin: tc.stdin, stdout: &out, stderr: &errOut}) }()
		cancel()
		select {
		case code := <-done:
			if code != 1 || !strings.Contains(errOut.String(), "interrupted") {
				t.Errorf("%v: code %d, stderr %q", tc.args, code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%v ignored the interrupt", tc.args)
		}
	}
	// Release the check-config goroutine still opening the FIFO.
	if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
		f.Close()
	}
}
