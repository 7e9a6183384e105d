package evolve

import (
	"math"
	"slices"
)

// Dominates reports whether a Pareto-dominates b: a is no worse in every
// objective and better in at least one (all objectives minimised).
func Dominates(a, b []float64) bool {
	better := false
	for k := range a {
		switch {
		case a[k] > b[k]:
			return false
		case a[k] < b[k]:
			better = true
		}
	}
	return better
}

// relation returns 1 when a dominates b, -1 when b dominates a, 0 otherwise.
func relation(a, b []float64) int {
	aBetter, bBetter := false, false
	for k := range a {
		switch {
		case a[k] < b[k]:
			aBetter = true
		case a[k] > b[k]:
			bBetter = true
		}
		if aBetter && bBetter {
			return 0
		}
	}
	switch {
	case aBetter:
		return 1
	case bBetter:
		return -1
	}
	return 0
}

// NonDominatedSort splits the points F into Pareto fronts, best first: front
// 0 holds the points no other point dominates, front k the points only
// points of fronts < k dominate. Indices within a front are ascending.
// Where failed is not nil, the points with failed[i] set form one last front
// of their own, after every other; their objectives are not read.
func NonDominatedSort(F [][]float64, failed []bool) [][]int {
	n := len(F)
	ok := make([]int, 0, n)
	var bad []int
	for i := range n {
		if failed != nil && failed[i] {
			bad = append(bad, i)
		} else {
			ok = append(ok, i)
		}
	}
	fronts := sortFeasible(F, ok)
	if len(bad) > 0 {
		fronts = append(fronts, bad)
	}
	return fronts
}

// NonDominatedSortFidelity is NonDominatedSort under Outranks: the points
// that did not fail are grouped by fidelity, highest first, each group
// sorted into fronts of its own, and the groups' fronts concatenated, so
// every point of a higher fidelity ranks before every point of a lower
// one; failed points form the last front. A nil fidelity (or one value
// throughout) is NonDominatedSort.
func NonDominatedSortFidelity(F [][]float64, failed []bool, fidelity []int) [][]int {
	if fidelity == nil {
		return NonDominatedSort(F, failed)
	}
	levels := map[int][]int{}
	var keys []int
	var bad []int
	for i := range F {
		if failed != nil && failed[i] {
			bad = append(bad, i)
			continue
		}
		if _, ok := levels[fidelity[i]]; !ok {
			keys = append(keys, fidelity[i])
		}
		levels[fidelity[i]] = append(levels[fidelity[i]], i)
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	var fronts [][]int
	for _, k := range keys {
		fronts = append(fronts, sortFeasible(F, levels[k])...)
	}
	if len(bad) > 0 {
		fronts = append(fronts, bad)
	}
	return fronts
}

// sortFeasible sorts the points F[idx] into fronts.
func sortFeasible(F [][]float64, idx []int) [][]int {
	m := len(idx)
	if m == 0 {
		return nil
	}
	if len(F[idx[0]]) == 2 {
		return sort2(F, idx)
	}
	return sortDeb(F, idx)
}

// sort2 sorts two-objective points in O(n log n): in lexicographic order,
// each point joins the first front whose last member does not dominate it,
// found by binary search (a point dominated by front k is dominated by
// every earlier front).
func sort2(F [][]float64, idx []int) [][]int {
	order := slices.Clone(idx)
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmpFloat(F[a][0], F[b][0]); c != 0 {
			return c
		}
		return cmpFloat(F[a][1], F[b][1])
	})
	var fronts [][]int
	for _, p := range order {
		k, _ := slices.BinarySearchFunc(fronts, p, func(front []int, p int) int {
			if Dominates(F[front[len(front)-1]], F[p]) {
				return -1
			}
			return 1
		})
		if k == len(fronts) {
			fronts = append(fronts, nil)
		}
		fronts[k] = append(fronts[k], p)
	}
	for _, front := range fronts {
		slices.Sort(front)
	}
	return fronts
}

// sortDeb is the fast non-dominated sort of Deb et al.: O(m n^2).
func sortDeb(F [][]float64, idx []int) [][]int {
	m := len(idx)
	count := make([]int, m)       // how many points dominate point a
	dominated := make([][]int, m) // the points point a dominates
	for a := range m {
		for b := a + 1; b < m; b++ {
			switch relation(F[idx[a]], F[idx[b]]) {
			case 1:
				dominated[a] = append(dominated[a], b)
				count[b]++
			case -1:
				dominated[b] = append(dominated[b], a)
				count[a]++
			}
		}
	}
	var fronts [][]int
	var current []int
	for a := range m {
		if count[a] == 0 {
			current = append(current, a)
		}
	}
	for len(current) > 0 {
		front := make([]int, len(current))
		for j, a := range current {
			front[j] = idx[a]
		}
		fronts = append(fronts, front)
		var next []int
		for _, a := range current {
			for _, b := range dominated[a] {
				count[b]--
				if count[b] == 0 {
					next = append(next, b)
				}
			}
		}
		slices.Sort(next)
		current = next
	}
	return fronts
}

// CrowdingDistance returns the crowding distance of every point of one
// front, with pymoo's semantics: per objective the points are sorted
// (stably), the first and last get +Inf, every other point the gap between
// its neighbours divided by the objective's range; the sum over objectives
// is divided by the number of objectives. An objective whose values are all
// equal contributes 0 to every point (its boundary points included). A
// front of at most two points is +Inf throughout.
func CrowdingDistance(F [][]float64) []float64 {
	n := len(F)
	cd := make([]float64, n)
	if n <= 2 {
		for i := range cd {
			cd[i] = math.Inf(1)
		}
		return cd
	}
	m := len(F[0])
	order := make([]int, n)
	for k := range m {
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case F[a][k] < F[b][k]:
				return -1
			case F[a][k] > F[b][k]:
				return 1
			}
			return 0
		})
		lo, hi := F[order[0]][k], F[order[n-1]][k]
		norm := hi - lo
		if norm == 0 {
			continue
		}
		for j, i := range order {
			var last, next float64
			if j == 0 {
				last = math.Inf(1)
			} else {
				last = (F[i][k] - F[order[j-1]][k]) / norm
			}
			if j == n-1 {
				next = math.Inf(1)
			} else {
				next = (F[order[j+1]][k] - F[i][k]) / norm
			}
			cd[i] += last + next
		}
	}
	for i := range cd {
		cd[i] /= float64(m)
	}
	return cd
}

// RankAndCrowding returns every point's front number (0 best) and its
// crowding distance within its front. Failed points (failed may be nil) get
// the rank after every other front and crowding 0.
func RankAndCrowding(F [][]float64, failed []bool) (rank []int, crowding []float64) {
	return RankAndCrowdingFidelity(F, failed, nil)
}

// RankAndCrowdingFidelity is RankAndCrowding under Outranks
// (NonDominatedSortFidelity): fronts never mix fidelities, so crowding is
// measured among points of one fidelity. A nil fidelity is RankAndCrowding.
func RankAndCrowdingFidelity(F [][]float64, failed []bool, fidelity []int) (rank []int, crowding []float64) {
	rank = make([]int, len(F))
	crowding = make([]float64, len(F))
	for r, front := range NonDominatedSortFidelity(F, failed, fidelity) {
		if failed != nil && failed[front[0]] {
			for _, i := range front {
				rank[i] = r
			}
			continue
		}
		fF := make([][]float64, len(front))
		for j, i := range front {
			fF[j] = F[i]
		}
		cd := CrowdingDistance(fF)
		for j, i := range front {
			rank[i] = r
			crowding[i] = cd[j]
		}
	}
	return rank, crowding
}

// NonDominated returns the points of F that no other point of F dominates,
// in their original order. Equal points are all kept.
func NonDominated(F [][]float64) [][]float64 {
	var out [][]float64
	for i, a := range F {
		keep := true
		for j, b := range F {
			if i != j && Dominates(b, a) {
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
