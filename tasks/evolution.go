package tasks

import (
	"context"
	"fmt"
	"math"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/search"
)

// Member is one candidate of a population as the evolution stages see it.
type Member struct {
	ID         string    `json:"id"`
	Genome     string    `json:"genome"`
	Objectives []float64 `json:"objectives,omitempty"` // in the run's objective order
	Failed     bool      `json:"failed,omitempty"`
	// Rung is the rung of a multi-fidelity run its objectives were
	// measured at: survival ranks a higher rung first (evolve.Outranks).
	Rung int `json:"rung,omitempty"`
}

// Breeding is what every evolution stage of generation g >= 1 needs: the run
// config (YAML) and the population that closed generation g-1.
type Breeding struct {
	Node       Node     `json:"node"`
	Config     string   `json:"config"`
	Population []Member `json:"population"`
}

// RecombineResult is child Index before mutation.
type RecombineResult struct {
	Genome  string   `json:"genome"`
	Attempt int      `json:"attempt"`
	Parents []string `json:"parents"` // candidate ids of the population
	// Operator names how the child was made (crossover, firefly).
	Operator string `json:"operator"`
}

// MutatePayload asks for the mutation of child Node.Index at Attempt.
type MutatePayload struct {
	Breeding
	Genome  string `json:"genome"`
	Attempt int    `json:"attempt"`
}

// MutateResult is the finished child genome in canonical text.
type MutateResult struct {
	Genome    string `json:"genome"`
	Hash      string `json:"hash"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// SelectPayload closes generation Node.Generation: the parents (the
// population that closed the generation before; empty for generation 0) and
// the evaluated offspring. Any number of them may have failed, all of them
// included: failed candidates (and candidates without one finite value per
// objective) rank below every other, and survive only where too few others
// are left.
type SelectPayload struct {
	Node      Node     `json:"node"`
	Config    string   `json:"config"`
	Parents   []Member `json:"parents"`
	Offspring []Member `json:"offspring"`
	// Ideal and Nadir normalise objectives for the hypervolume (reference
	// point 1.1 in every normalised objective). Both empty (every candidate
	// of generation 0 failed, so there is nothing to normalise by) leaves
	// the hypervolume unmeasured: 0.
	Ideal []float64 `json:"ideal"`
	Nadir []float64 `json:"nadir"`
}

// SelectResult is the surviving population and its hypervolume.
type SelectResult struct {
	Population []string `json:"population"` // candidate ids, in order
	// Hypervolume of the survivors that did not fail, over normalised
	// objectives. It is 0 when none of them is left (a generation whose
	// every candidate failed, with parents that failed too) and when the
	// payload carries no bounds: "nothing measured", never an error.
	Hypervolume float64  `json:"hypervolume"`
	Front       []string `json:"front"` // non-dominated survivors, none failed
}

// loadRun parses the run config and builds its engine.
func loadRun(yaml string) (config.Config, *evolve.Engine[genome.Genome], error) {
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		return c, nil, permanent(fmt.Errorf("parsing run config: %w", err))
	}
	e, err := search.NewEngine(c)
	if err != nil {
		return c, nil, permanent(fmt.Errorf("building engine: %w", err))
	}
	return c, e, nil
}

// individuals converts members into the engine's individuals. A member
// whose objectives cannot be ranked (not one finite value per objective of
// the run) counts as failed, as a failed evaluation does: it ranks below
// every other and its objectives are never read.
func individuals(ms []Member, c config.Config) ([]evolve.Individual[genome.Genome], error) {
	out := make([]evolve.Individual[genome.Genome], len(ms))
	for i, m := range ms {
		g, err := genome.Parse(m.Genome)
		if err != nil {
			return nil, permanent(fmt.Errorf("member %s: %w", m.ID, err))
		}
		if len(g) != c.Search.Depth {
			return nil, permanent(fmt.Errorf("member %s: depth %d, run depth %d", m.ID, len(g), c.Search.Depth))
		}
		ind := evolve.Individual[genome.Genome]{X: g, F: m.Objectives, Failed: m.Failed, Fidelity: m.Rung}
		if ind.Failed || !rankable(m.Objectives, len(c.Objectives)) {
			ind.F, ind.Failed, ind.Fidelity = nil, true, 0
		}
		out[i] = ind
	}
	return out, nil
}

// rankable reports whether f holds n finite objective values.
func rankable(f []float64, n int) bool {
	if len(f) != n {
		return false
	}
	for _, v := range f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// breed rebuilds generation p.Node.Generation from its stored parents.
func breed(p Breeding) (*evolve.Generation[genome.Genome], error) {
	c, e, err := loadRun(p.Config)
	if err != nil {
		return nil, err
	}
	pop, err := individuals(p.Population, c)
	if err != nil {
		return nil, err
	}
	gen, err := e.Breed(p.Node.Generation, pop)
	if err != nil {
		return nil, permanent(err)
	}
	if p.Node.Index < 0 || p.Node.Index >= gen.Len() {
		return nil, permanent(fmt.Errorf("child %d of a generation of %d", p.Node.Index, gen.Len()))
	}
	return gen, nil
}

// Recombine makes child p.Node.Index of its generation before mutation, at
// the first attempt whose finished child duplicates no earlier genome.
func Recombine(_ context.Context, p Breeding) (RecombineResult, error) {
	gen, err := breed(p)
	if err != nil {
		return RecombineResult{}, err
	}
	i := p.Node.Index
	child := gen.Child(i)
	x := gen.Recombine(i, child.Attempt)
	parents := make([]string, len(child.Mating.Parents))
	for j, k := range child.Mating.Parents {
		parents[j] = p.Population[k].ID
	}
	op := "crossover"
	if c, _ := config.Parse([]byte(p.Config)); c.Algorithm.Name == config.Firefly {
		op = "firefly"
	}
	return RecombineResult{Genome: genome.Format(x), Attempt: child.Attempt, Parents: parents, Operator: op}, nil
}

// Mutate mutates child p.Node.Index at p.Attempt and repairs it.
func Mutate(_ context.Context, p MutatePayload) (MutateResult, error) {
	gen, err := breed(p.Breeding)
	if err != nil {
		return MutateResult{}, err
	}
	x, err := genome.Parse(p.Genome)
	if err != nil {
		return MutateResult{}, permanent(fmt.Errorf("recombined genome: %w", err))
	}
	y := gen.Mutate(p.Node.Index, p.Attempt, x)
	child := gen.Child(p.Node.Index)
	return MutateResult{Genome: genome.Format(y), Hash: genome.Hash(y), Duplicate: child.Duplicate}, nil
}

// Select runs survival over parents and offspring and measures the
// hypervolume of the survivors over normalised objectives. In a
// multi-fidelity run survival ranks by evolve.Outranks (a higher rung
// first) and the hypervolume is that of the survivors of the highest rung.
func Select(_ context.Context, p SelectPayload) (SelectResult, error) {
	c, e, err := loadRun(p.Config)
	if err != nil {
		return SelectResult{}, err
	}
	parents, err := individuals(p.Parents, c)
	if err != nil {
		return SelectResult{}, err
	}
	offspring, err := individuals(p.Offspring, c)
	if err != nil {
		return SelectResult{}, err
	}
	// Genomes are unique within a generation's candidates up to exhausted
	// duplicate attempts, and equal genomes carry equal objectives, so the
	// canonical hash identifies a survivor's candidate.
	ids := make(map[string]string, len(p.Parents)+len(p.Offspring))
	for i, ind := range append(append([]evolve.Individual[genome.Genome](nil), parents...), offspring...) {
		m := p.Offspring
		j := i - len(parents)
		if j < 0 {
			m, j = p.Parents, i
		}
		if _, ok := ids[genome.Hash(ind.X)]; !ok {
			ids[genome.Hash(ind.X)] = m[j].ID
		}
	}
	var pp []evolve.Individual[genome.Genome]
	if p.Node.Generation > 0 {
		pp = parents
	}
	survivors := e.Survive(p.Node.Generation, pp, offspring)
	var res SelectResult
	for _, s := range survivors {
		res.Population = append(res.Population, ids[genome.Hash(s.X)])
	}
	for _, s := range evolve.ParetoSet(survivors) {
		res.Front = append(res.Front, ids[genome.Hash(s.X)])
	}
	res.Hypervolume, err = Hypervolume(evolve.Objectives(topFidelity(survivors)), p.Ideal, p.Nadir)
	if err != nil {
		return SelectResult{}, permanent(err)
	}
	return res, nil
}

// topFidelity returns the individuals of pop measured at the highest
// fidelity any of them has (failed ones left for Objectives to drop): the
// hypervolume of a multi-fidelity population is that of its members that
// reached the highest rung, whose objectives compare with each other. With
// one fidelity it is pop.
func topFidelity[T any](pop []evolve.Individual[T]) []evolve.Individual[T] {
	top := 0
	for _, ind := range pop {
		if !ind.Failed {
			top = max(top, ind.Fidelity)
		}
	}
	var out []evolve.Individual[T]
	for _, ind := range pop {
		if ind.Failed || ind.Fidelity == top {
			out = append(out, ind)
		}
	}
	return out
}

// Hypervolume measures points after normalising them by ideal and nadir,
// with reference point 1.1 in every objective; points beyond it add nothing.
// No points, or no bounds (ideal and nadir both empty: nothing of
// generation 0 was measured), measure 0. Bounds whose length differs from
// the points' are an error.
func Hypervolume(points [][]float64, ideal, nadir []float64) (float64, error) {
	if len(points) == 0 || (len(ideal) == 0 && len(nadir) == 0) {
		return 0, nil
	}
	norm, err := evolve.Normalize(points, ideal, nadir)
	if err != nil {
		return 0, err
	}
	ref := make([]float64, len(points[0]))
	for i := range ref {
		ref[i] = 1.1
	}
	var in [][]float64
	for _, p := range norm {
		ok := true
		for i, v := range p {
			if v >= ref[i] {
				ok = false
			}
		}
		if ok {
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		return 0, nil
	}
	return evolve.Hypervolume(in, ref)
}
