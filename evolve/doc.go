// Package evolve is STAR's evolutionary multi-objective search, generic over
// the genome representation: Pareto ranking (dominance, non-dominated
// sorting, crowding distance), quality indicators (exact hypervolume, IGD),
// the algorithms NSGA-II, a scalarised GA and a multi-objective firefly
// algorithm, and two deterministic ways to drive them.
//
// Every objective is minimised. An individual marked Failed (for example a
// candidate whose training produced NaN) ranks below every individual that
// did not fail; Objectives and ParetoSet leave it out, so it never enters an
// indicator.
//
// # Driving a search
//
// The distributed workflow drives one generation at a time through an
// Engine, rebuilding everything from stored state (the population's genomes
// and objectives and the generation number):
//
//	generation 0:  xs := e.Initial(seeds)        // stage "sample"
//	               evaluate xs; pop := e.Survive(0, nil, evaluated)
//	generation g:  gen := e.Breed(g, pop)        // stage "select": matings
//	               gen.Child(i) for every i      // stages "recombine", "mutate"
//	               evaluate children
//	               pop = e.Survive(g, pop, evaluated) // stage "select": survival
//
// A stage needs no other state than the population that closed the
// previous generation, the generation number and, for survival, the
// generation's evaluated children.
//
// Every random choice draws from NewRand(Seed(run, generation, stage,
// index)), so any child can be computed alone, in any order, on any machine,
// with the same result. Run is a plain loop over the same calls for
// benchmarks and tests.
//
// The package imports no queue, no database and no tensor library.
package evolve
