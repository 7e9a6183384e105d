package evolve

import (
	"math/rand/v2"
	"slices"
)

// Mating says how one child is made.
type Mating struct {
	// Parents are indices into the population the child is bred from.
	Parents []int `json:"parents"`
	// Group is the index of the recombination that makes the child: the
	// children of one crossover share it, and with it their random numbers.
	Group int `json:"group"`
	// Side is which of the recombination's outputs the child is.
	Side int `json:"side"`
}

// Algorithm is one evolutionary algorithm over genomes of type T, split
// into the stages of a generation. It keeps no state between calls:
// everything a call needs comes from its arguments, so any stage of any
// generation can be rebuilt from the stored population. The Engine supplies
// each call's random generator from Seed.
type Algorithm[T any] interface {
	// Name is the algorithm's short name: nsga2, ga or firefly.
	Name() string
	// Variation returns the operators the algorithm breeds with.
	Variation() Variation[T]
	// Offspring is how many children one generation breeds from a
	// population of popSize.
	Offspring(popSize int) int
	// Mate plans the n children of a generation bred from pop (stage
	// "select").
	Mate(r *rand.Rand, generation int, pop []Individual[T], n int) []Mating
	// Recombine makes the child m describes, before mutation (stage
	// "recombine"). Children that share m.Group get generators with equal
	// seeds.
	Recombine(r *rand.Rand, generation int, pop []Individual[T], m Mating) T
	// Mutate returns the mutated child (stage "mutate").
	Mutate(r *rand.Rand, generation int, x T) T
	// Survive picks the n individuals of the next population from the
	// parents and their evaluated offspring (stage "select"). It returns a
	// new slice.
	Survive(r *rand.Rand, parents, offspring []Individual[T], n int) []Individual[T]
}

// tournaments runs k tournaments of size size over a population of n, the
// contestants drawn as in pymoo: consecutive entries of concatenated random
// permutations of the population. better(a, b) returns a or b. It returns
// the winners.
func tournaments(r *rand.Rand, n, k, size int, better func(a, b int) int) []int {
	need := k * size
	draw := make([]int, 0, need+n)
	for len(draw) < need {
		draw = append(draw, r.Perm(n)...)
	}
	winners := make([]int, k)
	for t := range k {
		w := draw[t*size]
		for _, c := range draw[t*size+1 : (t+1)*size] {
			w = better(w, c)
		}
		winners[t] = w
	}
	return winners
}

// pick returns a or b at random.
func pick(r *rand.Rand, a, b int) int {
	if r.IntN(2) == 0 {
		return a
	}
	return b
}

// pairs turns 2*ceil(n/2) selected parents into the matings of n children:
// consecutive parents make two children, which share a group.
func pairs(parents []int, n int) []Mating {
	ms := make([]Mating, n)
	for i := range n {
		g := i / 2
		ms[i] = Mating{Parents: []int{parents[2*g], parents[2*g+1]}, Group: g, Side: i % 2}
	}
	return ms
}

// crossoverChild returns side of the crossover of the mating's parents.
func crossoverChild[T any](v Variation[T], r *rand.Rand, pop []Individual[T], m Mating) T {
	c1, c2 := v.Crossover(r, pop[m.Parents[0]].X, pop[m.Parents[1]].X)
	if m.Side == 0 {
		return c1
	}
	return c2
}

// rankAndCrowdingSurvival is NSGA-II's survival: whole fronts while they
// fit, then the front that does not fit by descending crowding distance,
// ties broken at random. Crowding is computed over the whole front. Fronts
// are sorted under Outranks, so a higher fidelity survives first.
func rankAndCrowdingSurvival[T any](r *rand.Rand, parents, offspring []Individual[T], n int) []Individual[T] {
	merged := make([]Individual[T], 0, len(parents)+len(offspring))
	merged = append(merged, parents...)
	merged = append(merged, offspring...)
	if n >= len(merged) {
		n = len(merged)
	}
	F, failed, fid := split(merged)
	out := make([]Individual[T], 0, n)
	for _, front := range NonDominatedSortFidelity(F, failed, fid) {
		if len(out) == n {
			break
		}
		if len(out)+len(front) <= n {
			for _, i := range front {
				out = append(out, merged[i])
			}
			continue
		}
		var cd []float64
		if failed[front[0]] {
			cd = make([]float64, len(front))
		} else {
			fF := make([][]float64, len(front))
			for j, i := range front {
				fF[j] = F[i]
			}
			cd = CrowdingDistance(fF)
		}
		order := r.Perm(len(front))
		slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(cd[b], cd[a]) })
		for _, j := range order[:n-len(out)] {
			out = append(out, merged[front[j]])
		}
	}
	return out
}
