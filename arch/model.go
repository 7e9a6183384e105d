package arch

import (
	"fmt"

	"github.com/star-pipeline/star-pipeline/genome"
)

// Role says what a weight does and how sharing treats it.
type Role string

// Roles of docs/architecture.md.
const (
	// RoleGlobal marks the embedding, the head and the RMSNorm scales.
	RoleGlobal Role = "global"
	// RoleOp marks an operator weight: never shared.
	RoleOp Role = "op"
	// RoleFeat marks a featurizer weight: tied under featurizer sharing.
	RoleFeat Role = "feat"
	// RoleFeatB marks a featurizer weight of feature group B: tied under
	// featurizer sharing, absent when the slot reuses B.
	RoleFeatB Role = "feat:B"
	// RoleFeatC is RoleFeatB for feature group C.
	RoleFeatC Role = "feat:C"
)

// flopKind says how a weight enters the FLOP count.
type flopKind int

const (
	flopNone   flopKind = iota // a vector: scales and biases
	flopToken                  // applied once per token: 2 * size FLOPs
	flopExpert                 // an MoE expert stack [E, ...]: only TopK of E experts run per token
	flopFilter                 // an implicit-filter weight: applied once per position, per step
)

// weight is one weight of a class, before sharing.
type weight struct {
	name  string
	shape []int
	role  Role
	flops flopKind
}

func (w weight) size() int64 { return shapeSize(w.shape) }

func shapeSize(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// baseWeights lists the weights of a plain (non-differential) class in the
// order of docs/architecture.md.
func baseWeights(c *genome.Class, cfg Config) []weight {
	d, k := cfg.Width, cfg.ShortKernel
	tok := func(name string, role Role, shape ...int) weight { return weight{name, shape, role, flopToken} }
	vec := func(name string, role Role, n int) weight { return weight{name, []int{n}, role, flopNone} }
	switch c.Family {
	case genome.Attention:
		dkv := d / c.KVRepeat
		ws := []weight{
			tok("q", RoleFeatC, d, d),
			tok("k", RoleFeatB, d, dkv),
			tok("v", RoleFeat, d, dkv),
			tok("o", RoleOp, d, d),
		}
		if c.QKVConv {
			ws = append(ws,
				tok("q_conv", RoleFeatC, k, d),
				tok("k_conv", RoleFeatB, k, dkv),
				tok("v_conv", RoleFeat, k, dkv))
		}
		return ws
	case genome.Recurrence:
		n, h := c.StateExpansion, cfg.Heads()
		return []weight{
			tok("x", RoleOp, d, d),
			tok("z", RoleOp, d, d),
			tok("b", RoleFeatB, d, n),
			tok("c", RoleFeatC, d, n),
			tok("dt", RoleFeat, d, h),
			vec("dt_bias", RoleFeat, h),
			vec("a_log", RoleFeat, h),
			tok("o", RoleOp, d, d),
		}
	case genome.Convolution:
		ws := []weight{
			tok("v", RoleOp, d, d),
			tok("b", RoleFeatB, d, d),
			tok("c", RoleFeatC, d, d),
		}
		if c.LongConv {
			p, f := cfg.FilterFeatures, cfg.FilterHidden
			ws = append(ws,
				weight{"filter_w1", []int{p, f}, RoleFeat, flopFilter},
				vec("filter_b1", RoleFeat, f),
				weight{"filter_w2", []int{f, d}, RoleFeat, flopFilter})
		} else {
			ws = append(ws, tok("kernel", RoleFeat, k, d))
		}
		return append(ws, tok("o", RoleOp, d, d))
	case genome.Memoryless:
		h := cfg.FFNExpansion * d
		return []weight{
			tok("gate", RoleFeat, d, h),
			tok("up", RoleFeat, d, h),
			tok("down", RoleOp, h, d),
		}
	case genome.Mixture:
		e, h := cfg.Experts, cfg.MoEExpansion*d
		return []weight{
			tok("router", RoleFeat, d, e),
			{"gate", []int{e, d, h}, RoleFeat, flopExpert},
			{"up", []int{e, d, h}, RoleFeat, flopExpert},
			{"down", []int{e, h, d}, RoleOp, flopExpert},
		}
	}
	return nil
}

// use is one weight as a slot uses it: under the name of the slot that owns
// it (the featurizer owner for tied weights).
type use struct {
	weight
	name  string // full parameter name
	owner int    // slot named in name
}

// model is a validated genome at a validated config.
type model struct {
	cfg     Config
	g       genome.Genome
	wiring  []genome.Wiring
	classes []*genome.Class
}

// build applies the config's defaults and validates both inputs.
func build(g genome.Genome, cfg Config) (*model, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if err := genome.Validate(g, genome.Space{}); err != nil {
		return nil, fmt.Errorf("invalid genome: %w", err)
	}
	m := &model{cfg: cfg, g: g, wiring: g.Wiring(), classes: make([]*genome.Class, len(g))}
	for i, s := range g {
		c := genome.MustClass(s.Class)
		if b := c.Base(); b.Family == genome.Attention && cfg.Heads()%b.KVRepeat != 0 {
			return nil, &genome.GeneError{Slot: i, Gene: genome.GeneClass, Reason: fmt.Sprintf(
				"%s groups %d query heads per K/V head, but width %d / head dim %d gives %d heads; "+
					"pick a head dim that leaves a multiple of %d heads",
				c.Name, b.KVRepeat, cfg.Width, cfg.HeadDim, cfg.Heads(), b.KVRepeat)}
		}
		m.classes[i] = c
	}
	return m, nil
}

// slotName returns the parameter name prefix of slot i.
func slotName(i int) string { return fmt.Sprintf("slot_%d", i) }

// uses lists the weights slot i computes with: reused feature groups left
// out, tied featurizer weights named after their owner. A differential
// class lists half a, then half b, then lambda.
func (m *model) uses(i int) []use {
	c, w := m.classes[i], m.wiring[i]
	halves := []string{""}
	if c.IsDiff() {
		halves = []string{"a/", "b/"}
	}
	var out []use
	for _, half := range halves {
		for _, wt := range baseWeights(c.Base(), m.cfg) {
			owner := i
			switch wt.role {
			case RoleFeatB:
				if w.BSource != i {
					continue
				}
				owner = w.FeatOwner
			case RoleFeatC:
				if w.CSource != i {
					continue
				}
				owner = w.FeatOwner
			case RoleFeat:
				owner = w.FeatOwner
			}
			out = append(out, use{weight: wt, name: slotName(owner) + "/" + half + wt.name, owner: owner})
		}
	}
	if c.IsDiff() {
		out = append(out, use{weight: weight{"lambda", []int{1}, RoleOp, flopNone}, name: slotName(i) + "/lambda", owner: i})
	}
	return out
}
