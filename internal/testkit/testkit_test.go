package testkit

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fatalTB records a Fatalf and stops the helper the way testing does (it never returns).
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// fails runs f with a fatalTB and returns what it failed with ("" when it did not fail).
func fails(f func(testing.TB)) (msg string) {
	tb := &fatalTB{}
	defer func() {
		if r := recover(); r != nil && r != any(tb) {
			panic(r)
		}
		msg = tb.msg
	}()
	f(tb)
	return ""
}

func TestPoll(t *testing.T) {
	var n atomic.Int64
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	Poll(t, 10*time.Second, "three increments", func() bool { return n.Load() == 3 })

	calls := 0
	msg := fails(func(tb testing.TB) {
		Poll(tb, 20*time.Millisecond, "never", func() bool { calls++; return false })
	})
	if !strings.Contains(msg, "timed out after 20ms waiting for never") {
		t.Fatalf("Poll past its deadline failed with %q", msg)
	}
	if calls < 2 {
		t.Fatalf("Poll asked the condition %d times in 20 ms", calls)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { fmt.Fprintf(&b, "line %d\n", i) })
	}
	wg.Wait()
	if got := len(b.Lines()); got != 8 {
		t.Fatalf("%d lines, want 8:\n%s", got, b.String())
	}
	if !strings.Contains(b.String(), "line 7\n") {
		t.Fatalf("lost a write:\n%s", b.String())
	}
}

func TestLog(t *testing.T) {
	if Log(t) == nil {
		t.Fatal("no logger")
	}
}

// TestOnlyTestImports: no package's non-test code imports testkit or its subpackages
// (they call t.Fatal and start test brokers; product code must not link them).
func TestOnlyTestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "github.com/tickline/tickline/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const kit = "github.com/tickline/tickline/internal/testkit"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], kit) {
			continue
		}
		for _, imp := range f[1:] {
			if imp == kit || strings.HasPrefix(imp, kit+"/") {
				t.Errorf("%s imports %s outside its tests", f[0], imp)
			}
		}
	}
}
