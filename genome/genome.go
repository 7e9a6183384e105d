package genome

// Featurizer-sharing strategies (gene 3 of a slot).
const (
	FeatNone  = 1 // the slot owns its featurizer weights
	FeatShare = 2 // the slot ties its featurizer weights to its group's first member
)

// Feature-group-sharing strategies (gene 5 of a slot).
const (
	ShareNone = 1 // the slot computes its own features
	ShareB    = 2 // the slot reuses B computed by its group's first member
	ShareC    = 3 // the slot reuses C computed by its group's first member
	ShareBC   = 4 // the slot reuses both B and C
)

// Slot is one LIV slot of the backbone genome: 5 integer genes.
type Slot struct {
	Class         int `json:"class"`          // LIV class id, 1..NumClasses
	FeatGroup     int `json:"feat_group"`     // featurizer-sharing group
	FeatStrategy  int `json:"feat_strategy"`  // FeatNone or FeatShare
	ShareGroup    int `json:"share_group"`    // feature-group-sharing group
	ShareStrategy int `json:"share_strategy"` // ShareNone, ShareB, ShareC or ShareBC
}

// Genes returns the slot's five genes in genome order.
func (s Slot) Genes() [5]int {
	return [5]int{s.Class, s.FeatGroup, s.FeatStrategy, s.ShareGroup, s.ShareStrategy}
}

// SlotFromGenes builds a slot from its five genes in genome order.
func SlotFromGenes(g [5]int) Slot {
	return Slot{Class: g[0], FeatGroup: g[1], FeatStrategy: g[2], ShareGroup: g[3], ShareStrategy: g[4]}
}

// Genome is a backbone genome: one Slot per LIV, input to output. Each LIV
// sits in a pre-norm residual block x + LIV(norm(x)).
type Genome []Slot

// Clone returns a copy of g that shares no memory with it.
func (g Genome) Clone() Genome { return append(Genome(nil), g...) }

// Wiring says, for one slot of a repaired genome, which slot owns the
// featurizer weights it uses and which slots compute the B and C features it
// uses. Each index is the slot's own index when it shares nothing.
type Wiring struct {
	FeatOwner int `json:"feat_owner"` // slot whose featurizer weights this slot ties to
	BSource   int `json:"b_source"`   // slot whose B tensor this slot uses
	CSource   int `json:"c_source"`   // slot whose C tensor this slot uses
}

// MaxDepth is the most slots a genome may have: 20 times the paper's
// deepest backbone (48 LIVs). Parse, Preset, Space.Validate and
// CheckRanges refuse more before they allocate anything proportional to the
// depth, so no input can make the genome code allocate without bound. The
// run limits of config build on it (docs/limits.md).
const MaxDepth = 1024
