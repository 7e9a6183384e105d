package evolve

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Variation holds the operators that make and change genomes of type T.
// Every method must be deterministic given r and must not modify its
// arguments.
type Variation[T any] interface {
	// Sample returns a random genome.
	Sample(r *rand.Rand) T
	// Crossover recombines two parents into two children.
	Crossover(r *rand.Rand, a, b T) (T, T)
	// Mutate returns a mutated copy of x.
	Mutate(r *rand.Rand, x T) T
	// Key identifies a genome: equal keys mean duplicate genomes.
	Key(x T) string
}

// Space is a Variation whose genomes embed in a box of R^n, so that an
// algorithm can move them continuously (the firefly algorithm). Integer
// genomes encode their genes as floats and decode by rounding and repair.
type Space[T any] interface {
	Variation[T]
	// Encode returns x's coordinates.
	Encode(x T) []float64
	// Decode returns the genome nearest to the coordinates v, which may lie
	// outside the bounds; it must not keep v.
	Decode(v []float64) T
	// Bounds returns the box the coordinates live in; callers must not
	// modify the slices.
	Bounds() (lower, upper []float64)
}

// RealVectorConfig sets the operators of RealVector. A zero field takes the
// default in its comment (pymoo's defaults).
type RealVectorConfig struct {
	// CrossoverProb is the probability that a mating applies SBX at all.
	// Default 0.9.
	CrossoverProb float64
	// CrossoverVarProb is the probability that SBX recombines a variable.
	// Default 0.5.
	CrossoverVarProb float64
	// CrossoverEta is SBX's distribution index. Default 15.
	CrossoverEta float64
	// MutationVarProb is the probability that polynomial mutation changes a
	// variable. Default min(0.5, 1/n).
	MutationVarProb float64
	// MutationEta is polynomial mutation's distribution index. Default 20.
	MutationEta float64
}

// RealVector is the Space of real vectors in a box: uniform sampling,
// simulated binary crossover (SBX) and polynomial mutation, both keeping
// every variable within its bounds.
type RealVector struct {
	lower, upper []float64
	cfg          RealVectorConfig
}

var _ Space[[]float64] = (*RealVector)(nil)

// NewRealVector returns the space of vectors x with lower <= x <= upper.
func NewRealVector(lower, upper []float64, cfg RealVectorConfig) (*RealVector, error) {
	if len(lower) == 0 || len(lower) != len(upper) {
		return nil, fmt.Errorf("real vector: %d lower and %d upper bounds; want equal, non-zero counts", len(lower), len(upper))
	}
	for i := range lower {
		if !(lower[i] <= upper[i]) || math.IsInf(lower[i], 0) || math.IsInf(upper[i], 0) {
			return nil, fmt.Errorf("real vector: variable %d has bounds [%g, %g]; want finite lower <= upper", i, lower[i], upper[i])
		}
	}
	n := float64(len(lower))
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.CrossoverProb, 0.9)
	def(&cfg.CrossoverVarProb, 0.5)
	def(&cfg.CrossoverEta, 15)
	def(&cfg.MutationVarProb, min(0.5, 1/n))
	def(&cfg.MutationEta, 20)
	for _, p := range []float64{cfg.CrossoverProb, cfg.CrossoverVarProb, cfg.MutationVarProb} {
		if p < 0 || p > 1 {
			return nil, errors.New("real vector: probabilities must lie in [0, 1]")
		}
	}
	if cfg.CrossoverEta < 0 || cfg.MutationEta < 0 {
		return nil, errors.New("real vector: distribution indices must be >= 0")
	}
	return &RealVector{
		lower: append([]float64(nil), lower...),
		upper: append([]float64(nil), upper...),
		cfg:   cfg,
	}, nil
}

// Bounds returns the box.
func (v *RealVector) Bounds() (lower, upper []float64) { return v.lower, v.upper }

// Sample draws every variable uniformly within its bounds.
func (v *RealVector) Sample(r *rand.Rand) []float64 {
	x := make([]float64, len(v.lower))
	for i := range x {
		x[i] = v.lower[i] + r.Float64()*(v.upper[i]-v.lower[i])
	}
	return x
}

// Crossover is pymoo's simulated binary crossover: with probability
// CrossoverProb the mating recombines, each variable with probability
// CrossoverVarProb (variables where the parents are within 1e-14 or the
// bounds coincide are left alone); the two children of a variable swap
// with probability 0.5. Without recombination the children are copies of
// the parents.
func (v *RealVector) Crossover(r *rand.Rand, a, b []float64) ([]float64, []float64) {
	c1 := append([]float64(nil), a...)
	c2 := append([]float64(nil), b...)
	if r.Float64() >= v.cfg.CrossoverProb {
		return c1, c2
	}
	eta := v.cfg.CrossoverEta
	for i := range c1 {
		if r.Float64() >= v.cfg.CrossoverVarProb {
			continue
		}
		xl, xu := v.lower[i], v.upper[i]
		if math.Abs(a[i]-b[i]) <= 1e-14 || xl == xu {
			continue
		}
		y1, y2 := min(a[i], b[i]), max(a[i], b[i])
		delta := y2 - y1
		u := r.Float64()
		betaq := func(beta float64) float64 {
			alpha := 2 - math.Pow(beta, -(eta+1))
			if u <= 1/alpha {
				return math.Pow(u*alpha, 1/(eta+1))
			}
			return math.Pow(1/(2-u*alpha), 1/(eta+1))
		}
		v1 := 0.5 * ((y1 + y2) - betaq(1+2*(y1-xl)/delta)*delta)
		v2 := 0.5 * ((y1 + y2) + betaq(1+2*(xu-y2)/delta)*delta)
		if r.Float64() < 0.5 {
			v1, v2 = v2, v1
		}
		c1[i] = min(max(v1, xl), xu)
		c2[i] = min(max(v2, xl), xu)
	}
	return c1, c2
}

// Mutate is pymoo's polynomial mutation: each variable changes with
// probability MutationVarProb, by a perturbation whose distribution shrinks
// near the bounds so the result stays within them.
func (v *RealVector) Mutate(r *rand.Rand, x []float64) []float64 {
	y := append([]float64(nil), x...)
	eta := v.cfg.MutationEta
	pow := 1 / (eta + 1)
	for i := range y {
		if r.Float64() >= v.cfg.MutationVarProb {
			continue
		}
		xl, xu := v.lower[i], v.upper[i]
		if xl == xu {
			continue
		}
		span := xu - xl
		d1 := (y[i] - xl) / span
		d2 := (xu - y[i]) / span
		u := r.Float64()
		var dq float64
		if u <= 0.5 {
			val := 2*u + (1-2*u)*math.Pow(1-d1, eta+1)
			dq = math.Pow(val, pow) - 1
		} else {
			val := 2*(1-u) + 2*(u-0.5)*math.Pow(1-d2, eta+1)
			dq = 1 - math.Pow(val, pow)
		}
		y[i] = min(max(y[i]+dq*span, xl), xu)
	}
	return y
}

// Key is the bit pattern of the vector: equal keys mean identical floats.
func (v *RealVector) Key(x []float64) string {
	b := make([]byte, 8*len(x))
	for i, f := range x {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
	return string(b)
}

// Encode returns a copy of x.
func (v *RealVector) Encode(x []float64) []float64 { return append([]float64(nil), x...) }

// Decode clips the coordinates into the box.
func (v *RealVector) Decode(c []float64) []float64 {
	x := make([]float64, len(c))
	for i, f := range c {
		x[i] = min(max(f, v.lower[i]), v.upper[i])
	}
	return x
}
