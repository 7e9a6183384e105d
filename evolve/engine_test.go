package evolve

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// runZDT runs alg on z and returns every generation's population.
func runZDT(t *testing.T, z *ZDT, alg Algorithm[[]float64], seed uint64, pop, gens int) [][]Individual[[]float64] {
	t.Helper()
	var history [][]Individual[[]float64]
	s := Settings[[]float64]{
		Config:      Config{Seed: seed, PopSize: pop},
		Generations: gens,
		OnGeneration: func(r Report[[]float64]) error {
			history = append(history, roundTrip(t, r.Population))
			return nil
		},
	}
	res, err := Run(context.Background(), z, alg, s)
	if err != nil {
		t.Fatal(err)
	}
	if !samePopulation(res.Population, history[len(history)-1]) {
		t.Fatal("final population differs from the last report")
	}
	return history
}

// samePopulation compares genomes and objectives bit for bit.
func samePopulation(a, b []Individual[[]float64]) bool {
	return slices.EqualFunc(a, b, func(x, y Individual[[]float64]) bool {
		return x.Failed == y.Failed && slices.Equal(x.X, y.X) && slices.Equal(x.F, y.F)
	})
}

func TestRunReproducible(t *testing.T) {
	t.Parallel()
	z := mustZDT(t, "zdt3", 30)
	for name, alg := range zdtAlgorithms(t, z) {
		a := runZDT(t, z, alg, 42, 24, 15)
		b := runZDT(t, z, alg, 42, 24, 15)
		for g := range a {
			if !samePopulation(a[g], b[g]) {
				t.Fatalf("%s: generation %d differs between runs with one seed", name, g)
			}
		}
		c := runZDT(t, z, alg, 43, 24, 15)
		if samePopulation(a[len(a)-1], c[len(c)-1]) {
			t.Fatalf("%s: seeds 42 and 43 end with the same population", name)
		}
	}
}

// TestStepwiseShuffledMatchesRun drives every algorithm through the Engine
// as the distributed workflow does: state stored as JSON between stages,
// every child computed alone by a fresh engine in shuffled order. It must
// give exactly the populations of Run.
func TestStepwiseShuffledMatchesRun(t *testing.T) {
	t.Parallel()
	const pop, gens, seed = 20, 12, 7
	z := mustZDT(t, "zdt1", 30)
	shuffle := rand.New(rand.NewPCG(99, 1))
	for name, alg := range zdtAlgorithms(t, z) {
		want := runZDT(t, z, alg, seed, pop, gens)
		cfg := Config{Seed: seed, PopSize: pop}
		fresh := func() *Engine[[]float64] {
			e, err := NewEngine(alg, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		eval := func(xs [][]float64) []Individual[[]float64] {
			out := make([]Individual[[]float64], len(xs))
			for _, i := range shuffle.Perm(len(xs)) {
				f, err := z.Evaluate(context.Background(), xs[i])
				if err != nil {
					t.Fatal(err)
				}
				out[i] = Individual[[]float64]{X: xs[i], F: f}
			}
			return out
		}
		xs, err := fresh().Initial(nil)
		if err != nil {
			t.Fatal(err)
		}
		stored := roundTrip(t, fresh().Survive(0, nil, roundTrip(t, eval(xs))))
		if !samePopulation(stored, want[0]) {
			t.Fatalf("%s: generation 0 differs", name)
		}
		for g := 1; g <= gens; g++ {
			n := alg.Offspring(pop)
			children := make([][]float64, n)
			for _, i := range shuffle.Perm(n) {
				gen, err := fresh().Breed(g, roundTrip(t, stored))
				if err != nil {
					t.Fatal(err)
				}
				c := gen.Child(i)
				if c.Attempt == 0 {
					// The stage split gives the same child.
					if x := gen.Mutate(i, 0, gen.Recombine(i, 0)); !slices.Equal(x, c.X) {
						t.Fatalf("%s: generation %d child %d: stages give %v, Child %v", name, g, i, x, c.X)
					}
				}
				children[i] = c.X
			}
			offspring := roundTrip(t, eval(children))
			stored = roundTrip(t, fresh().Survive(g, roundTrip(t, stored), offspring))
			if !samePopulation(stored, want[g]) {
				t.Fatalf("%s: generation %d differs from Run", name, g)
			}
		}
	}
}

func TestChildrenAreUnique(t *testing.T) {
	t.Parallel()
	v := bits{width: 6}
	alg, err := NewNSGA2[int](v, NSGA2Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(alg, Config{Seed: 3, PopSize: 16, MaxAttempts: 64})
	if err != nil {
		t.Fatal(err)
	}
	xs, err := e.Initial([]int{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if xs[0] != 0 || xs[1] != 0 {
		t.Fatalf("seed genomes not kept first: %v", xs)
	}
	seen := map[int]bool{0: true}
	for _, x := range xs[2:] {
		if seen[x] {
			t.Fatalf("initial population %v repeats %d", xs, x)
		}
		seen[x] = true
	}
	p := bitsProblem{width: 6}
	var pop []Individual[int]
	for _, x := range xs {
		f, _ := p.Evaluate(context.Background(), x)
		pop = append(pop, Individual[int]{X: x, F: f})
	}
	pop = e.Survive(0, nil, pop)
	regenerated := 0
	for g := 1; g <= 5; g++ {
		gen, err := e.Breed(g, pop)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, ind := range pop {
			seen[ind.X] = true
		}
		var off []Individual[int]
		for _, c := range gen.Children() {
			if c.Duplicate || seen[c.X] {
				t.Fatalf("generation %d: child %d duplicates an existing genome (attempt %d)", g, c.X, c.Attempt)
			}
			seen[c.X] = true
			if c.Attempt > 0 {
				regenerated++
				if x := gen.Mutate(len(off), c.Attempt, gen.Recombine(len(off), c.Attempt)); x != c.X {
					t.Fatalf("attempt %d of child %d is not reproducible", c.Attempt, len(off))
				}
			}
			f, _ := p.Evaluate(context.Background(), c.X)
			off = append(off, Individual[int]{X: c.X, F: f})
		}
		pop = e.Survive(g, pop, off)
	}
	if regenerated == 0 {
		t.Fatal("no child was regenerated; the test space is too large to exercise duplicates")
	}
}

func TestDuplicateKeptAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	// Two genomes exist; a population of two leaves no room for new ones.
	alg, err := NewNSGA2[int](bits{width: 1}, NSGA2Config{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(alg, Config{Seed: 1, PopSize: 2, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	pop := []Individual[int]{{X: 0, F: []float64{0, 1}}, {X: 1, F: []float64{1, 0}}}
	gen, err := e.Breed(1, pop)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range gen.Children() {
		if !c.Duplicate || c.Attempt != 2 {
			t.Fatalf("child %d = %+v, want a duplicate kept at attempt 2", i, c)
		}
	}
}

func TestFailedRankLast(t *testing.T) {
	t.Parallel()
	v := bits{width: 6}
	nsga2, _ := NewNSGA2[int](v, NSGA2Config{})
	ga, _ := NewGA[int](v, DefaultGAConfig())
	for _, alg := range []Algorithm[int]{nsga2, ga} {
		// Survival drops failed individuals while others can fill the places,
		// even though the failed ones carry the best objectives.
		parents := []Individual[int]{
			{X: 1, F: []float64{-5, -5}, Failed: true},
			{X: 2, F: []float64{3, 3}},
			{X: 3, Failed: true},
		}
		offspring := []Individual[int]{{X: 4, F: []float64{4, 4}}, {X: 5, F: []float64{9, 9}}}
		got := alg.Survive(NewRand(1), parents, offspring, 3)
		if len(got) != 3 {
			t.Fatalf("%s: %d survivors, want 3", alg.Name(), len(got))
		}
		for _, ind := range got {
			if ind.Failed {
				t.Fatalf("%s: failed individual %d survived: %+v", alg.Name(), ind.X, got)
			}
		}
		// Tournaments between a failed and a healthy individual always pick
		// the healthy one.
		pop := []Individual[int]{{X: 1, F: []float64{-5, -5}, Failed: true}, {X: 2, F: []float64{3, 3}}}
		for seed := range uint64(20) {
			for _, m := range alg.Mate(NewRand(seed), 1, pop, 4) {
				if slices.Contains(m.Parents, 0) {
					t.Fatalf("%s: failed individual chosen as parent: %+v", alg.Name(), m)
				}
			}
		}
	}
}

func TestRunMarksFailures(t *testing.T) {
	t.Parallel()
	p := bitsProblem{width: 6, fail: map[int]bool{}, nan: map[int]bool{}}
	for x := range 64 {
		switch x % 4 {
		case 1:
			p.fail[x] = true
		case 2:
			p.nan[x] = true
		}
	}
	alg, _ := NewNSGA2[int](bits{width: 6}, NSGA2Config{})
	sawFailed := false
	res, err := Run(context.Background(), p, alg, Settings[int]{
		Config:      Config{Seed: 5, PopSize: 10},
		Generations: 10,
		OnGeneration: func(r Report[int]) error {
			for _, ind := range r.Population {
				if ind.Failed != (ind.X%4 == 1 || ind.X%4 == 2) {
					t.Errorf("genome %d: Failed = %v", ind.X, ind.Failed)
				}
				sawFailed = sawFailed || ind.Failed
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawFailed {
		t.Fatal("no failed individual in any population")
	}
	if res.Evaluations != 10*11 {
		t.Fatalf("Evaluations = %d, want 110", res.Evaluations)
	}
	for _, ind := range res.Population {
		if ind.Failed {
			t.Fatalf("failed genome %d in the final population: 32 healthy genomes exist", ind.X)
		}
	}
	for _, f := range Objectives(res.Population) {
		if f == nil {
			t.Fatal("Objectives returned a failed individual")
		}
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	z := mustZDT(t, "zdt1", 30)
	alg := zdtAlgorithms(t, z)["nsga2"]
	stop := errors.New("stop")
	_, err := Run(context.Background(), z, alg, Settings[[]float64]{
		Config:       Config{Seed: 1, PopSize: 10},
		Generations:  5,
		OnGeneration: func(r Report[[]float64]) error { return stop },
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Run = %v, want the callback's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, z, alg, Settings[[]float64]{Config: Config{Seed: 1, PopSize: 10}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v", err)
	}
}

func TestEngineErrors(t *testing.T) {
	t.Parallel()
	v := bits{width: 4}
	nsga2, _ := NewNSGA2[int](v, NSGA2Config{})
	if _, err := NewEngine[int](nsga2, Config{PopSize: 0}); err == nil {
		t.Error("population 0: no error")
	}
	ga, _ := NewGA[int](v, GAConfig{Elitism: 4})
	if _, err := NewEngine[int](ga, Config{PopSize: 4}); err == nil {
		t.Error("elitism = population: no error")
	}
	e, _ := NewEngine[int](nsga2, Config{PopSize: 2})
	if _, err := e.Initial([]int{1, 2, 3}); err == nil {
		t.Error("more seeds than places: no error")
	}
	if _, err := e.Breed(0, []Individual[int]{{X: 1, F: []float64{1}}}); err == nil {
		t.Error("breeding generation 0: no error")
	}
	if _, err := e.Breed(1, nil); err == nil {
		t.Error("breeding from nothing: no error")
	}
	if _, err := NewGA[int](v, GAConfig{Weights: []float64{0, 0}}); err == nil {
		t.Error("zero weights: no error")
	}
	ga2, _ := NewGA[int](v, GAConfig{Weights: []float64{1, 2, 3}})
	if _, err := Run[int](context.Background(), bitsProblem{width: 4}, ga2, Settings[int]{Config: Config{PopSize: 4}}); err == nil {
		t.Error("three weights for two objectives: no error")
	}
	if _, err := NewFirefly[[]float64](nil, DefaultFireflyConfig()); err == nil {
		t.Error("nil space: no error")
	}
	rv, _ := NewRealVector([]float64{0}, []float64{1}, RealVectorConfig{})
	if _, err := NewFirefly[[]float64](rv, FireflyConfig{}); err == nil {
		t.Error("zero firefly config: no error")
	}
}

func TestFireflyMovesTowardDominators(t *testing.T) {
	t.Parallel()
	rv, _ := NewRealVector([]float64{0, 0}, []float64{1, 1}, RealVectorConfig{})
	cfg := DefaultFireflyConfig()
	cfg.Alpha = 0
	ff, _ := NewFirefly[[]float64](rv, cfg)
	pop := []Individual[[]float64]{
		{X: []float64{0.9, 0.9}, F: []float64{2, 2}},
		{X: []float64{0.1, 0.1}, F: []float64{1, 1}},
		{X: []float64{0.5, 0.9}, F: []float64{0, 3}},
	}
	ms := ff.Mate(nil, 1, pop, 3)
	if want := []int{0, 1}; !slices.Equal(ms[0].Parents, want) {
		t.Fatalf("parents of child 0 = %v, want %v", ms[0].Parents, want)
	}
	if len(ms[1].Parents) != 1 || len(ms[2].Parents) != 1 {
		t.Fatalf("non-dominated fireflies have attractors: %+v", ms)
	}
	got := ff.Recombine(NewRand(1), 1, pop, ms[0])
	// r^2 = 0.8^2 * 2 = 1.28; beta = exp(-1.28).
	beta := 0.2780373004531941
	for k, want := range []float64{0.9 + beta*(0.1-0.9), 0.9 + beta*(0.1-0.9)} {
		if d := got[k] - want; d > 1e-12 || d < -1e-12 {
			t.Fatalf("moved firefly = %v, want %v in coordinate %d", got, want, k)
		}
	}
	if got := ff.Recombine(NewRand(1), 1, pop, ms[1]); !slices.Equal(got, pop[1].X) {
		t.Fatalf("a non-dominated firefly moved without a random step: %v", got)
	}
	if ff.Alpha(1) != 0 || ff.Alpha(3) != 0 {
		t.Fatal("alpha 0 does not stay 0")
	}
	ff2, _ := NewFirefly[[]float64](rv, DefaultFireflyConfig())
	if got, want := ff2.Alpha(3), 0.2*0.97*0.97; math.Abs(got-want) > 1e-15 {
		t.Fatalf("Alpha(3) = %v, want %v", got, want)
	}
}
