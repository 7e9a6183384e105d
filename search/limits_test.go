package search

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
)

// TestEngineAtLimits builds the first population and the first bred
// children of the largest runs a config accepts: population x depth at
// config.MaxPopulationSlots (4096 x 64), and the deepest genomes (a
// population of 32 at depth 1024, an eighth of the 256 the product
// allows, to keep the test short). The coordinator's share of the work
// stays small: the population's genomes hold a few MB. It also checks that
// the engine's own bound is above the config's.
func TestEngineAtLimits(t *testing.T) {
	if config.MaxPopulation > evolve.MaxPopSize {
		t.Fatalf("config.MaxPopulation %d exceeds evolve.MaxPopSize %d", config.MaxPopulation, evolve.MaxPopSize)
	}
	if testing.Short() {
		t.Skip("builds populations of 262144 slots")
	}
	for _, shape := range [][2]int{{config.MaxPopulation, config.MaxPopulationSlots / config.MaxPopulation}, {config.MaxPopulationSlots / config.MaxDepth / 8, config.MaxDepth}} {
		c, err := config.Parse(fmt.Appendf(nil, "population: %d\nsearch: {depth: %d}\nobjectives: [params, cache_bytes]\n", shape[0], shape[1]))
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		e, err := NewEngine(c)
		if err != nil {
			t.Fatal(err)
		}
		seeds, err := SeedGenomes(c)
		if err != nil {
			t.Fatal(err)
		}
		xs, err := e.Initial(seeds)
		if err != nil {
			t.Fatal(err)
		}
		pop := make([]evolve.Individual[genome.Genome], len(xs))
		for i, x := range xs {
			pop[i] = evolve.Individual[genome.Genome]{X: x, F: []float64{float64(i % 97), float64(i % 89)}}
		}
		gen, err := e.Breed(1, pop)
		if err != nil {
			t.Fatal(err)
		}
		_ = gen.Child(7)
		elapsed := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		live := int64(after.HeapAlloc-before.HeapAlloc) >> 20
		t.Logf("population %d x depth %d: %s, %d MB allocated, %d MB live", shape[0], shape[1],
			elapsed.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20, live)
		if live > 64 || elapsed > time.Minute {
			t.Errorf("population %d x depth %d: %s and %d MB live for the first population", shape[0], shape[1], elapsed, live)
		}
		runtime.KeepAlive(gen)
	}
}
