package arch

import (
	"github.com/star-pipeline/star-pipeline/genome"
)

// Param is one parameter tensor of the model.
type Param struct {
	// Name is stable and unique: "embed", "final_norm", "head", or
	// "slot_<i>/<weight>" with i the 0-based slot index,
	// "slot_<i>/a/<weight>" and "slot_<i>/b/<weight>" for the halves of a
	// differential class, "slot_<i>/lambda", and "slot_<i>/norm" for the
	// slot's pre-norm scale.
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	Role  Role   `json:"role"`
	// Slot is the 0-based slot named in Name: the slot itself, or for a tied
	// featurizer weight the owner of the featurizer group. -1 for embed,
	// final_norm and head.
	Slot int `json:"slot"`
}

// Size returns the number of values of the tensor.
func (p Param) Size() int64 { return shapeSize(p.Shape) }

// Layout lists every parameter tensor of the model g stands for at cfg
// (zero fields of cfg take their defaults), each once, in creation order:
// embed; then per slot its norm and the weights it is the first to use
// (a tied featurizer weight appears once, under its owner's name, where a
// slot of the group first needs it; a reused feature group's weights are
// absent); then final_norm and, unless embeddings are tied, head. g must
// pass genome.Validate; it need not be canonical.
func Layout(g genome.Genome, cfg Config) ([]Param, error) {
	m, err := build(g, cfg)
	if err != nil {
		return nil, err
	}
	return m.layout(), nil
}

func (m *model) layout() []Param {
	d, v := m.cfg.Width, m.cfg.Vocab
	out := []Param{{Name: "embed", Shape: []int{v, d}, Role: RoleGlobal, Slot: -1}}
	seen := map[string]bool{}
	for i := range m.g {
		out = append(out, Param{Name: slotName(i) + "/norm", Shape: []int{d}, Role: RoleGlobal, Slot: i})
		for _, u := range m.uses(i) {
			if seen[u.name] {
				continue
			}
			seen[u.name] = true
			out = append(out, Param{Name: u.name, Shape: append([]int(nil), u.shape...), Role: u.role, Slot: u.owner})
		}
	}
	out = append(out, Param{Name: "final_norm", Shape: []int{d}, Role: RoleGlobal, Slot: -1})
	if m.cfg.UntieEmbedding {
		out = append(out, Param{Name: "head", Shape: []int{d, v}, Role: RoleGlobal, Slot: -1})
	}
	return out
}

// Params returns the exact parameter count of the model: the sum of the
// sizes of Layout, so shared weights count once.
func Params(g genome.Genome, cfg Config) (int64, error) {
	m, err := build(g, cfg)
	if err != nil {
		return 0, err
	}
	return sumParams(m.layout()), nil
}

func sumParams(ps []Param) int64 {
	var n int64
	for _, p := range ps {
		n += p.Size()
	}
	return n
}
