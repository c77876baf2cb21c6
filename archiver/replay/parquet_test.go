package replay

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestReplayParquetReadable(t *testing.T) {
	seeds, topo := newArchive(t, "ticks.")
	threeStreams(t, seeds, "ticks.", 3000) // 9000 rows: more than one writer batch
	path := filepath.Join(t.TempDir(), "out.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	runReplay(t, topo, Options{}, NewParquetSink(f))

	rows, err := parquet.ReadFile[ParquetRow](path)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if len(rows) != 9000 {
		t.Fatalf("%d rows, want 9000", len(rows))
	}
	for i, r := range rows {
		if i > 0 && r.Time < rows[i-1].Time {
			t.Fatalf("row %d out of time order", i)
		}
		switch r.Kind {
		case "trade":
			if r.Price != "65000.10" || r.Side != "sell" || r.Exchange != "binance" {
				t.Fatalf("trade row %+v", r)
			}
		case "bbo":
			if r.BidPx != "64999.9" || r.AskSz != "2" || r.Exchange != "okx" {
				t.Fatalf("bbo row %+v", r)
			}
		default:
			t.Fatalf("row %+v", r)
		}
	}

	// DuckDB, when installed (pip install duckdb), reads the same file.
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import duckdb").Run() != nil {
		t.Log("python3 with duckdb not available: DuckDB check skipped")
		return
	}
	out, err := exec.Command(py, "-c", `import duckdb, sys
print(duckdb.sql("select count(*), count(distinct instrument), sum(cast(price as decimal(18,2))) filter (where kind = 'trade') from read_parquet('`+path+`')").fetchall()[0])`).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "(9000, 2, Decimal('390000600.00'))" {
		t.Errorf("duckdb says %s", got)
	}
}
