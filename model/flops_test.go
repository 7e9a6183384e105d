package model

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// The contractions the built graph records equal FLOPs, which equals
// arch.FLOPs for every genome without MoE.
func TestFLOPsMatchGraph(t *testing.T) {
	t.Parallel()
	const batch = 2
	for cname, cfg := range map[string]arch.Config{
		"tiny":   tinyConfig(),
		"untied": {Width: 32, HeadDim: 8, Context: 12, UntieEmbedding: true, Experts: 3, TopK: 1, ShortKernel: 4},
	} {
		for _, c := range allCases() {
			t.Run(cname+"/"+c.name, func(t *testing.T) {
				m, err := New(c.g, cfg, WithDType(dtypes.Float32))
				if err != nil {
					t.Fatal(err)
				}
				var built *fwd
				e, err := mlmodel.NewExec(testBackend(t), newTestStore(t, 1), func(scope *mlmodel.Scope, tokens *graph.Node) *graph.Node {
					logits, _, f := m.forward(scope, tokens)
					built = f
					return logits
				})
				if err != nil {
					t.Fatal(err)
				}
				l := m.Config().Context
				if _, err := e.Call(randomTokens(rand.New(rand.NewPCG(1, 1)), batch, l, m.Config().Vocab)); err != nil {
					t.Fatal(err)
				}
				want, err := FLOPs(c.g, cfg)
				if err != nil {
					t.Fatal(err)
				}
				tokens := int64(batch * l)
				if built.tokenFLOPs%tokens != 0 || built.tokenFLOPs/tokens != want.Forward {
					t.Errorf("graph: %d FLOPs for %d tokens (%.1f per token), FLOPs().Forward = %d",
						built.tokenFLOPs, tokens, float64(built.tokenFLOPs)/float64(tokens), want.Forward)
				}
				if built.stepFLOPs != want.FilterForward {
					t.Errorf("graph filter FLOPs %d, FLOPs().FilterForward = %d", built.stepFLOPs, want.FilterForward)
				}
				ref, err := arch.FLOPs(c.g, cfg)
				if err != nil {
					t.Fatal(err)
				}
				hasMoE := false
				for _, s := range c.g {
					hasMoE = hasMoE || s.Class == genome.MoE
				}
				if !hasMoE && want != ref {
					t.Errorf("FLOPs = %+v, arch.FLOPs = %+v", want, ref)
				}
				if hasMoE && want.Forward <= ref.Forward {
					t.Errorf("MoE: dense experts should cost more than arch's top-k count: %d vs %d", want.Forward, ref.Forward)
				}
			})
		}
	}
}
