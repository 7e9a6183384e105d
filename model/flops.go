package model

import (
	"fmt"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// FLOPs returns the matmul FLOPs of the graph Forward builds for g at cfg,
// in arch's units (docs/architecture.md, "FLOPs"). It equals arch.FLOPs
// except for MoE: Forward runs every expert on every token and masks the
// unchosen ones, so Forward and Train count Experts experts per token where
// arch counts TopK. Inference is arch's (Forward has no decoding path).
// A test checks these counts against the contractions the built graph
// records.
func FLOPs(g genome.Genome, cfg arch.Config) (arch.FLOPCount, error) {
	fc, err := arch.FLOPs(g, cfg)
	if err != nil {
		return arch.FLOPCount{}, fmt.Errorf("counting flops: %w", err)
	}
	cfg = cfg.WithDefaults()
	d := int64(cfg.Width)
	expert := 2 * 3 * int64(cfg.MoEExpansion) * d * d // gate, up and down of one expert
	for _, s := range g {
		if genome.MustClass(s.Class).Base().Family == genome.Mixture {
			fc.Forward += int64(cfg.Experts-cfg.TopK) * expert
		}
	}
	fc.Train = 3 * fc.Forward
	return fc, nil
}
