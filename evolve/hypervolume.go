package evolve

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Hypervolume returns the exact volume of the region that the points
// dominate and the reference point ref bounds (all objectives minimised).
// A point that is not better than ref in every objective adds nothing; an
// empty set has volume 0. Two and three objectives use sweeps (O(n log n)
// and O(n^2)); more objectives use WFG, slicing the last objective down to
// the three-objective sweep.
func Hypervolume(points [][]float64, ref []float64) (float64, error) {
	d := len(ref)
	if d == 0 {
		return 0, errors.New("hypervolume: empty reference point")
	}
	for _, v := range ref {
		if math.IsNaN(v) {
			return 0, errors.New("hypervolume: reference point has NaN")
		}
	}
	inside := make([][]float64, 0, len(points))
	for i, p := range points {
		if len(p) != d {
			return 0, fmt.Errorf("hypervolume: point %d has %d objectives, reference has %d", i, len(p), d)
		}
		in := true
		for k, v := range p {
			if math.IsNaN(v) {
				return 0, fmt.Errorf("hypervolume: point %d has NaN", i)
			}
			if v >= ref[k] {
				in = false
			}
		}
		if in {
			inside = append(inside, p)
		}
	}
	return hv(inside, ref), nil
}

// hv is the hypervolume of points that are all strictly inside ref.
func hv(points [][]float64, ref []float64) float64 {
	switch {
	case len(points) == 0:
		return 0
	case len(ref) == 1:
		best := ref[0]
		for _, p := range points {
			best = min(best, p[0])
		}
		return ref[0] - best
	case len(ref) == 2:
		return hv2(points, ref)
	case len(ref) == 3:
		return hv3(points, ref)
	}
	return wfg(points, ref)
}

// hv2 sweeps the points by the first objective.
func hv2(points [][]float64, ref []float64) float64 {
	ps := make([][2]float64, len(points))
	for i, p := range points {
		ps[i] = [2]float64{p[0], p[1]}
	}
	slices.SortFunc(ps, func(a, b [2]float64) int {
		if c := cmpFloat(a[0], b[0]); c != 0 {
			return c
		}
		return cmpFloat(a[1], b[1])
	})
	front := ps[:0] // the staircase: x ascending, y strictly descending
	for _, p := range ps {
		if len(front) == 0 || p[1] < front[len(front)-1][1] {
			front = append(front, p)
		}
	}
	return area2(front, ref)
}

// hv3 sweeps the points by the third objective, keeping the two-objective
// front of the points below the sweep plane sorted by the first objective.
func hv3(points [][]float64, ref []float64) float64 {
	ps := slices.Clone(points)
	slices.SortFunc(ps, func(a, b []float64) int { return cmpFloat(a[2], b[2]) })
	var front [][2]float64 // non-dominated in 2-D, x ascending, y descending
	vol := 0.0
	for i, p := range ps {
		front = insert2(front, [2]float64{p[0], p[1]})
		top := ref[2]
		if i+1 < len(ps) {
			top = ps[i+1][2]
		}
		if top > p[2] {
			vol += area2(front, ref) * (top - p[2])
		}
	}
	return vol
}

// insert2 adds q to a 2-D front (x ascending, y descending) unless a member
// weakly dominates it, dropping the members q dominates.
func insert2(front [][2]float64, q [2]float64) [][2]float64 {
	// first member with x >= q.x
	j, _ := slices.BinarySearchFunc(front, q[0], func(e [2]float64, x float64) int { return cmpFloat(e[0], x) })
	if j > 0 && front[j-1][1] <= q[1] {
		return front // a member to the left is at least as low
	}
	if j < len(front) && front[j][0] == q[0] && front[j][1] <= q[1] {
		return front
	}
	k := j
	for k < len(front) && front[k][1] >= q[1] {
		k++ // front[k] has x >= q.x and y >= q.y: dominated by q
	}
	return slices.Insert(slices.Delete(front, j, k), j, q)
}

// area2 is the area a 2-D front dominates inside ref.
func area2(front [][2]float64, ref []float64) float64 {
	a := 0.0
	for i, p := range front {
		next := ref[0]
		if i+1 < len(front) {
			next = front[i+1][0]
		}
		a += (next - p[0]) * (ref[1] - p[1])
	}
	return a
}

// wfg is the WFG algorithm of While, Bradstreet and Barone: the volume is
// the sum over the points of each point's exclusive contribution relative
// to the points after it. With the points sorted worst first by the last
// objective, the limit set of a point lies in the hyperplane of its last
// objective, so its volume is a (d-1)-dimensional volume times a height.
func wfg(points [][]float64, ref []float64) float64 {
	d := len(ref)
	ps := slices.Clone(points)
	slices.SortFunc(ps, func(a, b []float64) int { return cmpFloat(b[d-1], a[d-1]) })
	vol := 0.0
	limit := make([][]float64, 0, len(ps))
	for k, p := range ps {
		incl := 1.0
		for j := range d {
			incl *= ref[j] - p[j]
		}
		limit = limit[:0]
		for _, q := range ps[k+1:] {
			l := make([]float64, d-1)
			for j := range d - 1 {
				l[j] = max(p[j], q[j])
			}
			limit = append(limit, l)
		}
		vol += incl - (ref[d-1]-p[d-1])*hv(nonDominatedStrict(limit), ref[:d-1])
	}
	return vol
}

// nonDominatedStrict keeps one copy of each point that no other point
// weakly dominates.
func nonDominatedStrict(F [][]float64) [][]float64 {
	var out [][]float64
	for i, a := range F {
		keep := true
		for j, b := range F {
			if i == j {
				continue
			}
			if Dominates(b, a) || (j < i && slices.Equal(a, b)) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, a)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
