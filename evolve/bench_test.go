package evolve

import (
	"context"
	"math"
	"testing"
)

// benchGeneration measures one whole generation (mating, children,
// evaluation, survival) at population 100 on ZDT1, from a population
// evolved for 50 generations.
func benchGeneration(b *testing.B, algName string) {
	z := mustZDT(b, "zdt1", 30)
	alg := zdtAlgorithms(b, z)[algName]
	res, err := Run(context.Background(), z, alg, Settings[[]float64]{
		Config:      Config{Seed: 1, PopSize: 100},
		Generations: 50,
	})
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(alg, Config{Seed: 1, PopSize: 100})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		gen, err := e.Breed(51, res.Population)
		if err != nil {
			b.Fatal(err)
		}
		children := gen.Children()
		off := make([]Individual[[]float64], len(children))
		for i, c := range children {
			f, _ := z.Evaluate(ctx, c.X)
			off[i] = Individual[[]float64]{X: c.X, F: f}
		}
		e.Survive(51, res.Population, off)
	}
}

func BenchmarkNSGA2Generation(b *testing.B)   { benchGeneration(b, "nsga2") }
func BenchmarkGAGeneration(b *testing.B)      { benchGeneration(b, "ga") }
func BenchmarkFireflyGeneration(b *testing.B) { benchGeneration(b, "firefly") }

// BenchmarkNSGA2ZDT1 is the whole `bench zdt` workload: population 100,
// 200 generations.
func BenchmarkNSGA2ZDT1(b *testing.B) {
	z := mustZDT(b, "zdt1", 30)
	alg := zdtAlgorithms(b, z)["nsga2"]
	for b.Loop() {
		if _, err := Run(context.Background(), z, alg, Settings[[]float64]{
			Config:      Config{Seed: 1, PopSize: 100},
			Generations: 200,
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNonDominatedSort200(b *testing.B) {
	F := randomPoints(NewRand(1), 200, 2, false)
	b.ReportAllocs()
	for b.Loop() {
		NonDominatedSort(F, nil)
	}
}

func BenchmarkCrowdingDistance100(b *testing.B) {
	F := mustZDT(b, "zdt1", 30).ParetoFront(100)
	b.ReportAllocs()
	for b.Loop() {
		CrowdingDistance(F)
	}
}

func benchHV(b *testing.B, n, d int) {
	r := NewRand(1)
	// Points on the unit simplex's positive orthant sphere: all
	// mutually non-dominated, the hard case.
	ps := make([][]float64, n)
	for i := range ps {
		p := make([]float64, d)
		s := 0.0
		for k := range p {
			p[k] = r.ExpFloat64()
			s += p[k] * p[k]
		}
		for k := range p {
			p[k] = 1 - p[k]/math.Sqrt(s)
		}
		ps[i] = p
	}
	ref := make([]float64, d)
	for k := range ref {
		ref[k] = 1.1
	}
	for b.Loop() {
		if _, err := Hypervolume(ps, ref); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHypervolume2D100(b *testing.B) { benchHV(b, 100, 2) }
func BenchmarkHypervolume3D100(b *testing.B) { benchHV(b, 100, 3) }
func BenchmarkHypervolume4D50(b *testing.B)  { benchHV(b, 50, 4) }
func BenchmarkHypervolume5D30(b *testing.B)  { benchHV(b, 30, 5) }
