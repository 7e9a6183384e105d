package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

var sharedBackend = sync.OnceValues(func() (compute.Backend, error) { return NewBackend("") })

func testBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := sharedBackend()
	if err != nil {
		t.Fatalf("creating backend: %v", err)
	}
	return b
}

// tinyConfig is small enough for finite differences: width 16 in 4 heads of
// 4 (so SA-3's repeat 4 leaves one K/V head), L 8, vocab 16.
func tinyConfig() arch.Config {
	return arch.Config{Width: 16, HeadDim: 4, Context: 8, Vocab: 16, FilterHidden: 8}
}

// caseGenome is a named genome of the test matrix.
type caseGenome struct {
	name string
	g    genome.Genome
}

// classGenome is class id followed by a GMemless block (GMemless alone is
// two GMemless slots).
func classGenome(id int) genome.Genome {
	return genome.Genome{
		{Class: id, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1},
		{Class: genome.GMemless, FeatGroup: 2, FeatStrategy: 1, ShareGroup: 2, ShareStrategy: 1},
	}
}

// sharingGenomes exercise featurizer ties, B/C/BC reuse, both together,
// differential halves and an owner whose tied member creates a featurizer
// weight the owner itself lacks. Each is canonical (Repair leaves it as is).
var sharingGenomes = []caseGenome{
	{"feat-SA1-GMemless", genome.MustParse("11211-92221-11231-92241")},
	{"reuseB-Rec1", genome.MustParse("51112-52112")},
	{"reuseC-GConv1", genome.MustParse("71113-72113")},
	{"reuseBC-SA2-SA1", genome.MustParse("21114-12114-93121")},
	{"feat+BC-GConv2", genome.MustParse("81214-81214")},
	{"feat+B-SA3-Diff", genome.MustParse("12.1.2.1.2-12.1.2.1.2-9.2.1.2.1")},
	{"Diff-Rec2-reuseC", genome.MustParse("15.1.1.1.3-15.2.1.1.3")},
	{"tie-after-reuse-Rec2", genome.MustParse("61112-62212-62221")},
	{"feat-MoE", genome.MustParse("18.1.2.1.1-18.1.2.2.1")},
	{"mixed", genome.MustParse("11214-92221-53132-11214-92241-54132-75254-75254-3.6.1.6.1")},
}

// allCases is every class alone plus the sharing genomes.
func allCases() []caseGenome {
	var out []caseGenome
	for _, c := range genome.Classes() {
		g := classGenome(c.ID)
		if c.ID == genome.GMemless {
			g = genome.MustParse("91111-92121")
		}
		out = append(out, caseGenome{fmt.Sprintf("%02d-%s", c.ID, c.Name), g})
	}
	return append(out, sharingGenomes...)
}

func TestSharingGenomesAreCanonical(t *testing.T) {
	t.Parallel()
	for _, c := range sharingGenomes {
		r := genome.Repair(c.g, genome.Space{})
		if !slices.Equal(r, c.g) {
			t.Errorf("%s: %s repairs to %s", c.name, c.g, r)
		}
		shares := false
		for i, w := range c.g.Wiring() {
			if w.FeatOwner != i || w.BSource != i || w.CSource != i {
				shares = true
			}
		}
		if !shares {
			t.Errorf("%s: %s shares nothing", c.name, c.g)
		}
	}
}

func randomTokens(rng *rand.Rand, batch, l, vocab int) [][]int32 {
	out := make([][]int32, batch)
	for i := range out {
		out[i] = make([]int32, l)
		for j := range out[i] {
			out[i][j] = int32(rng.IntN(vocab))
		}
	}
	return out
}

// forwardExec returns an executor of m's forward pass on store.
func forwardExec(t testing.TB, m *Model, store *mlmodel.Store) *mlmodel.Exec {
	t.Helper()
	e, err := mlmodel.NewExec(testBackend(t), store, func(scope *mlmodel.Scope, tokens *graph.Node) (*graph.Node, *graph.Node) {
		return m.Forward(scope, tokens)
	})
	if err != nil {
		t.Fatalf("creating forward exec: %v", err)
	}
	return e
}

func newTestStore(t testing.TB, seed int64) *mlmodel.Store {
	t.Helper()
	s, err := NewStore(seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func flat[T float32 | float64](t testing.TB, x *tensors.Tensor) []T {
	t.Helper()
	v, err := tensors.CopyFlatData[T](x)
	if err != nil {
		t.Fatalf("reading tensor %s: %v", x.Shape(), err)
	}
	return v
}

// buildModel creates variables by running one forward pass.
func buildModel(t testing.TB, g genome.Genome, cfg arch.Config, seed int64, dt dtypes.DType) (*Model, *mlmodel.Store) {
	t.Helper()
	m, err := New(g, cfg, WithDType(dt))
	if err != nil {
		t.Fatalf("New(%s): %v", g, err)
	}
	store := newTestStore(t, seed)
	c := m.Config()
	tok := randomTokens(rand.New(rand.NewPCG(1, 2)), 1, min(c.Context, 8), c.Vocab)
	if _, err := forwardExec(t, m, store).Call(tok); err != nil {
		t.Fatalf("forward %s: %v", g, err)
	}
	return m, store
}

// randomFloats returns a row-major tensor of dims filled by gen, called
// once per element in order.
func randomFloats(dims []int, gen func() float32) []float32 {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = gen()
	}
	return v
}

// normalTensor is a float64 tensor of dims with N(0, 1) values from rng.
func normalTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}
