package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// The fused softmax (kernelops.go) equals the written-out one in value and
// gradient, rows with masked entries included, in float64 and float32.
func TestFusedSoftmaxMatchesDecomposition(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 8))
	const rows, n = 6, 37
	xv, rv := make([]float64, rows*n), make([]float64, rows*n)
	for i := range xv {
		xv[i] = 3 * rng.NormFloat64()
		if i%n > i/n+3 { // a causal-style mask, none on row 0's first 4
			xv[i] += maskedLogit
		}
		rv[i] = rng.NormFloat64()
	}
	for _, single := range []bool{false, true} {
		x := tensors.FromFlatDataAndDimensions(xv, 2, rows/2, n)
		r := tensors.FromFlatDataAndDimensions(rv, 2, rows/2, n)
		run := func(sm func(*graph.Node) *graph.Node) [][]float64 {
			out := graph.MustExecOnceN(testBackend(t), func(x, r *graph.Node) []*graph.Node {
				if single {
					x, r = graph.ConvertDType(x, dtypes.Float32), graph.ConvertDType(r, dtypes.Float32)
				}
				p := sm(x)
				dx := graph.Gradient(graph.ReduceAllSum(graph.Mul(graph.Mul(p, p), r)), x)[0]
				return []*graph.Node{graph.ConvertDType(p, dtypes.Float64), graph.ConvertDType(dx, dtypes.Float64)}
			}, x, r)
			return [][]float64{tensors.MustCopyFlatData[float64](out[0]), tensors.MustCopyFlatData[float64](out[1])}
		}
		want, got := run(decomposedSoftmax), run(softmax)
		tol := 1e-12
		if single {
			tol = 1e-5
		}
		for i, name := range []string{"softmax", "gradient"} {
			for j := range want[i] {
				if d := math.Abs(got[i][j] - want[i][j]); d > tol*(1+math.Abs(want[i][j])) {
					t.Fatalf("float32 %v: %s[%d] = %v, decomposition gives %v", single, name, j, got[i][j], want[i][j])
				}
			}
		}
		for j, p := range got[0] {
			if xv[j] < maskedLogit/2 && p != 0 {
				t.Fatalf("float32 %v: masked entry %d has probability %v, want exactly 0", single, j, p)
			}
		}
	}
}

// A FusedSoftmax the model did not build has no gradient from the model:
// asking for one fails instead of assuming its axis.
func TestForeignFusedSoftmaxHasNoGradient(t *testing.T) {
	t.Parallel()
	x := tensors.FromFlatDataAndDimensions([]float64{1, 2, 3, 4}, 2, 2)
	_, err := graph.ExecOnceN(testBackend(t), func(x *graph.Node) []*graph.Node {
		p := graph.BackendFusedSoftmax(x, 0)
		return graph.Gradient(graph.ReduceAllSum(graph.Mul(p, p)), x)
	}, x)
	if err == nil {
		t.Fatal("the gradient of a FusedSoftmax built outside the model was defined")
	}
}
