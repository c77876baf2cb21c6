// Package proc runs a harness's child process: commands go to its stdin, answers come
// back as lines on its stdout, and the start of its stderr is kept for error messages.
// cfloor's peers and gwbench's measured child are driven this way.
package proc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// StderrBytes is how much of a child's stderr a Proc keeps.
const StderrBytes = 4096

// Proc is a started child process. Lines is closed when its stdout ends; one goroutine
// (started by Start, ended by the child's stdout closing) reads it.
type Proc struct {
	Cmd    *exec.Cmd
	In     io.WriteCloser // the child's stdin
	Lines  <-chan string  // the child's stdout, one line per element
	stderr capWriter
}

// Start starts cmd with its stdin and stdout piped and its stderr captured. The caller
// closes In and waits for Cmd.
func Start(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{Cmd: cmd}
	cmd.Stderr = &p.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	p.In, p.Lines = in, lines
	return p, nil
}

// Stderr returns the first StderrBytes the child wrote to stderr, trimmed.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Next returns the child's next stdout line, waiting at most d.
func (p *Proc) Next(d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l, ok := <-p.Lines:
		if !ok {
			return "", errors.New("child output ended")
		}
		return l, nil
	case <-t.C:
		return "", fmt.Errorf("child said nothing for %v", d)
	}
}

// Expect skips stdout lines until one starts with prefix and returns it, waiting at most d
// in all.
func (p *Proc) Expect(prefix string, d time.Duration) (string, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case l, ok := <-p.Lines:
			if !ok {
				return "", fmt.Errorf("output ended before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-t.C:
			return "", fmt.Errorf("no %q within %v", prefix, d)
		}
	}
}

// capWriter keeps the first StderrBytes written and accepts (drops) the rest.
type capWriter struct {
	mu sync.Mutex
	b  []byte
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p[:min(len(p), StderrBytes-len(w.b))]...)
	return len(p), nil
}

func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.b))
}
