package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestEnvExpansion: ${NAME} in a value comes from the environment, a comma string fills a
// list (archiver.seeds: ${KAFKA_SEEDS}), ${NAME:-default} falls back, comments are left
// alone, and an unset variable is an error naming it and its line.
func TestEnvExpansion(t *testing.T) {
	base := readBase(t)
	t.Setenv("TL_TEST_SEEDS", "127.0.0.1:19092, 127.0.0.1:19094,127.0.0.1:19096")
	t.Setenv("TL_TEST_EMPTY", "")
	withSeeds := func(v string) string {
		return strings.Replace(base, "seeds: [127.0.0.1:9092]", "seeds: "+v+" # ${TL_TEST_NOT_SET} in a comment", 1)
	}
	topo, err := Parse([]byte(withSeeds("${TL_TEST_SEEDS}")))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:19092", "127.0.0.1:19094", "127.0.0.1:19096"}; !slices.Equal(topo.Archiver.Seeds, want) {
		t.Errorf("seeds %q, want %q", topo.Archiver.Seeds, want)
	}
	if topo, err = Parse([]byte(withSeeds("${TL_TEST_EMPTY:-127.0.0.1:19092}"))); err != nil || !slices.Equal(topo.Archiver.Seeds, []string{"127.0.0.1:19092"}) {
		t.Errorf("default: %v %q", err, topo.Archiver.Seeds)
	}
	if topo, err = Parse([]byte(withSeeds("[127.0.0.1:1, 127.0.0.1:2]"))); err != nil || len(topo.Archiver.Seeds) != 2 {
		t.Errorf("a YAML list still works: %v", err)
	}
	_, err = Parse([]byte(withSeeds("${TL_TEST_NOT_SET}")))
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "TL_TEST_NOT_SET") || fe.Line == 0 {
		t.Fatalf("unset variable: %v (line %v)", err, fe)
	}
	want := strings.Count(base[:strings.Index(base, "seeds:")], "\n") + 1
	if fe.Line != want {
		t.Errorf("error on line %d, want %d", fe.Line, want)
	}
}
