package evolve

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// GAConfig sets the scalarised genetic algorithm. Start from
// DefaultGAConfig: Elitism's zero value means no elitism.
type GAConfig struct {
	// Weights weigh the normalised objectives in the scalarised objective
	// (their weighted sum, minimised). Nil means weight 1 for every
	// objective; otherwise one weight per objective, each >= 0, not all 0.
	Weights []float64
	// Ideal and Nadir, when both set, fix the normalisation
	// (f - ideal) / (nadir - ideal). When nil, every call normalises by the
	// minimum and maximum of the individuals it ranks.
	Ideal, Nadir []float64
	// Elitism is how many of the best parents survive unchanged into the
	// next population; the other places go to children. Must be smaller
	// than the population.
	Elitism int
	// TournamentSize is the number of contestants per parent selection.
	// Zero means 2.
	TournamentSize int
}

// DefaultGAConfig returns equal weights, min-max normalisation, elitism 2
// and binary tournaments.
func DefaultGAConfig() GAConfig { return GAConfig{Elitism: 2, TournamentSize: 2} }

// GA is a generational genetic algorithm on one scalarised objective: a
// weighted sum of normalised objectives (failed individuals score +Inf).
// Parents are chosen by tournament on that score, children made by
// crossover and mutation, and the next population is the Elitism best
// parents plus the children.
type GA[T any] struct {
	v   Variation[T]
	cfg GAConfig
}

var _ Algorithm[int] = (*GA[int])(nil)

// NewGA returns a GA breeding with v.
func NewGA[T any](v Variation[T], cfg GAConfig) (*GA[T], error) {
	if v == nil {
		return nil, errors.New("ga: nil variation")
	}
	if cfg.TournamentSize == 0 {
		cfg.TournamentSize = 2
	}
	if cfg.TournamentSize < 1 {
		return nil, errors.New("ga: tournament size must be >= 1")
	}
	if cfg.Elitism < 0 {
		return nil, errors.New("ga: elitism must be >= 0")
	}
	if cfg.Weights != nil {
		sum := 0.0
		for _, w := range cfg.Weights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("ga: weight %g; want finite weights >= 0", w)
			}
			sum += w
		}
		if sum == 0 {
			return nil, errors.New("ga: weights are all zero")
		}
	}
	if (cfg.Ideal == nil) != (cfg.Nadir == nil) || len(cfg.Ideal) != len(cfg.Nadir) {
		return nil, errors.New("ga: set both ideal and nadir, of equal length, or neither")
	}
	if cfg.Weights != nil && cfg.Ideal != nil && len(cfg.Weights) != len(cfg.Ideal) {
		return nil, errors.New("ga: weights and ideal point differ in length")
	}
	cfg.Weights = slices.Clone(cfg.Weights)
	cfg.Ideal = slices.Clone(cfg.Ideal)
	cfg.Nadir = slices.Clone(cfg.Nadir)
	return &GA[T]{v: v, cfg: cfg}, nil
}

// Name returns "ga".
func (a *GA[T]) Name() string { return "ga" }

// Variation returns the operators.
func (a *GA[T]) Variation() Variation[T] { return a.v }

// Offspring returns popSize minus the elites.
func (a *GA[T]) Offspring(popSize int) int { return popSize - a.cfg.Elitism }

// CheckObjectives reports whether the configured weights and normalisation
// fit problems with the given number of objectives.
func (a *GA[T]) CheckObjectives(objectives int) error {
	if a.cfg.Weights != nil && len(a.cfg.Weights) != objectives {
		return fmt.Errorf("ga: %d weights for %d objectives", len(a.cfg.Weights), objectives)
	}
	if a.cfg.Ideal != nil && len(a.cfg.Ideal) != objectives {
		return fmt.Errorf("ga: ideal point has %d objectives, problem %d", len(a.cfg.Ideal), objectives)
	}
	return nil
}

// Fitness returns the scalarised objective of every individual, normalised
// over pop unless the configuration fixes ideal and nadir; lower is better.
func (a *GA[T]) Fitness(pop []Individual[T]) []float64 {
	ideal, nadir := a.cfg.Ideal, a.cfg.Nadir
	if ideal == nil {
		ideal, nadir = MinMax(Objectives(pop))
	}
	fit := make([]float64, len(pop))
	for i, ind := range pop {
		if ind.Failed {
			fit[i] = math.Inf(1)
			continue
		}
		s := 0.0
		for k, f := range ind.F {
			w := 1.0
			if a.cfg.Weights != nil {
				w = a.cfg.Weights[k]
			}
			z := f - ideal[k]
			if span := nadir[k] - ideal[k]; span != 0 {
				z /= span
			}
			s += w * z
		}
		fit[i] = s
	}
	return fit
}

// Mate selects ceil(n/2) pairs of parents by tournament on fitness (a
// higher fidelity first, as in Outranks); each
// pair's crossover makes two consecutive children.
func (a *GA[T]) Mate(r *rand.Rand, _ int, pop []Individual[T], n int) []Mating {
	fit := a.Fitness(pop)
	better := func(i, j int) int {
		switch {
		case pop[i].Failed != pop[j].Failed:
			if pop[i].Failed {
				return j
			}
			return i
		case pop[i].Fidelity > pop[j].Fidelity:
			return i
		case pop[j].Fidelity > pop[i].Fidelity:
			return j
		case fit[i] < fit[j]:
			return i
		case fit[j] < fit[i]:
			return j
		}
		return pick(r, i, j)
	}
	parents := tournaments(r, len(pop), 2*((n+1)/2), a.cfg.TournamentSize, better)
	return pairs(parents, n)
}

// Recombine returns the child's side of its parents' crossover.
func (a *GA[T]) Recombine(r *rand.Rand, _ int, pop []Individual[T], m Mating) T {
	return crossoverChild(a.v, r, pop, m)
}

// Mutate applies the variation's mutation.
func (a *GA[T]) Mutate(r *rand.Rand, _ int, x T) T { return a.v.Mutate(r, x) }

// Survive keeps the Elitism best parents, then the best children, then (if
// places remain) the best other parents; failed individuals come after all
// of these, and never as elites. Fitness is normalised over parents and
// offspring together; ties are broken at random. A higher fidelity comes
// first (Outranks): in the choice of elites and, after them, before the
// children-then-parents order, which holds within one fidelity.
func (a *GA[T]) Survive(r *rand.Rand, parents, offspring []Individual[T], n int) []Individual[T] {
	merged := make([]Individual[T], 0, len(parents)+len(offspring))
	merged = append(merged, parents...)
	merged = append(merged, offspring...)
	fit := a.Fitness(merged)
	byFitness := func(idx []int) []int {
		order := r.Perm(len(idx))
		slices.SortStableFunc(order, func(x, y int) int {
			if fx, fy := merged[idx[x]].Fidelity, merged[idx[y]].Fidelity; fx != fy {
				return fy - fx // the higher fidelity first (Outranks)
			}
			return cmpFloat(fit[idx[x]], fit[idx[y]])
		})
		out := make([]int, len(idx))
		for j, o := range order {
			out[j] = idx[o]
		}
		return out
	}
	par := make([]int, len(parents))
	for i := range par {
		par[i] = i
	}
	off := make([]int, len(offspring))
	for i := range off {
		off[i] = len(parents) + i
	}
	par, off = byFitness(par), byFitness(off)
	n = min(n, len(merged))
	healthy := 0
	for _, i := range par {
		if !merged[i].Failed {
			healthy++
		}
	}
	e := min(a.cfg.Elitism, healthy, n)
	order := slices.Concat(par[:e], off, par[e:])
	// After the elites a higher fidelity comes first (Outranks): children
	// before the other parents only within one fidelity.
	slices.SortStableFunc(order[e:], func(x, y int) int { return merged[y].Fidelity - merged[x].Fidelity })
	// Failed individuals rank last: after every child and parent that did
	// not fail.
	chosen := make([]int, 0, len(order))
	for _, i := range order {
		if !merged[i].Failed {
			chosen = append(chosen, i)
		}
	}
	for _, i := range order {
		if merged[i].Failed {
			chosen = append(chosen, i)
		}
	}
	out := make([]Individual[T], n)
	for j, i := range chosen[:n] {
		out[j] = merged[i]
	}
	return out
}
