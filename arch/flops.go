package arch

import (
	"github.com/star-pipeline/star-pipeline/genome"
)

// FLOPCount is the FLOP count of a model (docs/architecture.md, "FLOPs"):
// matmul and contraction FLOPs only (2·m·n·k per [m×k]·[k×n] product),
// elementwise work not counted.
type FLOPCount struct {
	// Context is the sequence length L the counts are for.
	Context int `json:"context"`
	// Forward is the forward FLOPs per token of a training sequence of
	// length L, as the training graph computes them: full L×L attention
	// scores under a causal mask, the SSD quadratic matmul form, the long
	// convolution as a Toeplitz matmul, TopK experts per token.
	Forward int64 `json:"forward"`
	// Train is 3·Forward: forward and backward per token.
	Train int64 `json:"train"`
	// FilterForward is the forward FLOPs of the GConv-2 implicit filters,
	// which depend on positions only: once per training step, whatever the
	// batch size.
	FilterForward int64 `json:"filter_forward"`
	// Inference is the FLOPs to decode one token at position L with the
	// inference cache.
	Inference int64 `json:"inference"`
}

// TrainStep returns the FLOPs of one training step (forward and backward)
// on batch sequences of length Context.
func (f FLOPCount) TrainStep(batch int) int64 {
	return 3 * (f.Forward*int64(batch)*int64(f.Context) + f.FilterForward)
}

// FLOPs returns the FLOP count of the model g stands for at cfg.
func FLOPs(g genome.Genome, cfg Config) (FLOPCount, error) {
	m, err := build(g, cfg)
	if err != nil {
		return FLOPCount{}, err
	}
	return m.flops(), nil
}

// slotFLOPs holds the three FLOP counts of one slot.
type slotFLOPs struct {
	forward, filter, inference int64
}

func (m *model) flops() FLOPCount {
	d, v := int64(m.cfg.Width), int64(m.cfg.Vocab)
	head := 2 * d * v // the output projection, tied or not
	f := FLOPCount{Context: m.cfg.Context, Forward: head, Inference: head}
	for i := range m.g {
		s := m.slotFLOPs(i)
		f.Forward += s.forward
		f.FilterForward += s.filter
		f.Inference += s.inference
	}
	f.Train = 3 * f.Forward
	return f
}

func (m *model) slotFLOPs(i int) slotFLOPs {
	cfg := m.cfg
	var s slotFLOPs
	for _, u := range m.uses(i) {
		switch u.flops {
		case flopToken:
			s.forward += 2 * u.size()
		case flopExpert:
			s.forward += 2 * u.size() / int64(cfg.Experts) * int64(cfg.TopK)
		case flopFilter:
			s.filter += 2 * int64(cfg.Context) * u.size()
		}
	}
	s.inference = s.forward
	c := m.classes[i]
	halves := int64(1)
	if c.IsDiff() {
		halves = 2
	}
	b := c.Base()
	d, l := int64(cfg.Width), int64(cfg.Context)
	switch {
	case b.Family == genome.Attention:
		// Scores q·kᵀ and values p·v over L positions, all H query heads.
		s.forward += halves * 4 * l * d
		s.inference += halves * 4 * l * d
	case b.Family == genome.Recurrence:
		n, h := int64(b.StateExpansion), int64(cfg.Heads())
		// C·Bᵀ (L×n by n×L), the segment sum as a lower-triangular L×L
		// matmul on a (H columns), then (L×L)·(L×hd) per head.
		s.forward += halves * (2*l*n + 2*l*h + 2*l*d)
		// Decoding: the state update u⊗B and the readout state·C.
		s.inference += halves * 4 * d * n
	case b.Family == genome.Convolution && b.LongConv:
		// Toeplitz matmul per channel in training; a length-L dot product
		// per channel when decoding.
		s.forward += halves * 2 * l * d
		s.inference += halves * 2 * l * d
	}
	return s
}
