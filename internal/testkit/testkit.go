// Package testkit holds what tests all over tickline share: polling with a deadline
// ([Poll]), a logger that speaks only under -v ([Log]), and a buffer that concurrent
// writers may share ([SyncBuffer]). Its subpackage kafkatest starts Kafka for tests, in
// process (kfake) or as the real broker named by KAFKA_SEEDS.
//
// Only _test.go files import testkit (TestOnlyTestImports checks it): product code never
// polls, and a test helper here may call t.Fatal.
package testkit

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"
)

// Poll calls cond until it returns true and fails the test when d passes first, naming
// what it waited for. It is the tests' only way to wait for something another goroutine
// or process does: never a fixed sleep. The interval starts at 1 ms and doubles up to
// 50 ms, so a quick condition is seen at once and a slow one (a file read, a Kafka
// request) is not asked hundreds of times a second. Call it from the test's goroutine.
func Poll(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Log returns a logger for the code under test: text to stderr (Info and up) with -v,
// discarded otherwise, so a passing run stays quiet and a failing one can be rerun with
// -v to read what the code said.
func Log(t testing.TB) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// SyncBuffer is a bytes.Buffer that several goroutines may write and read at once (a
// logger's handler, a subcommand's stdout while the test polls it). The zero value is
// ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

var _ io.Writer = (*SyncBuffer)(nil)

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Len returns how many bytes were written so far.
func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// Lines returns copies of the complete and partial lines written so far, without their
// newlines.
func (s *SyncBuffer) Lines() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// EnvIsolated names the variable that says the machine runs this test alone (.ci/run's
// isolated step): only then does a test assert a rate or a latency against another
// measured in the same run.
const EnvIsolated = "TICKLINE_ISOLATED"

// RateCheck reports a rate comparison that only an isolated run can judge: with
// EnvIsolated=1 a failed comparison fails the test; otherwise (make test runs packages in
// parallel, beside a Kafka cluster) it is logged, so that the test's other checks still run
// everywhere while its timing claim is checked where timing means something.
func RateCheck(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv(EnvIsolated) == "1" {
		t.Errorf(format, args...)
		return
	}
	t.Logf("not asserted on a shared machine (%s=1 asserts it; .ci/run's isolated step sets it): "+format, append([]any{EnvIsolated}, args...)...)
}
