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
// such individual dominates, in population order.
func ParetoSet[T any](pop []Individual[T]) []Individual[T] {
	var out []Individual[T]
	for i, a := range pop {
		if a.Failed {
			continue
		}
		keep := true
		for j, b := range pop {
			if i != j && !b.Failed && Dominates(b.F, a.F) {
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

// split returns the objectives and failure flags of pop for the ranking
// functions.
func split[T any](pop []Individual[T]) ([][]float64, []bool) {
	F := make([][]float64, len(pop))
	failed := make([]bool, len(pop))
	for i, ind := range pop {
		F[i] = ind.F
		failed[i] = ind.Failed
	}
	return F, failed
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
