package evolve

import (
	"errors"
	"fmt"
	"sync"
)

// MaxPopSize bounds Config.PopSize: populations, the children of a
// generation and the maps of their keys are allocated at that size, so a
// larger one is refused before anything is allocated. Run configs have a
// smaller limit of their own (config.MaxPopulation).
const MaxPopSize = 1 << 16

// DefaultMaxAttempts is how many times a child is generated, at most, while
// it duplicates an existing genome.
const DefaultMaxAttempts = 10

// Config sets an Engine.
type Config struct {
	// Seed is the run seed every random choice derives from.
	Seed uint64
	// PopSize is the number of individuals in a population, in
	// 1..MaxPopSize.
	PopSize int
	// MaxAttempts bounds the regeneration of duplicate children: a child
	// whose Key equals a population member's or an earlier child's is
	// generated again with the attempt number folded into its seeds, up to
	// MaxAttempts tries in all, and the last try is kept. Zero means
	// DefaultMaxAttempts.
	MaxAttempts int
}

// Engine drives an Algorithm one generation, and one stage, at a time. It
// holds only its configuration: every call is a pure function of its
// arguments, so the workflow can rebuild any stage of any generation from
// the stored population (genomes, objectives) and generation number. It is
// safe for concurrent use.
type Engine[T any] struct {
	alg Algorithm[T]
	cfg Config
}

// NewEngine returns an engine running alg.
func NewEngine[T any](alg Algorithm[T], cfg Config) (*Engine[T], error) {
	if alg == nil {
		return nil, errors.New("engine: nil algorithm")
	}
	if cfg.PopSize < 1 || cfg.PopSize > MaxPopSize {
		return nil, fmt.Errorf("engine: population size %d; want 1..%d", cfg.PopSize, MaxPopSize)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxAttempts < 1 {
		return nil, fmt.Errorf("engine: max attempts %d; want >= 1", cfg.MaxAttempts)
	}
	if n := alg.Offspring(cfg.PopSize); n < 1 {
		return nil, fmt.Errorf("engine: %s breeds %d children from a population of %d; want >= 1 (is elitism below the population size?)", alg.Name(), n, cfg.PopSize)
	}
	return &Engine[T]{alg: alg, cfg: cfg}, nil
}

// Algorithm returns the algorithm the engine runs.
func (e *Engine[T]) Algorithm() Algorithm[T] { return e.alg }

// Config returns the engine's configuration, defaults applied.
func (e *Engine[T]) Config() Config { return e.cfg }

// Initial returns the genomes of generation 0: the seeds, in order, then
// random genomes (stage "sample", index = position) up to the population
// size, each regenerated while it duplicates an earlier genome.
func (e *Engine[T]) Initial(seeds []T) ([]T, error) {
	if len(seeds) > e.cfg.PopSize {
		return nil, fmt.Errorf("engine: %d seed genomes for a population of %d", len(seeds), e.cfg.PopSize)
	}
	v := e.alg.Variation()
	out := make([]T, 0, e.cfg.PopSize)
	seen := make(map[string]struct{}, e.cfg.PopSize)
	for _, x := range seeds {
		out = append(out, x)
		seen[v.Key(x)] = struct{}{}
	}
	for i := len(seeds); i < e.cfg.PopSize; i++ {
		var x T
		for a := range e.cfg.MaxAttempts {
			x = v.Sample(NewRand(Attempt(Seed(e.cfg.Seed, 0, StageSample, i), a)))
			if _, dup := seen[v.Key(x)]; !dup {
				break
			}
		}
		out = append(out, x)
		seen[v.Key(x)] = struct{}{}
	}
	return out, nil
}

// Survive returns the population that closes generation g: the survivors
// among the parents (generation g-1's population) and the evaluated
// offspring of generation g. For generation 0, parents is nil and offspring
// the evaluated initial genomes. Randomness: stage "select", index
// IndexSurvival.
func (e *Engine[T]) Survive(generation int, parents, offspring []Individual[T]) []Individual[T] {
	r := NewRand(Seed(e.cfg.Seed, generation, StageSelect, IndexSurvival))
	return e.alg.Survive(r, parents, offspring, e.cfg.PopSize)
}

// Breed plans generation g >= 1, bred from pop, the population that closed
// generation g-1: it runs mating selection (stage "select", index
// IndexMating) at once; children are made on demand.
func (e *Engine[T]) Breed(generation int, pop []Individual[T]) (*Generation[T], error) {
	if generation < 1 {
		return nil, fmt.Errorf("engine: breeding generation %d; generation 0 is Initial's", generation)
	}
	if len(pop) == 0 {
		return nil, errors.New("engine: breeding from an empty population")
	}
	n := e.alg.Offspring(e.cfg.PopSize)
	r := NewRand(Seed(e.cfg.Seed, generation, StageSelect, IndexMating))
	matings := e.alg.Mate(r, generation, pop, n)
	v := e.alg.Variation()
	keys := make(map[string]struct{}, len(pop)+n)
	for _, ind := range pop {
		keys[v.Key(ind.X)] = struct{}{}
	}
	return &Generation[T]{e: e, number: generation, pop: pop, matings: matings, seen: keys}, nil
}

// Child is one child of a generation.
type Child[T any] struct {
	X T
	// Mating says which members of the parent population made the child.
	Mating Mating
	// Attempt is the try that produced X: 0 unless earlier tries
	// duplicated an existing genome.
	Attempt int
	// Duplicate is set when every try duplicated an existing genome and
	// the last was kept.
	Duplicate bool
}

// Generation is one generation being bred: its parents, its matings and
// the children made so far. Recombine and Mutate are pure; Child memoises
// and is safe for concurrent use.
type Generation[T any] struct {
	e       *Engine[T]
	number  int
	pop     []Individual[T]
	matings []Mating

	mu   sync.Mutex
	seen map[string]struct{} // keys of the population and of done
	done []Child[T]
}

// Number returns the generation number.
func (g *Generation[T]) Number() int { return g.number }

// Len returns the number of children.
func (g *Generation[T]) Len() int { return len(g.matings) }

// Matings returns the mating plan, one entry per child; callers must not
// modify it.
func (g *Generation[T]) Matings() []Mating { return g.matings }

// Recombine returns child i before mutation, at the given attempt. Its
// randomness: stage "recombine", index the mating's group.
func (g *Generation[T]) Recombine(i, attempt int) T {
	m := g.matings[i]
	r := NewRand(Attempt(Seed(g.e.cfg.Seed, g.number, StageRecombine, m.Group), attempt))
	return g.e.alg.Recombine(r, g.number, g.pop, m)
}

// Mutate returns child i after mutation of x, the child's Recombine at the
// same attempt. Its randomness: stage "mutate", index i.
func (g *Generation[T]) Mutate(i, attempt int, x T) T {
	r := NewRand(Attempt(Seed(g.e.cfg.Seed, g.number, StageMutate, i), attempt))
	return g.e.alg.Mutate(r, g.number, x)
}

// Child returns child i: Mutate(i, a, Recombine(i, a)) at the first attempt
// a whose genome duplicates no population member and no child before i.
// Children before i are made first if they are not yet, so Child(i) is the
// same wherever and in whatever order it is called. Like Recombine and
// Mutate, it panics if i is not in [0, Len()).
func (g *Generation[T]) Child(i int) Child[T] {
	if i < 0 || i >= len(g.matings) {
		panic(fmt.Sprintf("evolve: child %d of a generation of %d", i, len(g.matings)))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.e.alg.Variation()
	for len(g.done) <= i {
		j := len(g.done)
		c := Child[T]{Mating: g.matings[j], Duplicate: true}
		var key string
		for a := range g.e.cfg.MaxAttempts {
			c.X = g.Mutate(j, a, g.Recombine(j, a))
			c.Attempt = a
			key = v.Key(c.X)
			if _, dup := g.seen[key]; !dup {
				c.Duplicate = false
				break
			}
		}
		g.seen[key] = struct{}{}
		g.done = append(g.done, c)
	}
	return g.done[i]
}

// Children returns every child in order.
func (g *Generation[T]) Children() []Child[T] {
	out := make([]Child[T], len(g.matings))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = g.Child(i)
	}
	return out
}
