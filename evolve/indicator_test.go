package evolve

import (
	"math"
	"slices"
	"testing"
)

func TestIGD(t *testing.T) {
	t.Parallel()
	ref := [][]float64{{10, 0}, {6, 1}, {2, 2}, {1, 6}, {0, 10}}
	tests := []struct {
		points [][]float64
		want   float64
	}{
		{[][]float64{{4, 2}, {3, 3}, {2, 4}}, 3.707092031609239},
		{[][]float64{{8, 2}, {4, 4}, {2, 8}}, 2.591483465847630},
		{ref, 0},
	}
	for _, tt := range tests {
		got, err := IGD(tt.points, ref)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("IGD(%v) = %.15f, want %.15f", tt.points, got, tt.want)
		}
	}
	if got, err := IGD(nil, ref); err != nil || !math.IsInf(got, 1) {
		t.Errorf("IGD of no points = %v, %v; want +Inf", got, err)
	}
	if _, err := IGD([][]float64{{1, 2, 3}}, ref); err == nil {
		t.Error("mismatched dimensions: no error")
	}
	if _, err := IGD([][]float64{{1, 2}}, nil); err == nil {
		t.Error("empty reference: no error")
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	ps := [][]float64{{1, 10, 3}, {3, 30, 3}, {2, 20, 3}}
	ideal, nadir := MinMax(ps)
	if !slices.Equal(ideal, []float64{1, 10, 3}) || !slices.Equal(nadir, []float64{3, 30, 3}) {
		t.Fatalf("MinMax = %v, %v", ideal, nadir)
	}
	got := NormalizeMinMax(ps)
	want := [][]float64{{0, 0, 0}, {1, 1, 0}, {0.5, 0.5, 0}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("NormalizeMinMax = %v, want %v", got, want)
	}
	got, err := Normalize(ps, []float64{0, 0, 0}, []float64{4, 40, 6})
	if err != nil {
		t.Fatal(err)
	}
	want = [][]float64{{0.25, 0.25, 0.5}, {0.75, 0.75, 0.5}, {0.5, 0.5, 0.5}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Normalize = %v, want %v", got, want)
	}
	if ps[0][0] != 1 {
		t.Fatal("Normalize modified its input")
	}
	if _, err := Normalize(ps, []float64{0}, []float64{1}); err == nil {
		t.Fatal("mismatched dimensions: no error")
	}
}
