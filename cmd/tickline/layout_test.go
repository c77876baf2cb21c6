package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoBenchImports: bench/ is a leaf. No package outside bench/ may depend on a bench/
// package, directly or through another package (test files apart: `go list`'s Deps are the
// non-test imports). The product code that composes stages lives in internal/.
func TestNoBenchImports(t *testing.T) {
	const module = "github.com/tickline/tickline"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	packages := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		if pkg == module+"/bench" || strings.HasPrefix(pkg, module+"/bench/") {
			continue
		}
		packages++
		for _, dep := range fields[1:] {
			if strings.HasPrefix(dep, module+"/bench/") {
				t.Errorf("%s depends on %s: bench/ holds harnesses only; move the code to internal/", pkg, dep)
			}
		}
	}
	if packages < 10 {
		t.Fatalf("go list named %d packages outside bench/; expected the whole module", packages)
	}
}
