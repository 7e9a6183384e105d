package evolve

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// fidelityFixture is a population measured at three fidelities: at rung 0
// the best objectives of all (cheap measurements look good), at rung 1 two
// candidates, one dominating the other, and one at rung 2; plus a failure
// that claims the highest rung.
func fidelityFixture() []Individual[[]float64] {
	ind := func(name float64, fid int, f ...float64) Individual[[]float64] {
		return Individual[[]float64]{X: []float64{name}, F: f, Fidelity: fid}
	}
	return []Individual[[]float64]{
		ind(0, 0, 0.1, 0.1), // rung 0, dominates every other point
		ind(1, 0, 0.2, 0.05),
		ind(2, 1, 0.5, 0.5),
		ind(3, 1, 0.6, 0.6), // dominated by 2 at the same rung
		ind(4, 2, 0.9, 0.9), // highest rung, worst objectives
		{X: []float64{5}, Fidelity: 9, Failed: true},
	}
}

func names(pop []Individual[[]float64]) []float64 {
	out := make([]float64, len(pop))
	for i, ind := range pop {
		out[i] = ind.X[0]
	}
	return out
}

func TestOutranksIsFidelityFirst(t *testing.T) {
	t.Parallel()
	p := fidelityFixture()
	cases := []struct {
		a, b int
		want bool
	}{
		{4, 0, true}, {0, 4, false}, // a higher rung outranks whatever the objectives
		{2, 3, true}, {3, 2, false}, // same rung: dominance
		{0, 1, false}, {1, 0, false}, // same rung, incomparable
		{0, 5, true}, {5, 4, false}, // a failure ranks last whatever its fidelity
	}
	for _, c := range cases {
		if got := Outranks(p[c.a], p[c.b]); got != c.want {
			t.Errorf("Outranks(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	F, failed, fid := split(p)
	fronts := NonDominatedSortFidelity(F, failed, fid)
	want := [][]int{{4}, {2}, {3}, {0, 1}, {5}}
	if len(fronts) != len(want) {
		t.Fatalf("fronts %v, want %v", fronts, want)
	}
	for i := range want {
		if !slices.Equal(fronts[i], want[i]) {
			t.Fatalf("fronts %v, want %v", fronts, want)
		}
	}
	if got := names(ParetoSet(p)); !slices.Equal(got, []float64{4}) {
		t.Errorf("ParetoSet = %v, want only the rung-2 candidate", got)
	}
	// One fidelity throughout: the plain sort.
	for i := range p {
		p[i].Fidelity = 0
	}
	F, failed, fid = split(p)
	if fid != nil || !slices.EqualFunc(NonDominatedSortFidelity(F, failed, fid), NonDominatedSort(F, failed), slices.Equal[[]int]) {
		t.Error("a single fidelity must sort as NonDominatedSort")
	}
}

// TestSurvivalUsesFidelity checks that NSGA-II, GA and Firefly all keep the
// higher rungs first: survivors of 3 from the fixture are the rung-2
// candidate and both rung-1 candidates, never the rung-0 ones with better
// objectives; and that Firefly moves a rung-0 firefly toward the higher
// rungs.
func TestSurvivalUsesFidelity(t *testing.T) {
	t.Parallel()
	for name, alg := range zdtAlgorithms(t, mustZDT(t, "zdt1", 3)) {
		if ga, ok := alg.(*GA[[]float64]); ok {
			ga.cfg.Elitism = 0 // offspring only: the rule within one group
		}
		got := names(alg.Survive(rand.New(rand.NewPCG(1, 2)), nil, fidelityFixture(), 3))
		slices.Sort(got)
		if !slices.Equal(got, []float64{2, 3, 4}) {
			t.Errorf("%s survivors %v, want the rung-2 and rung-1 candidates [2 3 4]", name, got)
		}
		// Parents of a higher rung beat offspring of a lower one too.
		parents := fidelityFixture()[2:5]
		offspring := fidelityFixture()[:2]
		got = names(alg.Survive(rand.New(rand.NewPCG(3, 4)), parents, offspring, 3))
		slices.Sort(got)
		if !slices.Equal(got, []float64{2, 3, 4}) {
			t.Errorf("%s survivors of parents and offspring %v, want [2 3 4]", name, got)
		}
	}
	algs := zdtAlgorithms(t, mustZDT(t, "zdt1", 3))
	ms := algs["firefly"].Mate(rand.New(rand.NewPCG(1, 1)), 1, fidelityFixture(), 6)
	// Firefly 0 (rung 0, best objectives) is attracted by the rung-1 and
	// rung-2 fireflies; firefly 4 (rung 2) by none.
	if !slices.Equal(ms[0].Parents, []int{0, 2, 3, 4}) || !slices.Equal(ms[4].Parents, []int{4}) || !slices.Equal(ms[3].Parents, []int{3, 2, 4}) {
		t.Errorf("firefly matings %v %v %v", ms[0].Parents, ms[3].Parents, ms[4].Parents)
	}
	// NSGA-II and GA tournaments: a higher rung wins.
	for _, name := range []string{"nsga2", "ga"} {
		pair := []Individual[[]float64]{fidelityFixture()[0], fidelityFixture()[4]}
		for s := range uint64(20) {
			for _, m := range algs[name].Mate(rand.New(rand.NewPCG(s, 9)), 1, pair, 2) {
				if m.Parents[0] != 1 || m.Parents[1] != 1 {
					t.Fatalf("%s: tournament between rung 0 and rung 2 picked %v", name, m.Parents)
				}
			}
		}
	}
}
