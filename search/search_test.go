package search

import (
	"slices"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
)

func TestGenomeSpaceDropsUnbuildableClasses(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Search.Dims.Width = 32 // 2 heads of 16: SA-3 (4 heads per K/V head) cannot be built
	got := GenomeSpace(c).ClassIDs()
	if slices.Contains(got, genome.SA3) || slices.Contains(got, genome.SA3+9) {
		t.Errorf("classes %v keep SA-3", got)
	}
	if !slices.Contains(got, genome.SA4) || len(got) != genome.NumClasses-2 {
		t.Errorf("classes %v", got)
	}
	if got := GenomeSpace(config.Default()).ClassIDs(); len(got) != genome.NumClasses {
		t.Errorf("width 64 drops classes: %v", got)
	}
}

func TestSpaceEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	sp, err := NewSpace(genome.Space{Depth: 8, Classes: []int{1, 5, 7, 9, 18}}, 0.1, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := evolve.NewRand(1)
	for range 200 {
		g := sp.Sample(r)
		if err := genome.Validate(g, sp.Genome()); err != nil {
			t.Fatalf("sample %s: %v", g, err)
		}
		if back := sp.Decode(sp.Encode(g)); sp.Key(back) != sp.Key(g) {
			t.Fatalf("decode(encode(%s)) = %s", g, back)
		}
		m := sp.Mutate(r, g)
		a, b := sp.Crossover(r, g, m)
		for _, x := range []genome.Genome{m, a, b} {
			if err := genome.Validate(x, sp.Genome()); err != nil {
				t.Fatalf("variation %s: %v", x, err)
			}
		}
	}
	lo, hi := sp.Bounds()
	wild := make([]float64, len(lo))
	for i := range wild {
		wild[i] = hi[i]*3 - lo[i]*7 + 0.4
	}
	if err := genome.Validate(sp.Decode(wild), sp.Genome()); err != nil {
		t.Errorf("out-of-box coordinates decode to an invalid genome: %v", err)
	}
}

func TestEnginesForEveryAlgorithm(t *testing.T) {
	t.Parallel()
	for _, name := range []string{config.NSGA2, config.GA, config.Firefly} {
		c := config.Default()
		c.Algorithm.Name = name
		e, err := NewEngine(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		seeds, err := SeedGenomes(c)
		if err != nil {
			t.Fatal(err)
		}
		xs, err := e.Initial(seeds)
		if err != nil || len(xs) != c.Population {
			t.Fatalf("%s: initial %d, %v", name, len(xs), err)
		}
	}
}

func TestVector(t *testing.T) {
	t.Parallel()
	v, err := Vector([]string{"params", "mad_score"}, map[string]float64{"mad_score": 0.5, "params": 10})
	if err != nil || !slices.Equal(v, []float64{10, 0.5}) {
		t.Errorf("Vector = %v, %v", v, err)
	}
	if _, err := Vector([]string{"latency"}, map[string]float64{}); err == nil {
		t.Error("a missing objective passed")
	}
}
