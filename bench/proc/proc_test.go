package proc

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// start runs a shell script as the child.
func start(t *testing.T, script string) *Proc {
	t.Helper()
	p, err := Start(exec.Command("sh", "-c", script))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.In.Close(); _ = p.Cmd.Wait() })
	return p
}

func TestNextAndExpect(t *testing.T) {
	p := start(t, "echo one; echo noise; echo 'EP tcp://x'; read cmd; echo \"got $cmd\"")
	if l, err := p.Next(10 * time.Second); err != nil || l != "one" {
		t.Fatalf("Next = %q, %v; want one", l, err)
	}
	if l, err := p.Expect("EP ", 10*time.Second); err != nil || l != "EP tcp://x" {
		t.Fatalf("Expect = %q, %v; want the EP line", l, err)
	}
	if _, err := p.In.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if l, err := p.Next(10 * time.Second); err != nil || l != "got go" {
		t.Fatalf("Next = %q, %v; want the child's answer", l, err)
	}
	if _, err := p.Next(10 * time.Second); err == nil || !strings.Contains(err.Error(), "ended") {
		t.Fatalf("Next after exit: %v, want output ended", err)
	}
}

func TestExpectEnded(t *testing.T) {
	p := start(t, "echo a; echo b")
	if _, err := p.Expect("DONE", 10*time.Second); err == nil || !strings.Contains(err.Error(), `before "DONE"`) {
		t.Fatalf("Expect = %v, want output ended before DONE", err)
	}
}

func TestTimeouts(t *testing.T) {
	p := start(t, "read x") // says nothing until stdin closes
	if _, err := p.Next(20 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("Next = %v, want a timeout", err)
	}
	if _, err := p.Expect("X", 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "within") {
		t.Fatalf("Expect = %v, want a timeout", err)
	}
}

func TestStderrBounded(t *testing.T) {
	p := start(t, "head -c 10000 /dev/zero | tr '\\0' e >&2; echo x >&2; echo done")
	if _, err := p.Expect("done", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.In.Close()
	if err := p.Cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stderr(); len(s) != StderrBytes || strings.Trim(s, "e") != "" {
		t.Fatalf("stderr kept %d bytes (%q…), want the first %d", len(s), s[:min(len(s), 20)], StderrBytes)
	}
}
