package evolve

import (
	"hash/fnv"
	"math/rand/v2"
)

// Stage names of one generation; with the generation and an index they name
// every stream of random numbers of a run.
const (
	// StageSample draws the random genomes of generation 0; index is the
	// individual.
	StageSample = "sample"
	// StageSelect is selection: index IndexMating is the mating selection of
	// the generation's children, index IndexSurvival the survival that
	// closes the generation.
	StageSelect = "select"
	// StageRecombine is crossover or a firefly move; index is the mating
	// group (children of one crossover share it).
	StageRecombine = "recombine"
	// StageMutate is mutation; index is the child.
	StageMutate = "mutate"
)

// Indices of the two random streams of StageSelect.
const (
	IndexMating   = 0
	IndexSurvival = 1
)

const golden = 0x9e3779b97f4a7c15

// mix64 is the SplitMix64 finaliser: a bijection on uint64 with good
// avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// absorb folds v into the running hash h.
func absorb(h, v uint64) uint64 { return mix64((h + golden) ^ v) }

// Seed derives the seed of one stream of random numbers from the run seed,
// the generation, the stage name and an index within the stage. Different
// arguments give unrelated seeds; equal arguments give equal seeds on every
// machine.
func Seed(run uint64, generation int, stage string, index int) uint64 {
	f := fnv.New64a()
	f.Write([]byte(stage))
	h := absorb(mix64(run), f.Sum64())
	h = absorb(h, uint64(int64(generation)))
	return absorb(h, uint64(int64(index)))
}

// Attempt derives the seed of a retry: attempt 0 is seed itself, later
// attempts are unrelated seeds. It regenerates a child that duplicates an
// existing genome.
func Attempt(seed uint64, attempt int) uint64 {
	if attempt == 0 {
		return seed
	}
	return absorb(seed^0x5851f42d4c957f2d, uint64(int64(attempt)))
}

// NewRand returns a PCG generator seeded by seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, mix64(seed^0xda3e39cb94b95bdb)))
}
