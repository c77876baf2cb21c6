package configs

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
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
	if _, err := DemoAt(Demo, "127.0.0.1:1", "okx", "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("an exchange the demo does not carry: err %v", err)
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
// it; the README's venue list, both documents' sentence of production regions and the KRW
// list match the venue table and the production topology; configs/README.md gives its
// name, symbol row and simulator URL; and every count of venues in the documents is the
// table's.
func TestDocsNameEveryVenue(t *testing.T) {
	prod, err := config.Load("production.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string][]string{} // region → the venues its gateways carry
	for _, g := range prod.Gateways {
		for name := range g.Feeds {
			if !slices.Contains(regions[g.Region], name) {
				regions[g.Region] = append(regions[g.Region], name)
			}
		}
	}
	var names, krw []string
	for _, v := range wire.Venues() {
		names = append(names, v.Name)
		if v.Quote == "KRW" {
			krw = append(krw, v.Name)
		}
	}
	docs := map[string]string{}
	for _, f := range []string{"README.md", "../README.md", "../ARCHITECTURE.md", "../internal/sim/doc.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = string(b)
	}
	ref, top := docs["README.md"], docs["../README.md"]

	carried := slices.Concat(slices.Collect(maps.Values(regions))...)
	sameSet(t, "configs/production.example.yaml: the venues its gateways carry", carried, names)
	list := regexp.MustCompile(`venues' WebSocket feeds \(([^)]*)\)`).FindStringSubmatch(top)
	if list == nil {
		t.Fatal("README.md: no \"venues' WebSocket feeds (…)\" list")
	}
	sameSet(t, "README.md: the first paragraph's venue list", splitNames(list[1]), names)
	for _, d := range []struct{ file, text string }{{"README.md", top}, {"configs/README.md", ref}} {
		m := regexp.MustCompile(`regions \(((?:[a-z]+: [a-z, ]+(?: — )?)+)\)`).FindStringSubmatch(strings.ReplaceAll(d.text, "\n", " "))
		if m == nil {
			t.Errorf("%s: no sentence of production regions \"regions (korea: … — …)\"", d.file)
			continue
		}
		for _, part := range strings.Split(m[1], " — ") {
			region, list, _ := strings.Cut(part, ": ")
			sameSet(t, d.file+": production region "+region, splitNames(list), regions[region])
		}
	}
	fx := regexp.MustCompile("quote `KRW` in the venue table, `shared/wire/venue.go`: ([a-z, ]+)\\)").FindStringSubmatch(ref)
	if fx == nil {
		t.Fatal("configs/README.md: no KRW list in strategy.fx")
	}
	sameSet(t, "configs/README.md: strategy.fx's KRW venues", splitNames(fx[1]), krw)
	for _, v := range wire.Venues() {
		for _, want := range []string{"`" + v.Name + "`", "ws://127.0.0.1:18080/" + v.Name + "/"} {
			if !strings.Contains(ref, want) {
				t.Errorf("configs/README.md: no %q for %s", want, v.Name)
			}
		}
		symbolRow := regexp.MustCompile("(?m)^\\| " + v.Name + " \\|.*`" + regexp.QuoteMeta(v.SymbolExample) + "`")
		if !symbolRow.MatchString(ref) {
			t.Errorf("configs/README.md: no symbol table row for %s with its example %s", v.Name, v.SymbolExample)
		}
	}
	// "ten venues", "ten adapters", "all ten exchanges" (not "two exchanges of a region").
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
	num := `(` + strings.Join(words[1:], "|") + `|\d+)`
	count := regexp.MustCompile(`(?i)\b(?:all )?` + num + ` (?:venues|adapters|protocols)\b|\ball ` + num + ` exchanges\b`)
	for f, text := range docs {
		for _, m := range count.FindAllStringSubmatch(text, -1) {
			if n := strings.ToLower(m[1] + m[2]); n != words[min(len(names), len(words)-1)] && n != strconv.Itoa(len(names)) {
				t.Errorf("%s: %q, but the venue table has %d venues", f, m[0], len(names))
			}
		}
	}
}

// splitNames reads a comma-separated list of venue names as the documents write them
// ("Gate.io", "OKX"): lower case, without dots.
func splitNames(list string) []string {
	var out []string
	for _, n := range strings.Split(list, ",") {
		out = append(out, strings.ReplaceAll(strings.ToLower(strings.TrimSpace(n)), ".", ""))
	}
	return out
}

// sameSet fails t unless got and want hold the same names.
func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(g, w) {
		t.Errorf("%s: %v, want %v", what, g, w)
	}
}
