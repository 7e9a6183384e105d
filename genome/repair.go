package genome

import (
	"slices"
	"strconv"
)

// level describes one of the two sharing levels of a slot: featurizer
// sharing (genes 2 and 3) and feature-group sharing (genes 4 and 5).
type level struct {
	name                    string
	groupGene, strategyGene Gene
	maxStrategy             int
	group, strategy         func(Slot) int
	// key returns the compatibility key of a slot under a group strategy:
	// slots of one group share only with slots of equal key; "" means the
	// slot cannot take part.
	key  func(s Slot, strategy int) string
	rule string
}

var featLevel = level{
	name:         "featurizer",
	groupGene:    GeneFeatGroup,
	strategyGene: GeneFeatStrategy,
	maxStrategy:  FeatShare,
	group:        func(s Slot) int { return s.FeatGroup },
	strategy:     func(s Slot) int { return s.FeatStrategy },
	key: func(s Slot, _ int) string {
		if s.Class < 1 || s.Class > NumClasses {
			return ""
		}
		return strconv.Itoa(s.Class)
	},
	rule: "featurizers are shared only within a class",
}

var shareLevel = level{
	name:         "feature",
	groupGene:    GeneShareGroup,
	strategyGene: GeneShareStrategy,
	maxStrategy:  ShareBC,
	group:        func(s Slot) int { return s.ShareGroup },
	strategy:     func(s Slot) int { return s.ShareStrategy },
	key: func(s Slot, strategy int) string {
		if s.Class < 1 || s.Class > NumClasses {
			return ""
		}
		f := registry[s.Class].Features
		b, c := f[FeatureB], f[FeatureC]
		switch strategy {
		case ShareB:
			return b
		case ShareC:
			return c
		case ShareBC:
			if b == "" || c == "" {
				return ""
			}
			return b + "|" + c
		}
		return ""
	},
	rule: "features are shared only where both slots have the feature group with the same signature",
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// resolveLevel derives, for one sharing level, the slot each slot shares
// with (itself when it shares nothing) and its effective strategy. The rules
// are those documented on Repair.
func resolveLevel(g Genome, lv level) (src, strategy []int) {
	n := len(g)
	src, strategy = make([]int, n), make([]int, n)
	first := map[int]int{}
	for i, s := range g {
		if _, ok := first[lv.group(s)]; !ok {
			first[lv.group(s)] = i
		}
	}
	type part struct {
		id  int
		key string
	}
	owner := map[part]int{}
	size := map[part]int{}
	parts := make([]part, n)
	for i, s := range g {
		src[i], strategy[i] = i, 1
		id := lv.group(s)
		st := clamp(lv.strategy(g[first[id]]), 1, lv.maxStrategy)
		if st == 1 {
			continue
		}
		k := lv.key(s, st)
		if k == "" {
			continue
		}
		p := part{id, k}
		if o, ok := owner[p]; ok {
			src[i] = o
		} else {
			owner[p] = i
		}
		size[p]++
		parts[i] = p
		strategy[i] = st
	}
	for i := range g {
		if strategy[i] != 1 && size[parts[i]] < 2 {
			src[i], strategy[i] = i, 1
		}
	}
	return src, strategy
}

// structure is the sharing a genome stands for, slot by slot.
type structure struct {
	featOwner, featStrat []int
	shareSrc, shareStrat []int
}

func resolve(g Genome) structure {
	var st structure
	st.featOwner, st.featStrat = resolveLevel(g, featLevel)
	st.shareSrc, st.shareStrat = resolveLevel(g, shareLevel)
	return st
}

// renumber gives group ids in order of first appearance; a slot that shares
// nothing gets a fresh id of its own.
func renumber(src, strategy []int) []int {
	ids := make([]int, len(src))
	next := 0
	for i := range src {
		if strategy[i] == 1 || src[i] == i {
			next++
			ids[i] = next
		} else {
			ids[i] = ids[src[i]]
		}
	}
	return ids
}

// Repair returns the canonical genome of the space closest to g. It never
// fails and is idempotent: Repair(Repair(g, s), s) == Repair(g, s). The depth
// is left as it is (Validate reports a depth that differs from the space's).
//
// Rules, applied in order:
//  1. A class outside the space becomes the nearest allowed class id (the
//     lower id on a tie). Strategies outside their range are clamped (1..2,
//     1..4). Group ids are labels of any value: step 4 renumbers them.
//  2. A group is the set of slots with the same group gene. Its strategy is
//     the strategy gene of its first slot; every member takes it. A group
//     whose first slot has strategy 1 shares nothing.
//  3. A sharing group is split deterministically into the parts whose
//     members can share: featurizer groups by class; feature groups by the
//     signature of the feature group(s) the strategy names (Class.Features:
//     B for 2, C for 3, B and C for 4). A slot whose class lacks them shares
//     nothing. Each part shares with its first slot; a part of one slot
//     gets strategy 1.
//  4. Group ids are renumbered in order of first appearance; a slot with
//     strategy 1 gets a fresh id of its own. So equal architectures have
//     equal canonical text and Hash.
func Repair(g Genome, space Space) Genome {
	if len(g) == 0 {
		return nil
	}
	allowed := space.ClassIDs()
	out := g.Clone()
	for i := range out {
		if !slices.Contains(allowed, out[i].Class) {
			out[i].Class = nearestClass(allowed, out[i].Class)
		}
	}
	st := resolve(out)
	featIDs := renumber(st.featOwner, st.featStrat)
	shareIDs := renumber(st.shareSrc, st.shareStrat)
	for i := range out {
		out[i].FeatGroup, out[i].FeatStrategy = featIDs[i], st.featStrat[i]
		out[i].ShareGroup, out[i].ShareStrategy = shareIDs[i], st.shareStrat[i]
	}
	return out
}

// Wiring returns, for each slot, the slot that owns the featurizer weights
// it uses and the slots whose B and C tensors it uses, following the rules
// of Repair. For a genome with classes in 1..NumClasses it equals
// Repair(g, Space{}).Wiring().
func (g Genome) Wiring() []Wiring {
	st := resolve(g)
	w := make([]Wiring, len(g))
	for i := range g {
		w[i] = Wiring{FeatOwner: st.featOwner[i], BSource: i, CSource: i}
		switch st.shareStrat[i] {
		case ShareB:
			w[i].BSource = st.shareSrc[i]
		case ShareC:
			w[i].CSource = st.shareSrc[i]
		case ShareBC:
			w[i].BSource, w[i].CSource = st.shareSrc[i], st.shareSrc[i]
		}
	}
	return w
}
