package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// randomizeUnitScale replaces every trainable variable with values of unit
// scale, so that every gradient is far above the float64 round-off of the
// finite differences (the real init makes some of them ~1e-9): matrices
// N(0, 1/fan_in), norm scales 1 + 0.2 N(0, 1), other vectors 0.5 N(0, 1).
func randomizeUnitScale(t *testing.T, store *mlmodel.Store, rng *rand.Rand) {
	for v := range store.IterVariables() {
		if !v.Trainable {
			continue
		}
		dims := v.Shape().Dimensions
		data := make([]float64, v.Shape().Size())
		for i := range data {
			switch {
			case len(dims) >= 2:
				data[i] = rng.NormFloat64() / math.Sqrt(float64(dims[len(dims)-2]))
			case strings.HasSuffix(v.Path(), "norm"):
				data[i] = 1 + 0.2*rng.NormFloat64()
			default:
				data[i] = 0.5 * rng.NormFloat64()
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(data, dims...))
	}
}

// Finite differences in float64 on the tiny config, with unit-scale
// weights: for every variable of the model, a few entries' autodiff
// gradients of
// loss = sum(logits * R) + aux (R a fixed random tensor) are compared with
// central differences.
func TestGradientsFiniteDifferences(t *testing.T) {
	t.Parallel()
	const (
		batch      = 2
		perWeight  = 3
		step       = 1e-5
		absTol     = 1e-8
		relTol     = 1e-5
		tokensSeed = 11
	)
	cfg := tinyConfig()
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			checkGradients(t, c.g, cfg, batch, perWeight, step, absTol, relTol)
		})
	}
}

func checkGradients(t *testing.T, g genome.Genome, cfg arch.Config, batch, perWeight int, step, absTol, relTol float64) {
	m, err := New(g, cfg, WithDType(dtypes.Float64))
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	l := c.Context
	rng := rand.New(rand.NewPCG(uint64(len(g)), 99))
	tok := randomTokens(rng, batch, l, c.Vocab)
	r := make([]float64, batch*l*c.Vocab)
	for i := range r {
		r[i] = rng.NormFloat64()
	}
	proj := tensors.FromFlatDataAndDimensions(r, batch, l, c.Vocab)
	store := newTestStore(t, 5)

	loss := func(scope *mlmodel.Scope, tokens, proj *graph.Node) *graph.Node {
		logits, aux := m.Forward(scope, tokens)
		return graph.Add(graph.ReduceAllSum(graph.Mul(logits, proj)), aux)
	}
	var vars []*mlmodel.Variable
	gradExec, err := mlmodel.NewExec(testBackend(t), store, func(scope *mlmodel.Scope, tokens, proj *graph.Node) []*graph.Node {
		y := loss(scope, tokens, proj)
		vars = vars[:0]
		var nodes []*graph.Node
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(y.Graph()) {
				vars = append(vars, v)
				nodes = append(nodes, v.NodeValue(y.Graph()))
			}
		}
		return append([]*graph.Node{y}, graph.Gradient(y, nodes...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	lossExec, err := mlmodel.NewExec(testBackend(t), store, loss)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lossExec.Call(tok, proj); err != nil {
		t.Fatalf("loss exec: %v", err)
	}
	randomizeUnitScale(t, store, rng)
	outs, err := gradExec.Call(tok, proj)
	if err != nil {
		t.Fatalf("gradient exec: %v", err)
	}
	if got, want := int64(0), CountParams(store.RootScope()); true {
		for _, v := range vars {
			got += int64(v.Shape().Size())
		}
		if got != want {
			t.Fatalf("gradients cover %d parameters, the scope holds %d", got, want)
		}
	}
	evalLoss := func() float64 {
		out, err := lossExec.Call(tok, proj)
		if err != nil {
			t.Fatalf("loss exec: %v", err)
		}
		return flat[float64](t, out[0])[0]
	}
	var worst float64
	var worstAt string
	checked := 0
	for vi, v := range vars {
		grad := flat[float64](t, outs[1+vi])
		orig := flat[float64](t, v.MustValue())
		dims := v.Shape().Dimensions
		set := func(idx int, val float64) {
			data := append([]float64(nil), orig...)
			data[idx] = val
			v.MustSetValue(tensors.FromFlatDataAndDimensions(data, dims...))
		}
		idxs := rng.Perm(len(orig))[:min(perWeight, len(orig))]
		for _, idx := range idxs {
			set(idx, orig[idx]+step)
			plus := evalLoss()
			set(idx, orig[idx]-step)
			minus := evalLoss()
			fd := (plus - minus) / (2 * step)
			ad := grad[idx]
			diff := math.Abs(ad - fd)
			if tol := absTol + relTol*math.Max(math.Abs(ad), math.Abs(fd)); diff > tol || math.IsNaN(ad) {
				t.Errorf("%s[%d]: autodiff %.9g, finite difference %.9g (|diff| %.3g > %.3g)", v.Path(), idx, ad, fd, diff, tol)
			}
			if e := diff / (absTol + math.Max(math.Abs(ad), math.Abs(fd))); e > worst {
				worst = e
				worstAt = fmt.Sprintf("%s[%d] (autodiff %.4g, fd %.4g)", v.Path(), idx, ad, fd)
			}
			checked++
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(orig, dims...))
	}
	t.Logf("%s: %d entries of %d weights checked, worst relative error %.2g at %s", g, checked, len(vars), worst, worstAt)
}
