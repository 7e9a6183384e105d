package evolve

import (
	"errors"
	"fmt"
	"math"
)

// IGD is the inverted generational distance of the points to a reference
// front: the mean, over the reference points, of the Euclidean distance to
// the nearest of the points. An empty set of points is +Inf away.
func IGD(points, reference [][]float64) (float64, error) {
	if len(reference) == 0 {
		return 0, errors.New("igd: empty reference front")
	}
	d := len(reference[0])
	for i, r := range reference {
		if len(r) != d {
			return 0, fmt.Errorf("igd: reference point %d has %d objectives, want %d", i, len(r), d)
		}
	}
	for i, p := range points {
		if len(p) != d {
			return 0, fmt.Errorf("igd: point %d has %d objectives, reference has %d", i, len(p), d)
		}
	}
	if len(points) == 0 {
		return math.Inf(1), nil
	}
	sum := 0.0
	for _, r := range reference {
		best := math.Inf(1)
		for _, p := range points {
			s := 0.0
			for k := range d {
				diff := p[k] - r[k]
				s += diff * diff
			}
			best = min(best, s)
		}
		sum += math.Sqrt(best)
	}
	return sum / float64(len(reference)), nil
}

// MinMax returns the per-objective minimum (ideal) and maximum (nadir of
// the set) of the points; both are nil for an empty set.
func MinMax(points [][]float64) (ideal, nadir []float64) {
	if len(points) == 0 {
		return nil, nil
	}
	ideal = append([]float64(nil), points[0]...)
	nadir = append([]float64(nil), points[0]...)
	for _, p := range points[1:] {
		for k, v := range p {
			ideal[k] = min(ideal[k], v)
			nadir[k] = max(nadir[k], v)
		}
	}
	return ideal, nadir
}

// Normalize maps every objective affinely so that ideal goes to 0 and nadir
// to 1: (f - ideal) / (nadir - ideal). An objective with nadir == ideal maps
// to f - ideal. The result shares no memory with points.
func Normalize(points [][]float64, ideal, nadir []float64) ([][]float64, error) {
	if len(ideal) != len(nadir) {
		return nil, fmt.Errorf("normalize: ideal has %d objectives, nadir %d", len(ideal), len(nadir))
	}
	out := make([][]float64, len(points))
	for i, p := range points {
		if len(p) != len(ideal) {
			return nil, fmt.Errorf("normalize: point %d has %d objectives, ideal has %d", i, len(p), len(ideal))
		}
		q := make([]float64, len(p))
		for k, v := range p {
			q[k] = v - ideal[k]
			if span := nadir[k] - ideal[k]; span != 0 {
				q[k] /= span
			}
		}
		out[i] = q
	}
	return out, nil
}

// NormalizeMinMax normalises the points by their own minimum and maximum,
// so every objective spans [0, 1] (or is 0 where all values are equal).
func NormalizeMinMax(points [][]float64) [][]float64 {
	ideal, nadir := MinMax(points)
	out, _ := Normalize(points, ideal, nadir) // dimensions agree by construction
	return out
}
