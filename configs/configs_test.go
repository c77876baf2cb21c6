package configs

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/config"
	"github.com/tickline/tickline/shared/wire"
)

func TestDemoEmbeddedIsValid(t *testing.T) {
	if _, err := config.Parse(Demo); err != nil {
		t.Fatal(err)
	}
}

// TestDemoAt: every feed left points at the given simulator address, and every gateway
// keeps exactly the named exchanges (all of them when none is named).
func TestDemoAt(t *testing.T) {
	all, err := DemoAt(Demo, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	some, err := DemoAt(Demo, "127.0.0.1:1", "okx", "upbit")
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range some.Gateways {
		if len(g.Feeds) != 2 || g.Feeds["okx"] == nil || g.Feeds["upbit"] == nil {
			t.Errorf("%s: feeds %v, want okx and upbit", g.ID, g.Feeds)
		}
		if len(all.Gateways[i].Feeds) < 10 {
			t.Errorf("%s: %d feeds with no exchange named, want every one", g.ID, len(all.Gateways[i].Feeds))
		}
		for name, f := range all.Gateways[i].Feeds {
			if !strings.HasPrefix(f.WSURL, "ws://127.0.0.1:1/"+name) || strings.Contains(f.RESTURL, DemoSim) {
				t.Errorf("%s %s: %s %s still at the demo's simulator", g.ID, name, f.WSURL, f.RESTURL)
			}
		}
	}
}

// TestGrafanaDashboardMetricsExist: every tickline_ metric the dashboard queries is
// registered by one of the processes, so the dashboard cannot silently rot.
func TestGrafanaDashboardMetricsExist(t *testing.T) {
	b, err := os.ReadFile("grafana/tickline.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, f := range []string{"../gateway/metrics.go", "../strategy/metrics.go", "../archiver/metrics.go", "../archiver/replay/metrics.go"} {
		s, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(s)
	}
	code := src.String()
	re := regexp.MustCompile(`tickline_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range re.FindAllString(tg.Expr, -1) {
				n++
				short := strings.TrimPrefix(name, "tickline_")
				arch := strings.TrimPrefix(short, "archiver_")
				if !strings.Contains(code, `"`+short+`"`) && !strings.Contains(code, `"`+name+`"`) &&
					!(strings.HasPrefix(short, "archiver_") && (strings.Contains(code, `"`+arch+`"`) || strings.Contains(code, name+"{"))) {
					t.Errorf("dashboard queries %s, which no process registers", name)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d metric references found", n)
	}
}

// TestDocsNameEveryVenue: adding a venue (ARCHITECTURE.md, "Add a venue", step 5) reaches
// the production example and the documents a user reads: the production topology carries
// it, configs/README.md lists its name, its symbol style and its simulator URL, and the
// README names it.
func TestDocsNameEveryVenue(t *testing.T) {
	prod, err := config.Load("production.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	carried := map[string]bool{}
	for _, g := range prod.Gateways {
		for name := range g.Feeds {
			carried[name] = true
		}
	}
	ref, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	top, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.ReplaceAll(strings.ToLower(string(top)), ".", "")
	for _, v := range wire.Venues() {
		if !carried[v.Name] {
			t.Errorf("configs/production.example.yaml: no gateway carries %s", v.Name)
		}
		for _, want := range []string{"`" + v.Name + "`", "ws://127.0.0.1:18080/" + v.Name + "/"} {
			if !strings.Contains(string(ref), want) {
				t.Errorf("configs/README.md: no %q for %s", want, v.Name)
			}
		}
		symbolRow := regexp.MustCompile("(?m)^\\| " + v.Name + " \\|.*`" + regexp.QuoteMeta(v.SymbolExample) + "`")
		if !symbolRow.Match(ref) {
			t.Errorf("configs/README.md: no symbol table row for %s with its example %s", v.Name, v.SymbolExample)
		}
		if !strings.Contains(readme, v.Name) {
			t.Errorf("README.md does not name %s", v.Name)
		}
	}
}
