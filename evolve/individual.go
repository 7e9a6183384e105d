package evolve

import (
	"context"
	"math"
)

// Individual is one member of a population: a genome and, once evaluated,
// its objectives.
type Individual[T any] struct {
	X T `json:"x"`
	// F holds the objectives, all minimised: one value per objective of
	// the problem, the same number for every individual that did not fail.
	// Unused when Failed (Run leaves it nil): callers that load
	// individuals mark those without such a vector Failed.
	F []float64 `json:"f"`
	// Failed marks a candidate whose evaluation failed (for example NaN
	// during training). It ranks below every individual that did not fail
	// and never enters an indicator.
	Failed bool `json:"failed,omitempty"`
	// Fidelity is how thoroughly F was measured: the rung of a
	// multi-fidelity search (0 the cheapest). Individuals measured at a
	// higher fidelity outrank those measured at a lower one (see
	// Outranks); in a search with one fidelity it is 0 throughout and
	// changes nothing.
	Fidelity int `json:"fidelity,omitempty"`
}

// Problem evaluates genomes of type T.
type Problem[T any] interface {
	// Objectives is the number of objectives, all minimised.
	Objectives() int
	// Evaluate returns x's objectives. An error that is not ctx's marks x
	// Failed, as does a NaN objective.
	Evaluate(ctx context.Context, x T) ([]float64, error)
}

// Objectives returns the objectives of the individuals that did not fail.
func Objectives[T any](pop []Individual[T]) [][]float64 {
	out := make([][]float64, 0, len(pop))
	for _, ind := range pop {
		if !ind.Failed {
			out = append(out, ind.F)
		}
	}
	return out
}

// ParetoSet returns the individuals that did not fail and that no other
// such individual outranks (Outranks: with one fidelity, dominates), in
// population order. With several fidelities only individuals of the
// highest fidelity any non-failed individual has can be in it.
func ParetoSet[T any](pop []Individual[T]) []Individual[T] {
	var out []Individual[T]
	for i, a := range pop {
		if a.Failed {
			continue
		}
		keep := true
		for j, b := range pop {
			if i != j && Outranks(b, a) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}

// Outranks is the order every algorithm ranks individuals by, fidelity
// first: a failed individual outranks nothing and every other one outranks
// it; between two that did not fail, the one measured at the higher
// fidelity outranks the other whatever their objectives (a candidate a
// multi-fidelity search stopped early is treated as dominated by every
// candidate it promoted further), and at equal fidelity a outranks b when
// a Pareto-dominates b. It is a strict partial order (irreflexive and
// transitive), so non-dominated sorting under it yields fronts that each
// hold one fidelity, the highest first; with a single fidelity it is
// Pareto dominance with failures last, as before.
func Outranks[T any](a, b Individual[T]) bool {
	switch {
	case a.Failed:
		return false
	case b.Failed:
		return true
	case a.Fidelity != b.Fidelity:
		return a.Fidelity > b.Fidelity
	}
	return Dominates(a.F, b.F)
}

// split returns the objectives, failure flags and fidelities of pop for
// the ranking functions; fidelity is nil when every individual has the
// same.
func split[T any](pop []Individual[T]) ([][]float64, []bool, []int) {
	F := make([][]float64, len(pop))
	failed := make([]bool, len(pop))
	fid := make([]int, len(pop))
	mixed := false
	for i, ind := range pop {
		F[i] = ind.F
		failed[i] = ind.Failed
		fid[i] = ind.Fidelity
		mixed = mixed || fid[i] != fid[0]
	}
	if !mixed {
		fid = nil
	}
	return F, failed, fid
}

// invalid reports whether an evaluation result must count as a failure.
func invalid(f []float64) bool {
	for _, v := range f {
		if math.IsNaN(v) {
			return true
		}
	}
	return false
}
