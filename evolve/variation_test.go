package evolve

import (
	"math"
	"slices"
	"testing"
)

func TestRealVectorStaysInBounds(t *testing.T) {
	t.Parallel()
	lo := []float64{0, -1, 5, 2}
	hi := []float64{1, 1, 5, 100}
	v, err := NewRealVector(lo, hi, RealVectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	in := func(x []float64) bool {
		for i := range x {
			if !(x[i] >= lo[i] && x[i] <= hi[i]) {
				return false
			}
		}
		return true
	}
	r := NewRand(1)
	changed := 0
	for range 2000 {
		a, b := v.Sample(r), v.Sample(r)
		a[0], b[1] = 0, 1 // on the bounds
		ac, bc := slices.Clone(a), slices.Clone(b)
		c1, c2 := v.Crossover(r, a, b)
		m := v.Mutate(r, c1)
		if !in(a) || !in(c1) || !in(c2) || !in(m) {
			t.Fatalf("out of bounds: parents %v %v children %v %v mutant %v", a, b, c1, c2, m)
		}
		if !slices.Equal(a, ac) || !slices.Equal(b, bc) {
			t.Fatal("crossover modified its parents")
		}
		if c1[2] != 5 || m[2] != 5 {
			t.Fatal("a fixed variable changed")
		}
		if !slices.Equal(m, c1) {
			changed++
		}
	}
	// Each of the three free variables mutates with probability 1/4, so
	// about 1-(3/4)^3 = 58% of mutants differ from their input.
	if changed < 1000 || changed > 1330 {
		t.Fatalf("%d of 2000 mutants changed", changed)
	}
}

func TestSBXIsSymmetricAroundParents(t *testing.T) {
	t.Parallel()
	v, _ := NewRealVector([]float64{0}, []float64{1}, RealVectorConfig{CrossoverProb: 1, CrossoverVarProb: 1})
	r := NewRand(2)
	for range 1000 {
		// Parents equally far from their bounds: unless clipped, the
		// children mirror each other around the parents' mean.
		c1, c2 := v.Crossover(r, []float64{0.4}, []float64{0.6})
		if c1[0] == 0 || c1[0] == 1 || c2[0] == 0 || c2[0] == 1 {
			continue
		}
		if mid := (c1[0] + c2[0]) / 2; math.Abs(mid-0.5) > 1e-12 {
			t.Fatalf("children %v %v: mean %v, want 0.5", c1, c2, mid)
		}
	}
	c1, c2 := v.Crossover(r, []float64{0.3}, []float64{0.3})
	if c1[0] != 0.3 || c2[0] != 0.3 {
		t.Fatalf("children of identical parents: %v %v", c1, c2)
	}
}

func TestRealVectorKeyAndDecode(t *testing.T) {
	t.Parallel()
	v, _ := NewRealVector([]float64{0, 0}, []float64{1, 1}, RealVectorConfig{})
	if v.Key([]float64{0.5, 0.25}) == v.Key([]float64{0.25, 0.5}) {
		t.Fatal("different vectors share a key")
	}
	if v.Key([]float64{0.5, 0.25}) != v.Key([]float64{0.5, 0.25}) {
		t.Fatal("equal vectors have different keys")
	}
	if got := v.Decode([]float64{-3, 7}); !slices.Equal(got, []float64{0, 1}) {
		t.Fatalf("Decode clipped to %v", got)
	}
}

func TestNewRealVectorErrors(t *testing.T) {
	t.Parallel()
	bad := []struct {
		lo, hi []float64
		cfg    RealVectorConfig
	}{
		{nil, nil, RealVectorConfig{}},
		{[]float64{0}, []float64{1, 2}, RealVectorConfig{}},
		{[]float64{2}, []float64{1}, RealVectorConfig{}},
		{[]float64{0}, []float64{math.Inf(1)}, RealVectorConfig{}},
		{[]float64{0}, []float64{1}, RealVectorConfig{CrossoverProb: 2}},
		{[]float64{0}, []float64{1}, RealVectorConfig{MutationEta: -1}},
	}
	for _, b := range bad {
		if _, err := NewRealVector(b.lo, b.hi, b.cfg); err == nil {
			t.Errorf("NewRealVector(%v, %v, %+v): no error", b.lo, b.hi, b.cfg)
		}
	}
}
