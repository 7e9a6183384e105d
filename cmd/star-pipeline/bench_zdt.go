package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
)

func init() { registerBench(benchZDTCommand()) }

// zdtAlgorithms lists the algorithms `bench zdt` runs.
var zdtAlgorithms = []string{"nsga2", "ga", "firefly"}

// zdtReference is the reference point of the reported hypervolumes.
var zdtReference = []float64{1.1, 1.1}

// ZDT front sizes: IGD against a front of zdtFrontIGD points, the true
// front's hypervolume from zdtFrontHV points.
const (
	zdtVariables = 30
	zdtFrontIGD  = 1000
	zdtFrontHV   = 100000
)

func benchZDTCommand() *cli.Command {
	return &cli.Command{
		Name:  "zdt",
		Usage: "run an evolutionary algorithm on a ZDT problem and print hypervolume and IGD",
		UsageText: `star-pipeline bench zdt [--problem zdt1|zdt2|zdt3] [--algorithm nsga2|ga|firefly]
    [--pop N] [--generations G] [--seed S] [--json]

Runs the algorithm on the 30-variable problem for G generations after a
random initial population, then prints the hypervolume of the final
non-dominated set at (1.1, 1.1), its IGD to 1000 points of the true Pareto
front, the number of evaluations, the wall time, and the true front's
hypervolume for comparison.

Examples:
  star-pipeline bench zdt
  star-pipeline bench zdt --problem zdt3 --algorithm firefly --seed 2 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "problem", Value: "zdt1", Usage: "problem: " + strings.Join(evolve.ZDTNames, ", "), EnvVars: []string{"STAR_PROBLEM"}},
			&cli.StringFlag{Name: "algorithm", Value: "nsga2", Usage: "algorithm: " + strings.Join(zdtAlgorithms, ", "), EnvVars: []string{"STAR_ALGORITHM"}},
			&cli.IntFlag{Name: "pop", Value: 100, Usage: "population size", EnvVars: []string{"STAR_POP"}},
			&cli.IntFlag{Name: "generations", Value: 200, Usage: "generations after the initial population", EnvVars: []string{"STAR_GENERATIONS"}},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "run seed", EnvVars: []string{"STAR_SEED"}},
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"STAR_JSON"}},
		},
		Action: benchZDT,
	}
}

// zdtResult is what `bench zdt` prints.
type zdtResult struct {
	Problem         string  `json:"problem"`
	Algorithm       string  `json:"algorithm"`
	Pop             int     `json:"pop"`
	Generations     int     `json:"generations"`
	Seed            uint64  `json:"seed"`
	Hypervolume     float64 `json:"hypervolume"`
	TrueHypervolume float64 `json:"true_hypervolume"`
	IGD             float64 `json:"igd"`
	FrontSize       int     `json:"front_size"`
	Evaluations     int     `json:"evaluations"`
	WallSeconds     float64 `json:"wall_seconds"`
}

func benchZDT(c *cli.Context) error {
	name, algName := c.String("problem"), c.String("algorithm")
	pop, gens := c.Int("pop"), c.Int("generations")
	if !slices.Contains(evolve.ZDTNames, name) {
		return badInput("unknown problem %q: want one of %s", name, strings.Join(evolve.ZDTNames, ", "))
	}
	if !slices.Contains(zdtAlgorithms, algName) {
		return badInput("unknown algorithm %q: want one of %s", algName, strings.Join(zdtAlgorithms, ", "))
	}
	if pop < 1 {
		return badInput("--pop %d: want a positive population size", pop)
	}
	if gens < 1 {
		return badInput("--generations %d: want a positive number of generations", gens)
	}
	if err := checkIntFlags(c, intRange{"pop", 1, config.MaxPopulation}, intRange{"generations", 1, config.MaxGenerations}); err != nil {
		return err
	}
	z, err := evolve.NewZDT(name, zdtVariables)
	if err != nil {
		return badInput("%v", err)
	}
	alg, err := zdtAlgorithm(z, algName)
	if err != nil {
		return fmt.Errorf("building %s: %w", algName, err)
	}
	if n := alg.Offspring(pop); n < 1 {
		return badInput("--pop %d: %s needs a population larger than its %d elites", pop, algName, pop-n)
	}

	stderr := c.App.ErrWriter
	start := time.Now()
	lastProgress := start
	res, err := evolve.Run(c.Context, z, alg, evolve.Settings[[]float64]{
		Config:      evolve.Config{Seed: c.Uint64("seed"), PopSize: pop},
		Generations: gens,
		OnGeneration: func(r evolve.Report[[]float64]) error {
			if now := time.Now(); now.Sub(lastProgress) >= time.Second {
				lastProgress = now
				fmt.Fprintf(stderr, "generation %d/%d, %d evaluations\n", r.Generation, gens, r.Evaluations)
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("running %s on %s: %w", algName, name, err)
	}
	wall := time.Since(start)

	F := evolve.Objectives(evolve.ParetoSet(res.Population))
	hv, err := evolve.Hypervolume(F, zdtReference)
	if err != nil {
		return fmt.Errorf("measuring hypervolume: %w", err)
	}
	igd, err := evolve.IGD(F, z.ParetoFront(zdtFrontIGD))
	if err != nil {
		return fmt.Errorf("measuring IGD: %w", err)
	}
	trueHV, err := evolve.Hypervolume(z.ParetoFront(zdtFrontHV), zdtReference)
	if err != nil {
		return fmt.Errorf("measuring the true front's hypervolume: %w", err)
	}
	out := zdtResult{
		Problem: name, Algorithm: algName, Pop: pop, Generations: gens, Seed: c.Uint64("seed"),
		Hypervolume: hv, TrueHypervolume: trueHV, IGD: igd, FrontSize: len(F),
		Evaluations: res.Evaluations, WallSeconds: wall.Seconds(),
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, out)
	}
	t := newTable(w, "problem", "algorithm", "pop", "generations", "seed", "hypervolume", "true_hv", "igd", "front", "evaluations", "wall")
	t.row(out.Problem, out.Algorithm, out.Pop, out.Generations, out.Seed,
		fmt.Sprintf("%.4f", hv), fmt.Sprintf("%.4f", trueHV), fmt.Sprintf("%.5f", igd),
		out.FrontSize, out.Evaluations, wall.Round(time.Millisecond))
	return t.flush()
}

// zdtAlgorithm builds the named algorithm over the problem's box with the
// package defaults.
func zdtAlgorithm(z *evolve.ZDT, name string) (evolve.Algorithm[[]float64], error) {
	lo, hi := z.Bounds()
	v, err := evolve.NewRealVector(lo, hi, evolve.RealVectorConfig{})
	if err != nil {
		return nil, err
	}
	switch name {
	case "ga":
		return evolve.NewGA[[]float64](v, evolve.DefaultGAConfig())
	case "firefly":
		return evolve.NewFirefly[[]float64](v, evolve.DefaultFireflyConfig())
	}
	return evolve.NewNSGA2[[]float64](v, evolve.NSGA2Config{})
}
