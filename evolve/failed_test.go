package evolve

import (
	"math"
	"testing"
)

// failedFixture is one population of parents and offspring, some or all of
// them failed.
type failedFixture struct {
	name       string
	generation int
	parents    []Individual[[]float64]
	offspring  []Individual[[]float64]
}

// failedFixtures lists populations of 6 with every share of failures: all
// failed, all offspring or all parents failed, some failed, and the first
// generation (no parents) all or partly failed. Failed individuals carry
// no objectives, NaN or objectives of the wrong length: none is read.
func failedFixtures() []failedFixture {
	healthy := func(x, f1, f2 float64) Individual[[]float64] {
		return Individual[[]float64]{X: []float64{x, 0.5, 0.5}, F: []float64{f1, f2}}
	}
	failed := func(x float64, f []float64) Individual[[]float64] {
		return Individual[[]float64]{X: []float64{x, 0.25, 0.75}, F: f, Failed: true}
	}
	bad := func(base float64) []Individual[[]float64] {
		return []Individual[[]float64]{
			failed(base+0.01, nil), failed(base+0.02, []float64{math.NaN(), 1}), failed(base+0.03, []float64{1}),
			failed(base+0.04, nil), failed(base+0.05, []float64{-1, -1}), failed(base+0.06, nil),
		}
	}
	good := func(base float64) []Individual[[]float64] {
		return []Individual[[]float64]{
			healthy(base+0.01, 0.1, 0.9), healthy(base+0.02, 0.5, 0.5), healthy(base+0.03, 0.9, 0.1),
			healthy(base+0.04, 0.6, 0.6), healthy(base+0.05, 0.2, 0.95), healthy(base+0.06, 1, 1),
		}
	}
	mixed := func(base float64) []Individual[[]float64] {
		m := good(base)
		m[1], m[4] = failed(base+0.02, nil), failed(base+0.05, []float64{math.NaN(), math.NaN()})
		return m
	}
	return []failedFixture{
		{"all failed", 2, bad(0), bad(0.1)},
		{"offspring failed", 2, good(0), bad(0.1)},
		{"parents failed", 2, bad(0), good(0.1)},
		{"some failed", 2, mixed(0), mixed(0.1)},
		{"first generation failed", 0, nil, bad(0.1)},
		{"first generation partly failed", 0, nil, mixed(0.1)},
	}
}

// TestSelectionWithFailures runs survival, mating and breeding of each
// algorithm on populations with any number of failed individuals: no
// panic, no error, and failed individuals rank below every healthy one.
func TestSelectionWithFailures(t *testing.T) {
	t.Parallel()
	z := mustZDT(t, "zdt1", 3)
	for name, alg := range zdtAlgorithms(t, z) {
		e, err := NewEngine(alg, Config{Seed: 3, PopSize: 6})
		if err != nil {
			t.Fatal(err)
		}
		for _, fx := range failedFixtures() {
			what := name + "/" + fx.name
			var pp []Individual[[]float64]
			if fx.generation > 0 {
				pp = fx.parents
			}
			got := e.Survive(fx.generation, pp, fx.offspring)
			if len(got) != 6 {
				t.Fatalf("%s: %d survivors, want 6", what, len(got))
			}
			healthy := 0
			for _, ind := range append(append([]Individual[[]float64](nil), pp...), fx.offspring...) {
				if !ind.Failed {
					healthy++
				}
			}
			seenFailed := false
			kept := 0
			for i, ind := range got {
				if ind.Failed {
					seenFailed = true
					continue
				}
				kept++
				if seenFailed {
					t.Errorf("%s: healthy survivor %d after a failed one", what, i)
				}
			}
			if want := min(healthy, 6); kept != want {
				t.Errorf("%s: %d healthy survivors, want %d", what, kept, want)
			}
			front := ParetoSet(got)
			if healthy > 0 && len(front) == 0 {
				t.Errorf("%s: empty Pareto set with %d healthy survivors", what, kept)
			}
			hv, err := Hypervolume(Objectives(front), []float64{1.1, 1.1})
			if err != nil || (kept == 0 && hv != 0) {
				t.Errorf("%s: hypervolume %v, %v", what, hv, err)
			}
			gen, err := e.Breed(fx.generation+1, got)
			if err != nil {
				t.Fatalf("%s: breeding: %v", what, err)
			}
			children := gen.Children()
			if len(children) != alg.Offspring(6) {
				t.Errorf("%s: %d children, want %d", what, len(children), alg.Offspring(6))
			}
			for i, c := range children {
				if len(c.X) != 3 {
					t.Errorf("%s: child %d = %v", what, i, c.X)
				}
			}
		}
	}
}

// TestEngineRefusesHugePopulation checks the engine's own bound: a
// population past MaxPopSize is an error, not a makeslice panic or an
// allocation of its size.
func TestEngineRefusesHugePopulation(t *testing.T) {
	t.Parallel()
	nsga2, _ := NewNSGA2[int](bits{width: 4}, NSGA2Config{})
	for _, n := range []int{MaxPopSize + 1, 1_000_000_000, math.MaxInt} {
		if _, err := NewEngine[int](nsga2, Config{PopSize: n}); err == nil {
			t.Errorf("population %d: no error", n)
		}
	}
	if _, err := NewEngine[int](nsga2, Config{PopSize: MaxPopSize}); err != nil {
		t.Errorf("population MaxPopSize: %v", err)
	}
}
