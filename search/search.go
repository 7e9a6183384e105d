// Package search joins the genome library and the evolutionary engine for a
// run configuration: the STAR genome as an evolve.Space, the engine of the
// configured algorithm, the seed genomes and the objective vector of a
// candidate. It is pure: no queue, no database, no tensors.
package search

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
)

// Space is the STAR genome as an evolve.Space: variation operators that end
// in repair, the canonical hash as the duplicate key, and an embedding of
// the genes in a box for the firefly algorithm.
type Space struct {
	space  genome.Space
	rate   float64
	points int
	lower  []float64
	upper  []float64
}

var _ evolve.Space[genome.Genome] = (*Space)(nil)

// NewSpace returns the genome space of a run: depth and classes from s,
// per-gene mutation probability rate and k-point crossover.
func NewSpace(s genome.Space, rate float64, points int) (*Space, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Depth < 1 {
		return nil, fmt.Errorf("search space: depth %d; want >= 1", s.Depth)
	}
	if rate < 0 || rate > 1 {
		return nil, fmt.Errorf("search space: mutation rate %v; want [0, 1]", rate)
	}
	if points < 1 {
		return nil, fmt.Errorf("search space: crossover points %d; want >= 1", points)
	}
	sp := &Space{space: s, rate: rate, points: points}
	ids := s.ClassIDs()
	for range s.Depth {
		// class index into the allowed list, then group ids and strategies
		sp.lower = append(sp.lower, 0, 1, genome.FeatNone, 1, genome.ShareNone)
		sp.upper = append(sp.upper, float64(len(ids)-1), float64(s.Depth), genome.FeatShare, float64(s.Depth), genome.ShareBC)
	}
	return sp, nil
}

// Genome returns the genome search space.
func (s *Space) Genome() genome.Space { return s.space }

// Sample returns a random valid genome.
func (s *Space) Sample(r *rand.Rand) genome.Genome { return genome.Random(r, s.space) }

// Crossover is k-point crossover over slots, ending in repair.
func (s *Space) Crossover(r *rand.Rand, a, b genome.Genome) (genome.Genome, genome.Genome) {
	x, y := genome.Crossover(r, a, b, s.points)
	return genome.Repair(x, s.space), genome.Repair(y, s.space)
}

// Mutate redraws each gene with the space's probability, ending in repair.
func (s *Space) Mutate(r *rand.Rand, g genome.Genome) genome.Genome {
	return genome.Mutate(r, g, s.space, s.rate)
}

// Key is the canonical hash: equal exactly for equal architectures.
func (s *Space) Key(g genome.Genome) string { return genome.Hash(g) }

// Encode places a genome's genes in the box; the class gene becomes its
// position in the allowed class list so neighbouring values are allowed.
func (s *Space) Encode(g genome.Genome) []float64 {
	ids := s.space.ClassIDs()
	out := make([]float64, 0, 5*len(g))
	for _, sl := range g {
		pos := 0
		for i, id := range ids {
			if id == sl.Class {
				pos = i
				break
			}
		}
		out = append(out, float64(pos), float64(sl.FeatGroup), float64(sl.FeatStrategy),
			float64(sl.ShareGroup), float64(sl.ShareStrategy))
	}
	return out
}

// Decode rounds coordinates to the nearest genes within bounds and repairs.
func (s *Space) Decode(v []float64) genome.Genome {
	ids := s.space.ClassIDs()
	g := make(genome.Genome, s.space.Depth)
	for i := range g {
		var genes [5]int
		for j := range genes {
			k := 5*i + j
			x := 0.0
			if k < len(v) {
				x = v[k]
			}
			if math.IsNaN(x) {
				x = s.lower[k]
			}
			x = math.Min(math.Max(math.Round(x), s.lower[k]), s.upper[k])
			genes[j] = int(x)
		}
		genes[0] = ids[genes[0]]
		g[i] = genome.SlotFromGenes(genes)
	}
	return genome.Repair(g, s.space)
}

// Bounds returns the box of Encode's coordinates.
func (s *Space) Bounds() (lower, upper []float64) { return s.lower, s.upper }

// NewEngine returns the evolutionary engine of a validated run config.
func NewEngine(c config.Config) (*evolve.Engine[genome.Genome], error) {
	sp, err := NewSpace(GenomeSpace(c), c.Algorithm.MutationRate, c.Algorithm.CrossoverPoints)
	if err != nil {
		return nil, err
	}
	var alg evolve.Algorithm[genome.Genome]
	switch c.Algorithm.Name {
	case config.NSGA2:
		alg, err = evolve.NewNSGA2[genome.Genome](sp, evolve.NSGA2Config{TournamentSize: c.Algorithm.TournamentSize})
	case config.GA:
		gc := evolve.DefaultGAConfig()
		gc.TournamentSize = c.Algorithm.TournamentSize
		gc.Elitism = c.Algorithm.GA.Elitism
		if len(c.Algorithm.GA.Weights) > 0 {
			gc.Weights = make([]float64, len(c.Objectives))
			for i, o := range c.Objectives {
				gc.Weights[i] = c.GAWeight(o)
			}
		}
		alg, err = evolve.NewGA[genome.Genome](sp, gc)
	case config.Firefly:
		fc := evolve.DefaultFireflyConfig()
		f := c.Algorithm.Firefly
		fc.Beta0, fc.Gamma, fc.Alpha, fc.AlphaDecay = f.Beta0, f.Gamma, f.Alpha, f.AlphaDecay
		alg, err = evolve.NewFirefly[genome.Genome](sp, fc)
	default:
		return nil, fmt.Errorf("unknown algorithm %q", c.Algorithm.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("building %s: %w", c.Algorithm.Name, err)
	}
	return evolve.NewEngine(alg, evolve.Config{Seed: c.Seed, PopSize: c.Population})
}

// GenomeSpace returns the genome search space of a run config: its depth
// and the allowed classes that can be built at its dims (SA-3, for one,
// needs a multiple of 4 heads); see Unbuildable.
func GenomeSpace(c config.Config) genome.Space {
	all := genome.Space{Classes: c.Search.Classes}.ClassIDs()
	skip := Unbuildable(c)
	ids := make([]int, 0, len(all))
	for _, id := range all {
		if _, bad := skip[id]; !bad {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		ids = all // nothing builds: let candidates fail with the reason
	}
	return genome.Space{Depth: c.Search.Depth, Classes: ids}
}

// Unbuildable returns the allowed classes of c that cannot be built at its
// dims, with the reason.
func Unbuildable(c config.Config) map[int]error {
	dims := c.Search.Dims.WithDefaults()
	out := map[int]error{}
	for _, id := range (genome.Space{Classes: c.Search.Classes}).ClassIDs() {
		if err := arch.CheckClass(id, dims); err != nil {
			out[id] = err
		}
	}
	return out
}

// SeedGenomes parses the run's seed genomes (preset names or genome text)
// at the run's depth, repaired into its space.
func SeedGenomes(c config.Config) ([]genome.Genome, error) {
	space := GenomeSpace(c)
	out := make([]genome.Genome, 0, len(c.Seeds))
	for i, s := range c.Seeds {
		g, err := genome.Preset(s, c.Search.Depth)
		if err != nil {
			if g, err = genome.Parse(s); err != nil {
				return nil, fmt.Errorf("seeds[%d] %q: neither a preset nor a genome: %w", i, s, err)
			}
		}
		if len(g) != c.Search.Depth {
			return nil, fmt.Errorf("seeds[%d] %q: depth %d, run depth %d", i, s, len(g), c.Search.Depth)
		}
		out = append(out, genome.Repair(g, space))
	}
	return out, nil
}

// Vector returns a candidate's objective values in the run's objective
// order, or an error naming the first missing or non-finite objective.
func Vector(objectives []string, values map[string]float64) ([]float64, error) {
	out := make([]float64, len(objectives))
	for i, o := range objectives {
		v, ok := values[o]
		if !ok {
			return nil, fmt.Errorf("objective %q missing", o)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("objective %q is %v", o, v)
		}
		out[i] = v
	}
	return out, nil
}
