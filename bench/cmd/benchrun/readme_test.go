package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUpdateReadme: only the text between the baseline markers changes; a file without
// them is an error, not a silent no-op.
func TestUpdateReadme(t *testing.T) {
	p := filepath.Join(t.TempDir(), "README.md")
	in := "# x\n\nbefore\n" + readmeBegin + "\nold table\n" + readmeEnd + "\nafter\n"
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(p, "new table\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "# x\n\nbefore\n" + readmeBegin + "\nnew table\n" + readmeEnd + "\nafter\n"
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if err := os.WriteFile(p, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(p, "x"); err == nil || !strings.Contains(err.Error(), readmeBegin) {
		t.Errorf("missing markers: err %v", err)
	}
}
