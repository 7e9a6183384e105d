package evolve

import (
	"errors"
	"math/rand/v2"
)

// NSGA2Config sets NSGA-II. A zero field takes the default in its comment.
type NSGA2Config struct {
	// TournamentSize is the number of contestants per parent selection.
	// Default 2 (pymoo's binary tournament).
	TournamentSize int
}

// NSGA2 is NSGA-II as in pymoo: parents by tournament (Outranks first,
// then the larger crowding distance, ties at random; a failed individual
// loses to any other), children by crossover and mutation, survival by
// rank and crowding over parents and offspring, ranks under Outranks. One generation breeds as
// many children as the population holds.
//
// Mating selection ranks the population it is given; pymoo carries the
// crowding distances from the survival instead, which differ only for the
// members of the front that survival had to split.
type NSGA2[T any] struct {
	v   Variation[T]
	cfg NSGA2Config
}

var _ Algorithm[int] = (*NSGA2[int])(nil)

// NewNSGA2 returns NSGA-II breeding with v.
func NewNSGA2[T any](v Variation[T], cfg NSGA2Config) (*NSGA2[T], error) {
	if v == nil {
		return nil, errors.New("nsga2: nil variation")
	}
	if cfg.TournamentSize == 0 {
		cfg.TournamentSize = 2
	}
	if cfg.TournamentSize < 1 {
		return nil, errors.New("nsga2: tournament size must be >= 1")
	}
	return &NSGA2[T]{v: v, cfg: cfg}, nil
}

// Name returns "nsga2".
func (a *NSGA2[T]) Name() string { return "nsga2" }

// Variation returns the operators.
func (a *NSGA2[T]) Variation() Variation[T] { return a.v }

// Offspring returns popSize.
func (a *NSGA2[T]) Offspring(popSize int) int { return popSize }

// Mate selects ceil(n/2) pairs of parents by tournament; each pair's
// crossover makes two consecutive children.
func (a *NSGA2[T]) Mate(r *rand.Rand, _ int, pop []Individual[T], n int) []Mating {
	F, failed, fid := split(pop)
	_, cd := RankAndCrowdingFidelity(F, failed, fid)
	better := func(i, j int) int {
		switch {
		case failed[i] && failed[j]:
			return pick(r, i, j)
		case failed[i]:
			return j
		case failed[j]:
			return i
		case pop[i].Fidelity > pop[j].Fidelity:
			return i
		case pop[j].Fidelity > pop[i].Fidelity:
			return j
		}
		switch relation(F[i], F[j]) {
		case 1:
			return i
		case -1:
			return j
		}
		switch {
		case cd[i] > cd[j]:
			return i
		case cd[j] > cd[i]:
			return j
		}
		return pick(r, i, j)
	}
	parents := tournaments(r, len(pop), 2*((n+1)/2), a.cfg.TournamentSize, better)
	return pairs(parents, n)
}

// Recombine returns the child's side of its parents' crossover.
func (a *NSGA2[T]) Recombine(r *rand.Rand, _ int, pop []Individual[T], m Mating) T {
	return crossoverChild(a.v, r, pop, m)
}

// Mutate applies the variation's mutation.
func (a *NSGA2[T]) Mutate(r *rand.Rand, _ int, x T) T { return a.v.Mutate(r, x) }

// Survive keeps n of parents and offspring by rank and crowding.
func (a *NSGA2[T]) Survive(r *rand.Rand, parents, offspring []Individual[T], n int) []Individual[T] {
	return rankAndCrowdingSurvival(r, parents, offspring, n)
}
