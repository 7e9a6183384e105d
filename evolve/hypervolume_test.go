package evolve

import (
	"math"
	"math/rand/v2"
	"testing"
)

// inclusionExclusion is the hypervolume by inclusion and exclusion over
// every non-empty subset of the points: exponential, exact, independent of
// the sweeps.
func inclusionExclusion(points [][]float64, ref []float64) float64 {
	n := len(points)
	total := 0.0
	for mask := 1; mask < 1<<n; mask++ {
		corner := make([]float64, len(ref))
		copy(corner, points[0]) // overwritten below
		first := true
		bits := 0
		for i := range n {
			if mask&(1<<i) == 0 {
				continue
			}
			bits++
			for k := range ref {
				if first || points[i][k] > corner[k] {
					corner[k] = points[i][k]
				}
			}
			first = false
		}
		vol := 1.0
		for k := range ref {
			vol *= max(ref[k]-corner[k], 0)
		}
		if bits%2 == 1 {
			total += vol
		} else {
			total -= vol
		}
	}
	return total
}

func mustHV(t *testing.T, points [][]float64, ref []float64) float64 {
	t.Helper()
	v, err := Hypervolume(points, ref)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHypervolumeKnown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		points [][]float64
		ref    []float64
		want   float64
	}{
		{"3-D pair", [][]float64{{1, 0, 1}, {0, 1, 0}}, []float64{2, 2, 2}, 5},
		{"2-D pair", [][]float64{{1, 2}, {2, 1}}, []float64{3, 3}, 3},
		{"outside ref", [][]float64{{1, 2}, {3, 0}, {0, 3.5}}, []float64{3, 3}, 2},
		{"empty", nil, []float64{1, 1}, 0},
		{"1-D", [][]float64{{0.25}, {0.5}}, []float64{1}, 0.75},
		{"4-D unit", [][]float64{{0, 0, 0, 0}}, []float64{1, 2, 3, 4}, 24},
		{"duplicates", [][]float64{{1, 1, 1}, {1, 1, 1}}, []float64{2, 2, 2}, 1},
	}
	for _, tt := range tests {
		if got := mustHV(t, tt.points, tt.ref); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: Hypervolume = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHypervolumeErrors(t *testing.T) {
	t.Parallel()
	if _, err := Hypervolume([][]float64{{1, 2, 3}}, []float64{4, 4}); err == nil {
		t.Error("mismatched dimensions: no error")
	}
	if _, err := Hypervolume([][]float64{{1, math.NaN()}}, []float64{4, 4}); err == nil {
		t.Error("NaN point: no error")
	}
	if _, err := Hypervolume(nil, nil); err == nil {
		t.Error("empty reference: no error")
	}
}

func randomPoints(r *rand.Rand, n, d int, grid bool) [][]float64 {
	ps := make([][]float64, n)
	for i := range ps {
		ps[i] = make([]float64, d)
		for k := range ps[i] {
			if grid {
				ps[i][k] = float64(r.IntN(5)) / 4 // ties and equal points
			} else {
				ps[i][k] = r.Float64()
			}
		}
	}
	return ps
}

func TestHypervolumeAgainstInclusionExclusion(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	for d := 2; d <= 6; d++ {
		ref := make([]float64, d)
		for k := range ref {
			ref[k] = 1.1
		}
		for trial := range 40 {
			n := 1 + r.IntN(10)
			ps := randomPoints(r, n, d, trial%2 == 0)
			want := inclusionExclusion(ps, ref)
			if got := mustHV(t, ps, ref); math.Abs(got-want) > 1e-12 {
				t.Fatalf("d=%d trial %d: Hypervolume = %.17g, inclusion-exclusion = %.17g\npoints %v", d, trial, got, want, ps)
			}
			if d >= 3 {
				if got := wfg(inside(ps, ref), ref); math.Abs(got-want) > 1e-12 {
					t.Fatalf("d=%d trial %d: wfg = %.17g, inclusion-exclusion = %.17g", d, trial, got, want)
				}
			}
		}
	}
}

func inside(ps [][]float64, ref []float64) [][]float64 {
	var out [][]float64
	for _, p := range ps {
		ok := true
		for k := range p {
			ok = ok && p[k] < ref[k]
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func TestHypervolume3DAgainstWFG(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 5))
	ref := []float64{1, 1, 1}
	for trial := range 10 {
		// Points near the simplex: many are mutually non-dominated.
		ps := make([][]float64, 60)
		for i := range ps {
			a, b := r.Float64(), r.Float64()
			ps[i] = []float64{a * 0.9, b * 0.9, max(0, 0.9-a*0.45-b*0.45)}
		}
		want := wfg(ps, ref)
		if got := mustHV(t, ps, ref); math.Abs(got-want) > 1e-12 {
			t.Fatalf("trial %d: 3-D sweep %.17g, WFG %.17g", trial, got, want)
		}
	}
}

func TestHypervolume2DAgainst3D(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 9))
	for trial := range 20 {
		ps := randomPoints(r, 1+r.IntN(50), 2, trial%2 == 0)
		ref2 := []float64{1.1, 1.1}
		ref3 := []float64{1.1, 1.1, 2}
		ps3 := make([][]float64, len(ps))
		for i, p := range ps {
			ps3[i] = []float64{p[0], p[1], 0.5}
		}
		hv2, hv3 := mustHV(t, ps, ref2), mustHV(t, ps3, ref3)
		if math.Abs(hv2*1.5-hv3) > 1e-12 {
			t.Fatalf("trial %d: 2-D %v * 1.5 != 3-D %v", trial, hv2, hv3)
		}
	}
}
