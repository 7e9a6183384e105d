package genome

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DefaultMutationRate is the per-gene mutation probability of the paper.
const DefaultMutationRate = 0.1

// DefaultCrossoverPoints is the k of the paper's k-point crossover.
const DefaultCrossoverPoints = 2

// randomShareRate is the probability that Random ties a slot to an earlier
// compatible slot, at each sharing level.
const randomShareRate = 0.25

// Random draws a canonical genome of the space: each class uniformly from
// the allowed classes; then, at each sharing level, each slot joins an
// earlier compatible slot's group with probability 1/4 (featurizers: an
// earlier slot of its class; features: an earlier slot and a strategy under
// which they can share), so that sharing is explored from the first
// generation. It panics when the space is invalid or its depth is 0; check
// Space.Validate first.
func Random(r *rand.Rand, space Space) Genome {
	if err := space.Validate(); err != nil || space.Depth < 1 {
		panic(fmt.Sprintf("genome.Random: need a valid space with depth >= 1, got %+v", space))
	}
	ids := space.ClassIDs()
	n := space.Depth
	g := make(Genome, n)
	for i := range g {
		g[i] = Slot{Class: ids[r.IntN(len(ids))], FeatGroup: i + 1, FeatStrategy: FeatNone,
			ShareGroup: i + 1, ShareStrategy: ShareNone}
	}
	// A slot whose group id is its own index+1 owns its group; owners are
	// the only slots others may join, so each group has one first slot.
	var cands []int
	for i := 1; i < n; i++ {
		if r.Float64() >= randomShareRate {
			continue
		}
		cands = cands[:0]
		for j := range i {
			if g[j].FeatGroup == j+1 && g[j].Class == g[i].Class {
				cands = append(cands, j)
			}
		}
		if len(cands) == 0 {
			continue
		}
		j := cands[r.IntN(len(cands))]
		g[i].FeatGroup, g[i].FeatStrategy, g[j].FeatStrategy = j+1, FeatShare, FeatShare
	}
	type choice struct{ slot, strategy int }
	var options []choice
	for i := 1; i < n; i++ {
		if r.Float64() >= randomShareRate {
			continue
		}
		options = options[:0]
		for j := range i {
			if g[j].ShareGroup != j+1 {
				continue
			}
			for st := ShareB; st <= ShareBC; st++ {
				if g[j].ShareStrategy != ShareNone && g[j].ShareStrategy != st {
					continue
				}
				if k := shareLevel.key(g[j], st); k != "" && k == shareLevel.key(g[i], st) {
					options = append(options, choice{j, st})
				}
			}
		}
		if len(options) == 0 {
			continue
		}
		o := options[r.IntN(len(options))]
		g[i].ShareGroup, g[i].ShareStrategy, g[o.slot].ShareStrategy = o.slot+1, o.strategy, o.strategy
	}
	return Repair(g, space)
}

// Mutate returns a mutant of g: each gene is redrawn, with probability p
// (clamped to [0, 1]), uniformly from its range: class from the space's
// classes, groups from 1..len(g), feat_strategy from 1..2, share_strategy
// from 1..4. The result is repaired in the space.
func Mutate(r *rand.Rand, g Genome, space Space, p float64) Genome {
	if math.IsNaN(p) {
		p = 0
	}
	p = max(0, min(p, 1))
	ids := space.ClassIDs()
	n := len(g)
	out := g.Clone()
	hit := func() bool { return r.Float64() < p }
	for i := range out {
		s := &out[i]
		if hit() {
			s.Class = ids[r.IntN(len(ids))]
		}
		if hit() {
			s.FeatGroup = 1 + r.IntN(n)
		}
		if hit() {
			s.FeatStrategy = 1 + r.IntN(FeatShare)
		}
		if hit() {
			s.ShareGroup = 1 + r.IntN(n)
		}
		if hit() {
			s.ShareStrategy = 1 + r.IntN(ShareBC)
		}
	}
	return Repair(out, space)
}

// Crossover recombines two parents of equal depth by k-point crossover over
// slots: k distinct cut points are drawn among the len(a)-1 slot boundaries
// (k <= 0 means DefaultCrossoverPoints; k is capped at len(a)-1), and the
// children take alternate segments from a and b. Both children are repaired
// (Repair with every class allowed, so classes stay those of the parents).
// It panics when the depths differ; callers with untrusted genomes check
// them first.
func Crossover(r *rand.Rand, a, b Genome, k int) (Genome, Genome) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("genome.Crossover: parents have depths %d and %d", len(a), len(b)))
	}
	n := len(a)
	if k <= 0 {
		k = DefaultCrossoverPoints
	}
	k = max(0, min(k, n-1))
	cuts := r.Perm(max(n-1, 0))[:k]
	for i := range cuts {
		cuts[i]++
	}
	slices.Sort(cuts)
	c1, c2 := a.Clone(), b.Clone()
	swap := false
	for i, next := 0, 0; i < n; i++ {
		for next < len(cuts) && cuts[next] == i {
			swap = !swap
			next++
		}
		if swap {
			c1[i], c2[i] = b[i], a[i]
		}
	}
	return Repair(c1, Space{}), Repair(c2, Space{})
}
