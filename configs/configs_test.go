package configs

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tickline/tickline/shared/config"
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
