package evolve_test

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/evolve"
)

func ExampleHypervolume() {
	hv, _ := evolve.Hypervolume([][]float64{{1, 0, 1}, {0, 1, 0}}, []float64{2, 2, 2})
	fmt.Println(hv)
	// Output: 5
}

func ExampleIGD() {
	front := [][]float64{{10, 0}, {6, 1}, {2, 2}, {1, 6}, {0, 10}}
	igd, _ := evolve.IGD([][]float64{{4, 2}, {3, 3}, {2, 4}}, front)
	fmt.Printf("%.6f\n", igd)
	// Output: 3.707092
}

func ExampleCrowdingDistance() {
	fmt.Println(evolve.CrowdingDistance([][]float64{{0, 0}, {0.5, 50}, {1, 100}}))
	// Output: [+Inf 1 +Inf]
}

func ExampleRun() {
	z, _ := evolve.NewZDT("zdt1", 30)
	lo, hi := z.Bounds()
	v, _ := evolve.NewRealVector(lo, hi, evolve.RealVectorConfig{})
	alg, _ := evolve.NewNSGA2[[]float64](v, evolve.NSGA2Config{})
	res, err := evolve.Run(context.Background(), z, alg, evolve.Settings[[]float64]{
		Config:      evolve.Config{Seed: 1, PopSize: 100},
		Generations: 200,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	hv, _ := evolve.Hypervolume(evolve.Objectives(evolve.ParetoSet(res.Population)), []float64{1.1, 1.1})
	fmt.Printf("%d evaluations, hypervolume %.2f\n", res.Evaluations, hv)
	// Output: 20100 evaluations, hypervolume 0.87
}

// The workflow's view: each stage rebuilt from the stored population and
// the generation number.
func ExampleEngine() {
	z, _ := evolve.NewZDT("zdt2", 30)
	lo, hi := z.Bounds()
	v, _ := evolve.NewRealVector(lo, hi, evolve.RealVectorConfig{})
	alg, _ := evolve.NewNSGA2[[]float64](v, evolve.NSGA2Config{})
	e, _ := evolve.NewEngine(alg, evolve.Config{Seed: 7, PopSize: 10})
	ctx := context.Background()
	evaluate := func(xs [][]float64) []evolve.Individual[[]float64] {
		out := make([]evolve.Individual[[]float64], len(xs))
		for i, x := range xs {
			f, _ := z.Evaluate(ctx, x)
			out[i] = evolve.Individual[[]float64]{X: x, F: f}
		}
		return out
	}

	xs, _ := e.Initial(nil)
	pop := e.Survive(0, nil, evaluate(xs)) // stored as generation 0
	for g := 1; g <= 3; g++ {
		gen, _ := e.Breed(g, pop) // "select": matings
		children := make([][]float64, gen.Len())
		for _, i := range []int{9, 0, 4, 1, 8, 2, 7, 3, 6, 5} {
			children[i] = gen.Child(i).X // "recombine" and "mutate", any order
		}
		pop = e.Survive(g, pop, evaluate(children)) // stored as generation g
		fmt.Printf("generation %d: %d individuals, child 0 from parents %v\n", g, len(pop), gen.Matings()[0].Parents)
	}
	// Output:
	// generation 1: 10 individuals, child 0 from parents [5 4]
	// generation 2: 10 individuals, child 0 from parents [1 0]
	// generation 3: 10 individuals, child 0 from parents [7 5]
}
