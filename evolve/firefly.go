package evolve

import (
	"errors"
	"math"
	"math/rand/v2"
)

// FireflyConfig sets the multi-objective firefly algorithm. Start from
// DefaultFireflyConfig: several zero values are meaningful.
type FireflyConfig struct {
	// Beta0 is the attraction at distance 0, > 0. Default 1.
	Beta0 float64
	// Gamma is the light absorption in Beta0*exp(-Gamma*r^2), >= 0, with r
	// measured in coordinates normalised by the bounds. Default 1.
	Gamma float64
	// Alpha is the random step of the first bred generation, as a fraction
	// of each coordinate's range, >= 0. Default 0.2.
	Alpha float64
	// AlphaDecay multiplies the random step after every generation, in
	// (0, 1]. Default 0.97.
	AlphaDecay float64
	// NoMutation skips the mutation stage, so that children are the moved
	// fireflies as they are. Default false: moved fireflies are mutated by
	// the space's Mutate, as every child of the workflow is.
	NoMutation bool
}

// DefaultFireflyConfig returns beta0 1, gamma 1, alpha 0.2, decay 0.97,
// with mutation.
func DefaultFireflyConfig() FireflyConfig {
	return FireflyConfig{Beta0: 1, Gamma: 1, Alpha: 0.2, AlphaDecay: 0.97}
}

// Firefly is a multi-objective firefly algorithm. Child i is firefly i
// moved: toward every firefly that dominates it, in population order, by
// Beta0*exp(-Gamma*r^2) of the distance r between them (in normalised
// coordinates), then by a random step Alpha*AlphaDecay^(g-1)*(u-0.5)*range
// per coordinate, u uniform in [0, 1), in generation g >= 1. A firefly no
// other dominates only takes the random step; a failed one is dominated by
// every firefly that did not fail. The moved position is decoded (rounded
// and repaired for integer genomes) and, unless NoMutation, mutated.
// Survival is by rank and crowding over the fireflies and their moved
// copies, so the algorithm is elitist.
type Firefly[T any] struct {
	s   Space[T]
	cfg FireflyConfig
}

var _ Algorithm[int] = (*Firefly[int])(nil)

// NewFirefly returns a firefly algorithm moving in s.
func NewFirefly[T any](s Space[T], cfg FireflyConfig) (*Firefly[T], error) {
	if s == nil {
		return nil, errors.New("firefly: nil space")
	}
	switch {
	case !(cfg.Beta0 > 0):
		return nil, errors.New("firefly: beta0 must be > 0 (start from DefaultFireflyConfig)")
	case !(cfg.Gamma >= 0):
		return nil, errors.New("firefly: gamma must be >= 0")
	case !(cfg.Alpha >= 0):
		return nil, errors.New("firefly: alpha must be >= 0")
	case !(cfg.AlphaDecay > 0 && cfg.AlphaDecay <= 1):
		return nil, errors.New("firefly: alpha decay must lie in (0, 1] (start from DefaultFireflyConfig)")
	}
	return &Firefly[T]{s: s, cfg: cfg}, nil
}

// Name returns "firefly".
func (a *Firefly[T]) Name() string { return "firefly" }

// Variation returns the space.
func (a *Firefly[T]) Variation() Variation[T] { return a.s }

// Offspring returns popSize: every firefly moves once per generation.
func (a *Firefly[T]) Offspring(popSize int) int { return popSize }

// Mate makes child i from firefly i mod len(pop): its parents are that
// firefly followed by the fireflies that outrank it (Outranks: with one
// fidelity, those that dominate it), in population order.
func (a *Firefly[T]) Mate(_ *rand.Rand, _ int, pop []Individual[T], n int) []Mating {
	ms := make([]Mating, n)
	for i := range n {
		self := i % len(pop)
		parents := []int{self}
		for j, other := range pop {
			if j == self || other.Failed {
				continue
			}
			if Outranks(other, pop[self]) {
				parents = append(parents, j)
			}
		}
		ms[i] = Mating{Parents: parents, Group: i}
	}
	return ms
}

// Alpha returns the random step of generation g >= 1.
func (a *Firefly[T]) Alpha(generation int) float64 {
	return a.cfg.Alpha * math.Pow(a.cfg.AlphaDecay, float64(max(generation-1, 0)))
}

// Recombine moves the firefly m.Parents[0] toward m.Parents[1:] and adds
// the random step.
func (a *Firefly[T]) Recombine(r *rand.Rand, generation int, pop []Individual[T], m Mating) T {
	lower, upper := a.s.Bounds()
	x := a.s.Encode(pop[m.Parents[0]].X)
	for _, j := range m.Parents[1:] {
		y := a.s.Encode(pop[j].X)
		r2 := 0.0
		for k := range x {
			if span := upper[k] - lower[k]; span > 0 {
				d := (x[k] - y[k]) / span
				r2 += d * d
			}
		}
		beta := a.cfg.Beta0 * math.Exp(-a.cfg.Gamma*r2)
		for k := range x {
			x[k] += beta * (y[k] - x[k])
		}
	}
	alpha := a.Alpha(generation)
	for k := range x {
		x[k] += alpha * (r.Float64() - 0.5) * (upper[k] - lower[k])
	}
	return a.s.Decode(x)
}

// Mutate applies the space's mutation unless NoMutation.
func (a *Firefly[T]) Mutate(r *rand.Rand, _ int, x T) T {
	if a.cfg.NoMutation {
		return x
	}
	return a.s.Mutate(r, x)
}

// Survive keeps n of the fireflies and their moved copies by rank and
// crowding.
func (a *Firefly[T]) Survive(r *rand.Rand, parents, offspring []Individual[T], n int) []Individual[T] {
	return rankAndCrowdingSurvival(r, parents, offspring, n)
}
