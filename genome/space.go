package genome

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Space is the search space of a run: the depth of every genome and the LIV
// classes its slots may hold.
type Space struct {
	// Depth is the number of slots of every genome, at most MaxDepth; 0
	// accepts any depth in 1..MaxDepth.
	Depth int `json:"depth" yaml:"depth"`
	// Classes lists the allowed class ids; empty allows every class
	// 1..NumClasses.
	Classes []int `json:"classes,omitempty" yaml:"classes,omitempty"`
}

// Validate checks that the depth is in 0..MaxDepth and that every class id
// is known and listed once.
func (s Space) Validate() error {
	var errs []error
	switch {
	case s.Depth < 0:
		errs = append(errs, fmt.Errorf("depth must be >= 1 (or 0 for any), got %d", s.Depth))
	case s.Depth > MaxDepth:
		errs = append(errs, fmt.Errorf("depth must be <= %d (genome.MaxDepth), got %d", MaxDepth, s.Depth))
	}
	seen := map[int]bool{}
	for _, id := range s.Classes {
		switch {
		case id < 1 || id > NumClasses:
			errs = append(errs, fmt.Errorf("class %d is unknown (valid: 1..%d)", id, NumClasses))
		case seen[id]:
			errs = append(errs, fmt.Errorf("class %d is listed twice", id))
		}
		seen[id] = true
	}
	return errors.Join(errs...)
}

// ClassIDs returns the allowed class ids in increasing order. Unknown ids in
// Classes are skipped; when none is left, every class is allowed.
func (s Space) ClassIDs() []int {
	var ids []int
	for _, id := range s.Classes {
		if id >= 1 && id <= NumClasses && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		ids = make([]int, NumClasses)
		for i := range ids {
			ids[i] = i + 1
		}
	}
	slices.Sort(ids)
	return ids
}

// Allows reports whether class id may appear in a genome of the space.
func (s Space) Allows(id int) bool { return slices.Contains(s.ClassIDs(), id) }

// nearestClass returns the allowed id closest to id, the lower one on a tie.
func nearestClass(allowed []int, id int) int {
	best := allowed[0]
	for _, a := range allowed[1:] {
		if abs(a-id) < abs(best-id) {
			best = a
		}
	}
	return best
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// Validate reports whether g is a genome of the space whose sharing its
// classes allow: the depth matches, every gene is in range (CheckRanges),
// and every sharing group is consistent (see Repair for the rules). A valid
// genome need not be canonical: group ids may be numbered freely, and the
// group id of a slot that shares nothing is ignored. The error names the
// first wrong slot and gene (*GeneError) where there is one.
func Validate(g Genome, space Space) error {
	if err := space.Validate(); err != nil {
		return fmt.Errorf("invalid search space: %w", err)
	}
	if err := CheckRanges(g, space); err != nil {
		return err
	}
	st := resolve(g)
	if err := checkLevel(g, st.featOwner, st.featStrat, featLevel); err != nil {
		return err
	}
	return checkLevel(g, st.shareSrc, st.shareStrat, shareLevel)
}

// CheckRanges reports the first gene of g outside its range (as a
// *GeneError), or a depth that differs from the space's or exceeds
// MaxDepth: class in the
// space's classes, feat_group and share_group in 1..depth, feat_strategy in
// 1..2, share_strategy in 1..4. It does not check sharing.
func CheckRanges(g Genome, space Space) error {
	if len(g) == 0 {
		return errors.New("empty genome: want at least one slot")
	}
	if len(g) > MaxDepth {
		return fmt.Errorf("genome has %d slots, more than the limit of %d (genome.MaxDepth)", len(g), MaxDepth)
	}
	if space.Depth > 0 && len(g) != space.Depth {
		return fmt.Errorf("genome has %d slots, the search space has depth %d", len(g), space.Depth)
	}
	allowed := space.ClassIDs()
	n := len(g)
	for i, s := range g {
		switch {
		case s.Class < 1 || s.Class > NumClasses:
			return geneErr(i, GeneClass, "%d is not a LIV class (valid: 1..%d)", s.Class, NumClasses)
		case !slices.Contains(allowed, s.Class):
			return geneErr(i, GeneClass, "class %d (%s) is not in the search space (allowed: %s)",
				s.Class, registry[s.Class].Name, joinInts(allowed))
		case s.FeatGroup < 1 || s.FeatGroup > n:
			return geneErr(i, GeneFeatGroup, "%d is out of range 1..%d (the depth)", s.FeatGroup, n)
		case s.FeatStrategy < FeatNone || s.FeatStrategy > FeatShare:
			return geneErr(i, GeneFeatStrategy, "%d is out of range 1..2 (1 none, 2 share)", s.FeatStrategy)
		case s.ShareGroup < 1 || s.ShareGroup > n:
			return geneErr(i, GeneShareGroup, "%d is out of range 1..%d (the depth)", s.ShareGroup, n)
		case s.ShareStrategy < ShareNone || s.ShareStrategy > ShareBC:
			return geneErr(i, GeneShareStrategy, "%d is out of range 1..4 (1 none, 2 B, 3 C, 4 B and C)", s.ShareStrategy)
		}
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// checkLevel compares the strategies and groups written in g with those
// resolve derived for one sharing level and explains the first difference.
func checkLevel(g Genome, src, strategy []int, lv level) error {
	first := map[int]int{}
	for i, s := range g {
		if _, ok := first[lv.group(s)]; !ok {
			first[lv.group(s)] = i
		}
	}
	owner := map[int]int{} // group id -> owner of the first sharing partition under it
	for i, s := range g {
		id, given, want := lv.group(s), lv.strategy(s), strategy[i]
		f := first[id]
		if given != want {
			groupStrategy := clamp(lv.strategy(g[f]), 1, lv.maxStrategy)
			var reason string
			switch {
			case want != 1:
				reason = fmt.Sprintf("is %d, but %s group %d shares with strategy %d, set by its first slot %d; use %d",
					given, lv.name, id, want, f+1, want)
			case groupStrategy == 1:
				reason = fmt.Sprintf("is %d, but slot %d, the first slot of %s group %d, has strategy 1 (no sharing); "+
					"use 1, or a group whose first slot shares", given, f+1, lv.name, id)
			case lv.key(s, groupStrategy) == "":
				reason = fmt.Sprintf("is %d, but class %s has nothing to share under strategy %d; use 1",
					given, registry[s.Class].Name, groupStrategy)
			default:
				reason = fmt.Sprintf("is %d, but no other slot of %s group %d can share with it (%s); use 1",
					given, lv.name, id, lv.rule)
			}
			return geneErr(i, lv.strategyGene, "%s", reason)
		}
		if want == 1 {
			continue
		}
		if o, ok := owner[id]; ok && o != src[i] {
			return geneErr(i, lv.groupGene, "%s group %d holds slot %d (%s) and slot %d (%s), which cannot share (%s); "+
				"give them different groups", lv.name, id, o+1, registry[g[o].Class].Name, i+1, registry[s.Class].Name, lv.rule)
		}
		owner[id] = src[i]
	}
	return nil
}
