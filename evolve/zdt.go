package evolve

import (
	"context"
	"fmt"
	"math"
)

// ZDT is one of the two-objective test problems ZDT1, ZDT2 and ZDT3 of
// Zitzler, Deb and Thiele over n variables in [0, 1]:
//
//	f1 = x1, g = 1 + 9/(n-1) * sum(x2..xn), f2 = g*h(f1, g)
//	ZDT1: h = 1 - sqrt(f1/g)                      (convex front)
//	ZDT2: h = 1 - (f1/g)^2                        (concave front)
//	ZDT3: h = 1 - sqrt(f1/g) - f1/g*sin(10*pi*f1) (five disconnected pieces)
//
// The Pareto-optimal set is g = 1 (x2..xn = 0).
type ZDT struct {
	name string
	n    int
	h    func(f1, g float64) float64
}

var _ Problem[[]float64] = (*ZDT)(nil)

// ZDTNames lists the problems NewZDT knows.
var ZDTNames = []string{"zdt1", "zdt2", "zdt3"}

// NewZDT returns the named problem (zdt1, zdt2 or zdt3) over n >= 2
// variables; the standard n is 30.
func NewZDT(name string, n int) (*ZDT, error) {
	if n < 2 {
		return nil, fmt.Errorf("zdt: %d variables; want >= 2", n)
	}
	z := &ZDT{name: name, n: n}
	switch name {
	case "zdt1":
		z.h = func(f1, g float64) float64 { return 1 - math.Sqrt(f1/g) }
	case "zdt2":
		z.h = func(f1, g float64) float64 { return 1 - (f1/g)*(f1/g) }
	case "zdt3":
		z.h = func(f1, g float64) float64 {
			return 1 - math.Sqrt(f1/g) - f1/g*math.Sin(10*math.Pi*f1)
		}
	default:
		return nil, fmt.Errorf("zdt: unknown problem %q; want one of %v", name, ZDTNames)
	}
	return z, nil
}

// Name returns the problem's name.
func (z *ZDT) Name() string { return z.name }

// Variables returns the number of variables.
func (z *ZDT) Variables() int { return z.n }

// Objectives returns 2.
func (z *ZDT) Objectives() int { return 2 }

// Bounds returns the unit box.
func (z *ZDT) Bounds() (lower, upper []float64) {
	lower, upper = make([]float64, z.n), make([]float64, z.n)
	for i := range upper {
		upper[i] = 1
	}
	return lower, upper
}

// Evaluate returns (f1, f2); x must have Variables() entries.
func (z *ZDT) Evaluate(_ context.Context, x []float64) ([]float64, error) {
	if len(x) != z.n {
		return nil, fmt.Errorf("%s: %d variables, want %d", z.name, len(x), z.n)
	}
	s := 0.0
	for _, v := range x[1:] {
		s += v
	}
	g := 1 + 9*s/float64(z.n-1)
	f1 := x[0]
	return []float64{f1, g * z.h(f1, g)}, nil
}

// ParetoFront returns n >= 2 points of the true Pareto front, evenly spaced
// in f1 over each of its pieces (ZDT3's five pieces share the points in
// proportion to their extent in f1, each keeping both ends).
func (z *ZDT) ParetoFront(n int) [][]float64 {
	n = max(n, 2)
	f := func(f1 float64) float64 { return z.h(f1, 1) }
	pieces := [][2]float64{{0, 1}}
	if z.name == "zdt3" {
		pieces = zdt3Pieces(f)
	}
	total := 0.0
	for _, p := range pieces {
		total += p[1] - p[0]
	}
	var out [][]float64
	left := n
	for i, p := range pieces {
		m := left
		if i < len(pieces)-1 {
			m = max(2, int(math.Round(float64(n)*(p[1]-p[0])/total)))
			m = min(m, left-2*(len(pieces)-1-i))
		}
		left -= m
		for j := range m {
			f1 := p[0] + (p[1]-p[0])*float64(j)/float64(m-1)
			if j == m-1 {
				f1 = p[1]
			}
			out = append(out, []float64{f1, f(f1)})
		}
	}
	return out
}

// zdt3Pieces finds the intervals of f1 where the curve f2 = f(f1), f1 in
// [0, 1], is not dominated by the curve to its left. A piece ends at a local
// minimum of f; the next starts where f falls below that minimum again.
// Both are located on a grid and refined by bisection to machine precision.
func zdt3Pieces(f func(float64) float64) [][2]float64 {
	const grid = 20000
	x := func(i int) float64 { return float64(i) / grid }
	var pieces [][2]float64
	start := 0.0
	best := f(0) // lowest f to the left
	inPiece := true
	for i := 1; i <= grid; i++ {
		v := f(x(i))
		switch {
		case inPiece && v > f(x(i-1)):
			// f rose: the piece ended at the local minimum near x(i-1).
			end := argminBracket(f, x(max(i-2, 0)), x(i))
			pieces = append(pieces, [2]float64{start, end})
			best = f(end)
			inPiece = false
		case !inPiece && v < best:
			// f fell below the last minimum between x(i-1) and x(i).
			lo, hi := x(i-1), x(i)
			for range 200 {
				mid := (lo + hi) / 2
				if mid <= lo || mid >= hi {
					break
				}
				if f(mid) < best {
					hi = mid
				} else {
					lo = mid
				}
			}
			start = hi
			inPiece = true
		}
		if inPiece {
			best = min(best, v)
		}
	}
	if inPiece {
		pieces = append(pieces, [2]float64{start, 1})
	}
	return pieces
}

// argminBracket is a golden-section search for the minimum of a unimodal f
// on [lo, hi].
func argminBracket(f func(float64) float64, lo, hi float64) float64 {
	const phi = 0.6180339887498949
	a, b := lo, hi
	c, d := b-phi*(b-a), a+phi*(b-a)
	fc, fd := f(c), f(d)
	for range 200 {
		if b-a <= 1e-15 {
			break
		}
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - phi*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + phi*(b-a)
			fd = f(d)
		}
	}
	return (a + b) / 2
}
