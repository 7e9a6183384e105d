package evolve

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// zdtAlgorithms returns the three algorithms over the ZDT box.
func zdtAlgorithms(t testing.TB, z *ZDT) map[string]Algorithm[[]float64] {
	t.Helper()
	lo, hi := z.Bounds()
	v, err := NewRealVector(lo, hi, RealVectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	nsga2, err := NewNSGA2[[]float64](v, NSGA2Config{})
	if err != nil {
		t.Fatal(err)
	}
	ga, err := NewGA[[]float64](v, DefaultGAConfig())
	if err != nil {
		t.Fatal(err)
	}
	ff, err := NewFirefly[[]float64](v, DefaultFireflyConfig())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Algorithm[[]float64]{"nsga2": nsga2, "ga": ga, "firefly": ff}
}

func mustZDT(t testing.TB, name string, n int) *ZDT {
	t.Helper()
	z, err := NewZDT(name, n)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// roundTrip stores a population as JSON and loads it again, as the
// workflow's database would.
func roundTrip[T any](t testing.TB, pop []Individual[T]) []Individual[T] {
	t.Helper()
	b, err := json.Marshal(pop)
	if err != nil {
		t.Fatal(err)
	}
	var out []Individual[T]
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// bits is a tiny discrete genome space where duplicates are frequent: an
// integer whose low width bits are the genes.
type bits struct{ width int }

func (b bits) Sample(r *rand.Rand) int { return r.IntN(1 << b.width) }

func (b bits) Crossover(r *rand.Rand, x, y int) (int, int) {
	cut := r.IntN(b.width + 1)
	mask := (1 << cut) - 1
	return x&mask | y&^mask, y&mask | x&^mask
}

func (b bits) Mutate(r *rand.Rand, x int) int {
	for i := range b.width {
		if r.Float64() < 1/float64(b.width) {
			x ^= 1 << i
		}
	}
	return x
}

func (b bits) Key(x int) string { return strconv.Itoa(x) }

// bitsProblem has two conflicting objectives over bits: the value and its
// complement. Genomes in fail fail to evaluate; genomes in nan give NaN.
type bitsProblem struct {
	width     int
	fail, nan map[int]bool
}

func (p bitsProblem) Objectives() int { return 2 }

func (p bitsProblem) Evaluate(_ context.Context, x int) ([]float64, error) {
	if p.fail[x] {
		return nil, errFailed
	}
	if p.nan[x] {
		return []float64{math.NaN(), 0}, nil
	}
	ones := 0
	for i := range p.width {
		ones += x >> i & 1
	}
	return []float64{float64(x), float64(ones)}, nil
}

type failure struct{}

func (failure) Error() string { return "training diverged" }

var errFailed error = failure{}
