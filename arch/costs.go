package arch

import (
	"github.com/star-pipeline/star-pipeline/genome"
)

// SlotCost is the share of one slot in the model's costs.
type SlotCost struct {
	Index int    `json:"index"` // 0-based slot index
	Class int    `json:"class"`
	Name  string `json:"name"`
	// Params counts the weights named after this slot, its norm included: a
	// tied featurizer weight counts at its owner.
	Params      int64 `json:"params"`
	CacheValues int64 `json:"cache_values"`
	CacheBytes  int64 `json:"cache_bytes"`
	// ForwardFLOPs and InferenceFLOPs are per token; FilterFLOPs per step
	// (see FLOPCount).
	ForwardFLOPs   int64 `json:"forward_flops"`
	FilterFLOPs    int64 `json:"filter_flops,omitempty"`
	InferenceFLOPs int64 `json:"inference_flops"`
}

// CostReport holds the static costs of a genome at a config.
type CostReport struct {
	Params int64 `json:"params"`
	// GlobalParams counts embed, final_norm and head.
	GlobalParams int64      `json:"global_params"`
	CacheBytes   int64      `json:"cache_bytes"`
	FLOPs        FLOPCount  `json:"flops"`
	PerSlot      []SlotCost `json:"per_slot"`
}

// Costs returns parameters, inference cache and FLOPs of g at cfg, with a
// per-slot breakdown.
func Costs(g genome.Genome, cfg Config) (CostReport, error) {
	m, err := build(g, cfg)
	if err != nil {
		return CostReport{}, err
	}
	layout := m.layout()
	c := CostReport{Params: sumParams(layout), FLOPs: m.flops(), PerSlot: make([]SlotCost, len(g))}
	for _, p := range layout {
		if p.Slot < 0 {
			c.GlobalParams += p.Size()
		} else {
			c.PerSlot[p.Slot].Params += p.Size()
		}
	}
	bytes := int64(m.cfg.DTypeBytes())
	for i := range g {
		sc := &c.PerSlot[i]
		sc.Index, sc.Class, sc.Name = i, m.classes[i].ID, m.classes[i].Name
		sc.CacheValues = m.cacheValues(i)
		sc.CacheBytes = sc.CacheValues * bytes
		f := m.slotFLOPs(i)
		sc.ForwardFLOPs, sc.FilterFLOPs, sc.InferenceFLOPs = f.forward, f.filter, f.inference
		c.CacheBytes += sc.CacheBytes
	}
	return c, nil
}

// CheckClass reports why a slot of class id cannot be built at cfg (zero
// fields take their defaults), or nil when it can: grouped-query attention,
// for one, needs a multiple of its K/V repeat in heads.
func CheckClass(id int, cfg Config) error {
	g := genome.Genome{{Class: id, FeatGroup: 1, FeatStrategy: genome.FeatNone, ShareGroup: 1, ShareStrategy: genome.ShareNone}}
	_, err := build(g, cfg)
	return err
}
