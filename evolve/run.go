package evolve

import (
	"context"
	"errors"
	"fmt"
)

// Settings set Run.
type Settings[T any] struct {
	Config
	// Generations is the number of generations bred after the initial
	// population, >= 0. A run evaluates PopSize + Generations*Offspring
	// genomes.
	Generations int
	// Initial are seed genomes for generation 0; random genomes fill the
	// rest of the population.
	Initial []T
	// OnGeneration, if set, is called with the population that closes
	// every generation, 0 included; an error stops the run and is returned.
	OnGeneration func(Report[T]) error
}

// Report is the state of a run at the end of a generation.
type Report[T any] struct {
	Generation int
	// Population is the population that closes the generation; it must
	// not be modified.
	Population []Individual[T]
	// Evaluations counts the genomes evaluated so far.
	Evaluations int
}

// Result is the outcome of Run.
type Result[T any] struct {
	// Population is the final population.
	Population []Individual[T]
	// Evaluations counts the genomes evaluated.
	Evaluations int
}

// objectiveChecker is implemented by algorithms whose configuration depends
// on the number of objectives.
type objectiveChecker interface{ CheckObjectives(int) error }

// Run runs alg on p for s.Generations generations through the same Engine
// calls the workflow makes, evaluating genomes one at a time in order. The
// result depends only on its arguments.
func Run[T any](ctx context.Context, p Problem[T], alg Algorithm[T], s Settings[T]) (Result[T], error) {
	if p == nil {
		return Result[T]{}, errors.New("run: nil problem")
	}
	if s.Generations < 0 {
		return Result[T]{}, fmt.Errorf("run: %d generations; want >= 0", s.Generations)
	}
	if c, ok := alg.(objectiveChecker); ok {
		if err := c.CheckObjectives(p.Objectives()); err != nil {
			return Result[T]{}, fmt.Errorf("run: %w", err)
		}
	}
	e, err := NewEngine(alg, s.Config)
	if err != nil {
		return Result[T]{}, fmt.Errorf("run: %w", err)
	}
	xs, err := e.Initial(s.Initial)
	if err != nil {
		return Result[T]{}, fmt.Errorf("run: %w", err)
	}
	var res Result[T]
	off, err := evaluate(ctx, p, xs)
	if err != nil {
		return Result[T]{}, err
	}
	res.Evaluations += len(off)
	pop := e.Survive(0, nil, off)
	if err := report(s, 0, pop, res.Evaluations); err != nil {
		return Result[T]{}, err
	}
	for g := 1; g <= s.Generations; g++ {
		gen, err := e.Breed(g, pop)
		if err != nil {
			return Result[T]{}, fmt.Errorf("run: %w", err)
		}
		children := gen.Children()
		xs = make([]T, 0, len(children))
		for _, c := range children {
			xs = append(xs, c.X)
		}
		off, err := evaluate(ctx, p, xs)
		if err != nil {
			return Result[T]{}, err
		}
		res.Evaluations += len(off)
		pop = e.Survive(g, pop, off)
		if err := report(s, g, pop, res.Evaluations); err != nil {
			return Result[T]{}, err
		}
	}
	res.Population = pop
	return res, nil
}

func report[T any](s Settings[T], g int, pop []Individual[T], evals int) error {
	if s.OnGeneration == nil {
		return nil
	}
	if err := s.OnGeneration(Report[T]{Generation: g, Population: pop, Evaluations: evals}); err != nil {
		return fmt.Errorf("run: generation %d callback: %w", g, err)
	}
	return nil
}

// evaluate evaluates xs in order; only a context error or a malformed
// result stops it. A failed individual keeps no objectives, so populations
// always encode as JSON.
func evaluate[T any](ctx context.Context, p Problem[T], xs []T) ([]Individual[T], error) {
	want := p.Objectives()
	out := make([]Individual[T], len(xs))
	for i, x := range xs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i].X = x
		f, err := p.Evaluate(ctx, x)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			out[i].Failed = true
		case len(f) != want:
			return nil, fmt.Errorf("run: problem returned %d objectives, want %d", len(f), want)
		case invalid(f):
			out[i].Failed = true
		default:
			out[i].F = f
		}
	}
	return out, nil
}
