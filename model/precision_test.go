package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// precisionRun is what one forward and backward pass of a model returns:
// logits, and per trainable variable (in the store's order) the gradient of
// sum(logits * R) + aux for a fixed random R.
type precisionRun struct {
	logits     *tensors.Tensor
	grads      [][]float32
	params     int64
	varDTypes  []dtypes.DType
	names      []string
	gradDTypes []dtypes.DType
}

func runWithCompute(t *testing.T, c caseGenome, cfg arch.Config, ct dtypes.DType, tok [][]int32, r []float32) precisionRun {
	t.Helper()
	m, err := New(c.g, cfg, WithComputeDType(ct))
	if err != nil {
		t.Fatal(err)
	}
	if m.DType() != dtypes.Float32 || m.ComputeDType() != ct {
		t.Fatalf("dtypes %s/%s, want Float32/%s", m.DType(), m.ComputeDType(), ct)
	}
	store := newTestStore(t, 3)
	// Variables exist after a first forward pass; the gradient pass reuses them.
	if _, err := forwardExec(t, m, store).Call(tok); err != nil {
		t.Fatalf("%s forward in %s: %v", c.name, ct, err)
	}
	var run precisionRun
	var vars []*mlmodel.Variable
	for v := range store.IterVariables() {
		if v.Trainable {
			vars = append(vars, v)
			run.varDTypes = append(run.varDTypes, v.Shape().DType)
			run.names = append(run.names, v.Path())
		}
	}
	run.params = CountParams(store.Scope("/"))
	e, err := mlmodel.NewExec(testBackend(t), store, func(scope *mlmodel.Scope, tokens *graph.Node) []*graph.Node {
		g := tokens.Graph()
		logits, aux := m.Forward(scope, tokens)
		rn := graph.Reshape(graph.Const(g, r), logits.Shape().Dimensions...)
		loss := graph.Add(graph.ReduceAllSum(graph.Mul(logits, rn)), aux)
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.NodeValue(g)
		}
		return append([]*graph.Node{logits}, graph.Gradient(loss, nodes...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Call(tok)
	if err != nil {
		t.Fatalf("%s gradient in %s: %v", c.name, ct, err)
	}
	run.logits = out[0]
	for _, gr := range out[1:] {
		run.gradDTypes = append(run.gradDTypes, gr.Shape().DType)
		run.grads = append(run.grads, flat[float32](t, gr))
	}
	return run
}

// Under bfloat16 compute every class builds the same float32 variables
// (same parameter count), returns float32 logits within 1% (of the largest
// logit) of the float32 model's, and gives every variable a finite float32
// gradient within 10% (relative L2) of the float32 gradient, and 2% over
// all variables together. The per-variable bound is loose for the scalars
// and vectors whose gradients are sums of cancelling terms (lambda,
// dt_bias), which bfloat16 rounding of the activations moves most.
func TestBFloat16ComputeTracksFloat32(t *testing.T) {
	t.Parallel()
	const (
		logitTol  = 1e-2
		gradTol   = 1e-1
		globalTol = 2e-2
	)
	short := arch.Config{Width: 32, HeadDim: 8, Context: 16, Vocab: 32}
	long := arch.Config{Width: 16, HeadDim: 8, Context: 128, Vocab: 32} // GConv-2 on Toeplitz blocks
	type run struct {
		c   caseGenome
		cfg arch.Config
	}
	var runs []run
	for _, c := range allCases() {
		runs = append(runs, run{c, short})
	}
	runs = append(runs, run{caseGenome{"08-GConv-2-chunked", classGenome(genome.GConv2)}, long})
	worstLogit, worstGrad, worstGlobal := 0.0, 0.0, 0.0
	for _, rc := range runs {
		c, cfg := rc.c, rc.cfg
		rng := rand.New(rand.NewPCG(8, 9))
		tok := randomTokens(rng, 2, cfg.Context, cfg.Vocab)
		r := make([]float32, 2*cfg.Context*cfg.Vocab)
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		ref := runWithCompute(t, c, cfg, dtypes.Float32, tok, r)
		got := runWithCompute(t, c, cfg, dtypes.BFloat16, tok, r)
		if got.params != ref.params || len(got.grads) != len(ref.grads) {
			t.Fatalf("%s: bf16 model has %d parameters in %d variables, float32 %d in %d",
				c.name, got.params, len(got.grads), ref.params, len(ref.grads))
		}
		if dt := got.logits.Shape().DType; dt != dtypes.Float32 {
			t.Fatalf("%s: logits in %s, want Float32", c.name, dt)
		}
		a, b := flat[float32](t, ref.logits), flat[float32](t, got.logits)
		var maxDiff, maxAbs float64
		for i := range a {
			maxDiff = math.Max(maxDiff, math.Abs(float64(a[i]-b[i])))
			maxAbs = math.Max(maxAbs, math.Abs(float64(a[i])))
		}
		if maxDiff > logitTol*maxAbs || maxDiff == 0 {
			t.Errorf("%s: bf16 logits differ from float32 by up to %.3g (largest logit %.3g; want (0, %.0e] of it)",
				c.name, maxDiff, maxAbs, logitTol)
		}
		worstLogit = math.Max(worstLogit, maxDiff/maxAbs)
		var allDiff, allNorm float64
		for i := range got.grads {
			if got.varDTypes[i] != dtypes.Float32 || got.gradDTypes[i] != dtypes.Float32 {
				t.Fatalf("%s: variable %d is %s with a %s gradient, want Float32 for both",
					c.name, i, got.varDTypes[i], got.gradDTypes[i])
			}
			var diff, norm float64
			for j, x := range ref.grads[i] {
				y := float64(got.grads[i][j])
				if math.IsNaN(y) || math.IsInf(y, 0) {
					t.Fatalf("%s: variable %d has a non-finite bf16 gradient", c.name, i)
				}
				diff += (y - float64(x)) * (y - float64(x))
				norm += float64(x) * float64(x)
			}
			allDiff, allNorm = allDiff+diff, allNorm+norm
			if norm == 0 {
				continue
			}
			rel := math.Sqrt(diff / norm)
			if rel > gradTol {
				t.Errorf("%s: variable %d (%s): bf16 gradient differs from float32 by %.3g (relative L2, norm %.3g), want <= %.0e", c.name, i, got.names[i], rel, math.Sqrt(norm), gradTol)
			}
			worstGrad = math.Max(worstGrad, rel)
		}
		if rel := math.Sqrt(allDiff / allNorm); rel > globalTol {
			t.Errorf("%s: bf16 gradient (all variables) differs from float32 by %.3g (relative L2), want <= %.0e", c.name, rel, globalTol)
		} else {
			worstGlobal = math.Max(worstGlobal, rel)
		}
	}
	t.Logf("worst bf16 vs float32: logits %.2e of the largest logit; gradients %.2e relative L2 (one variable), %.2e (all)",
		worstLogit, worstGrad, worstGlobal)
}

func TestComputeDTypeMustBeFloat(t *testing.T) {
	t.Parallel()
	if _, err := New(classGenome(1), tinyConfig(), WithComputeDType(dtypes.Int32)); err == nil {
		t.Fatal("New accepted an Int32 compute dtype")
	}
}
