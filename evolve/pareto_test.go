package evolve

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestDominates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b []float64
		want bool
	}{
		{[]float64{1, 1}, []float64{2, 2}, true},
		{[]float64{1, 2}, []float64{2, 2}, true},
		{[]float64{2, 2}, []float64{2, 2}, false},
		{[]float64{1, 3}, []float64{2, 2}, false},
		{[]float64{3, 3}, []float64{2, 2}, false},
	}
	for _, tt := range tests {
		if got := Dominates(tt.a, tt.b); got != tt.want {
			t.Errorf("Dominates(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCrowdingDistance(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	tests := []struct {
		name string
		F    [][]float64
		want []float64
	}{
		{"pymoo example", [][]float64{{0, 0}, {0.5, 50}, {1, 100}}, []float64{inf, 1, inf}},
		{"one point", [][]float64{{3, 4}}, []float64{inf}},
		{"two points", [][]float64{{3, 4}, {3, 4}}, []float64{inf, inf}},
		{"empty", nil, []float64{}},
		// The second objective has zero range and adds nothing, not even to
		// its boundary points.
		{"zero range", [][]float64{{0, 1}, {1, 1}, {2, 1}}, []float64{inf, 0.5, inf}},
		{"all equal", [][]float64{{1, 1}, {1, 1}, {1, 1}}, []float64{0, 0, 0}},
		// Duplicates are not filtered: stable sorting makes the first of
		// equal values the boundary.
		{"duplicates", [][]float64{{0, 1}, {0, 1}, {1, 0}}, []float64{inf, inf, inf}},
		{"interior", [][]float64{{0, 4}, {1, 3}, {3, 1}, {4, 0}}, []float64{inf, 0.75, 0.75, inf}},
	}
	for _, tt := range tests {
		got := CrowdingDistance(tt.F)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: CrowdingDistance(%v) = %v, want %v", tt.name, tt.F, got, tt.want)
		}
	}
}

func TestNonDominatedSort(t *testing.T) {
	t.Parallel()
	F := [][]float64{{1, 5}, {2, 2}, {5, 1}, {3, 3}, {2, 2}, {6, 6}, {0, 0}}
	failed := []bool{false, false, false, false, false, false, true}
	got := NonDominatedSort(F, failed)
	want := [][]int{{0, 1, 2, 4}, {3}, {5}, {6}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("NonDominatedSort = %v, want %v", got, want)
	}
	// Without the failure flag the last point dominates every other.
	got = NonDominatedSort(F, nil)
	want = [][]int{{6}, {0, 1, 2, 4}, {3}, {5}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("NonDominatedSort without failures = %v, want %v", got, want)
	}
}

func TestNonDominatedSortProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		n, m := 1+r.IntN(60), 2+r.IntN(3)
		F := make([][]float64, n)
		for i := range F {
			F[i] = make([]float64, m)
			for k := range F[i] {
				F[i][k] = float64(r.IntN(6)) // ties are common
			}
		}
		fronts := NonDominatedSort(F, nil)
		rank := make([]int, n)
		seen := 0
		for k, front := range fronts {
			seen += len(front)
			for _, i := range front {
				rank[i] = k
			}
		}
		if seen != n {
			t.Fatalf("trial %d: fronts hold %d points, want %d", trial, seen, n)
		}
		for i := range n {
			dominatedByPrevious := rank[i] == 0
			for j := range n {
				if Dominates(F[j], F[i]) && rank[j] >= rank[i] {
					t.Fatalf("trial %d: %v (front %d) dominates %v (front %d)", trial, F[j], rank[j], F[i], rank[i])
				}
				if rank[j] == rank[i]-1 && Dominates(F[j], F[i]) {
					dominatedByPrevious = true
				}
			}
			if !dominatedByPrevious {
				t.Fatalf("trial %d: %v in front %d is dominated by nothing in front %d", trial, F[i], rank[i], rank[i]-1)
			}
		}
	}
}

func TestNonDominatedSort2DMatchesGeneral(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(4, 4))
	for trial := range 200 {
		n := 1 + r.IntN(80)
		F := make([][]float64, n)
		idx := make([]int, n)
		for i := range F {
			F[i] = []float64{float64(r.IntN(8)), float64(r.IntN(8))}
			if trial%2 == 1 {
				F[i] = []float64{r.Float64(), r.Float64()}
			}
			idx[i] = i
		}
		got, want := sort2(F, idx), sortDeb(F, idx)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("trial %d: 2-D sort %v, general sort %v for %v", trial, got, want, F)
		}
	}
}

func TestRankAndCrowdingFailedLast(t *testing.T) {
	t.Parallel()
	F := [][]float64{{9, 9}, {1, 2}, {2, 1}, {0, 0}, {5, 5}}
	failed := []bool{false, false, false, true, false}
	rank, cd := RankAndCrowding(F, failed)
	if want := []int{2, 0, 0, 3, 1}; !slices.Equal(rank, want) {
		t.Fatalf("rank = %v, want %v", rank, want)
	}
	if cd[3] != 0 {
		t.Fatalf("crowding of the failed point = %v, want 0", cd[3])
	}
	if !math.IsInf(cd[1], 1) || !math.IsInf(cd[0], 1) {
		t.Fatalf("crowding = %v, want +Inf for fronts of one or two points", cd)
	}
}

func TestNonDominated(t *testing.T) {
	t.Parallel()
	F := [][]float64{{1, 5}, {2, 2}, {3, 3}, {2, 2}, {5, 1}}
	got := NonDominated(F)
	want := [][]float64{{1, 5}, {2, 2}, {2, 2}, {5, 1}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("NonDominated = %v, want %v", got, want)
	}
}
