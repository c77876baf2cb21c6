package kafkatest

import (
	"fmt"
	"runtime"
	"testing"
)

// outcomeTB records whether NewCluster skipped or failed the test it was given; both end
// the calling goroutine, as the testing package's do.
type outcomeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (o *outcomeTB) Helper() {}
func (o *outcomeTB) Skipf(format string, args ...any) {
	o.skipped, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (o *outcomeTB) Fatalf(format string, args ...any) {
	o.failed, o.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (o *outcomeTB) Fatal(args ...any) {
	o.failed, o.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func newClusterOutcome(t *testing.T, minNodes int) *outcomeTB {
	o := &outcomeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewCluster(o, minNodes)
	}()
	<-done
	return o
}

// TestNewClusterFailsInsteadOfSkipping: with KAFKA_FAULT=1 (the CI fault step), a cluster
// that is not what fault tests need fails the test; only without KAFKA_FAULT=1 does it skip.
// Before, every case skipped, and the fault step passed having killed no broker.
func TestNewClusterFailsInsteadOfSkipping(t *testing.T) {
	for _, tt := range []struct {
		name, fault, seeds, runDir string
		wantSkip                   bool
	}{
		{"fault tests not asked for", "", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "", true},
		{"no seeds", "1", "", "", false},
		{"too few brokers", "1", "127.0.0.1:1", "", false},
		{"no kafka.sh cluster state", "1", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", t.TempDir(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvFault, tt.fault)
			t.Setenv(EnvSeeds, tt.seeds)
			t.Setenv(EnvRunDir, tt.runDir)
			o := newClusterOutcome(t, 3)
			if o.skipped != tt.wantSkip || o.failed == tt.wantSkip {
				t.Errorf("skipped %v, failed %v (%s); want skipped %v", o.skipped, o.failed, o.msg, tt.wantSkip)
			}
		})
	}
}
