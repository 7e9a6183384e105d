package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func TestLongConvChunk(t *testing.T) {
	for _, c := range []struct{ l, b, want int }{
		{64, 8, 0}, {128, 1, 16}, {256, 8, 32}, {256, 1, 16}, {2048, 8, 128}, {192, 8, 32}, {200, 8, 0},
	} {
		if got := longConvChunk(c.l, c.b); got != c.want {
			t.Errorf("longConvChunk(%d, %d) = %d, want %d", c.l, c.b, got, c.want)
		}
	}
}

// The chunked long convolution equals the Toeplitz product in value and
// in both gradients (float64, every chunk size that divides the length).
func TestToeplitzConvChunkedMatchesToeplitz(t *testing.T) {
	t.Parallel()
	const b, l, c = 2, 128, 3
	rng := rand.New(rand.NewPCG(7, 7))
	randT := func(dims ...int) *tensors.Tensor { return normalTensor(rng, dims...) }
	z, h, r := randT(b, l, c), randT(l, c), randT(b, l, c)
	want := convWithGradients(t, (&fwd{}).toeplitzConvFull, z, h, r)
	if longConvChunk(l, b) == 0 {
		t.Fatalf("the model would not chunk length %d at batch %d", l, b)
	}
	for _, k := range []int{8, 16, 32, 64} {
		got := convWithGradients(t, func(z, h *graph.Node) *graph.Node { return (&fwd{}).toeplitzConvChunked(z, h, k) }, z, h, r)
		requireSameConv(t, fmt.Sprintf("chunk %d", k), got, want)
	}
}

// convWithGradients runs y = conv(z, h) on the test backend and returns
// y and the gradients of sum(y * r) with respect to z and h, flat.
func convWithGradients(t *testing.T, conv func(z, h *graph.Node) *graph.Node, z, h, r *tensors.Tensor) [][]float64 {
	t.Helper()
	out := graph.MustExecOnceN(testBackend(t), func(z, h, r *graph.Node) []*graph.Node {
		y := conv(z, h)
		grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, r)), z, h)
		return []*graph.Node{y, grads[0], grads[1]}
	}, z, h, r)
	res := make([][]float64, len(out))
	for i, o := range out {
		res[i] = tensors.MustCopyFlatData[float64](o)
	}
	return res
}

// requireSameConv fails unless two convWithGradients results agree to
// 1e-9 relative.
func requireSameConv(t *testing.T, label string, got, want [][]float64) {
	t.Helper()
	for i, name := range []string{"output", "dz", "dh"} {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("%s: %s: %d values, want %d", label, name, len(got[i]), len(want[i]))
		}
		for j := range want[i] {
			if d := math.Abs(got[i][j] - want[i][j]); d > 1e-9*(1+math.Abs(want[i][j])) {
				t.Fatalf("%s: %s[%d] = %v, reference gives %v", label, name, j, got[i][j], want[i][j])
			}
		}
	}
}

// A length no block size divides (a prompt) is padded to a multiple of 64
// and run in blocks; its outputs equal the Toeplitz product's.
func TestToeplitzConvPaddedMatchesToeplitz(t *testing.T) {
	t.Parallel()
	const b, l, c = 1, 150, 2
	if longConvChunk(l, b) != 0 {
		t.Fatalf("length %d has a block size; the test needs one without", l)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	zv, hv := make([]float64, b*l*c), make([]float64, l*c)
	for i := range zv {
		zv[i] = rng.NormFloat64()
	}
	for i := range hv {
		hv[i] = rng.NormFloat64()
	}
	z, h := tensors.FromFlatDataAndDimensions(zv, b, l, c), tensors.FromFlatDataAndDimensions(hv, l, c)
	outs := graph.MustExecOnceN(testBackend(t), func(z, h *graph.Node) []*graph.Node {
		f := &fwd{}
		return []*graph.Node{f.toeplitzConv(z, h), f.toeplitzConvFull(z, h)}
	}, z, h)
	got, want := flat[float64](t, outs[0]), flat[float64](t, outs[1])
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9*(1+math.Abs(want[i])) {
			t.Fatalf("output %d: padded %v, Toeplitz %v", i, got[i], want[i])
		}
	}
}

// The depthwise convolution op (kernelops.go) equals the Toeplitz product
// for the long conv, and the shifted copies for short kernels (also longer
// than the sequence), in value and in both gradients (float64).
func TestDepthwiseConvMatchesDecompositions(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 3))
	randT := func(dims ...int) *tensors.Tensor { return normalTensor(rng, dims...) }
	for _, c := range []struct {
		name       string
		b, l, k, c int
	}{
		{"long", 2, 130, 130, 3}, {"long chunked", 2, 128, 128, 9}, {"short", 3, 10, 3, 5},
		{"kernel longer than the sequence", 2, 2, 4, 3}, {"one tap", 1, 5, 1, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			z, h, r := randT(c.b, c.l, c.c), randT(c.k, c.c), randT(c.b, c.l, c.c)
			took := false
			var decomposition func(z, h *graph.Node) *graph.Node
			if c.k == c.l {
				decomposition = (&fwd{}).toeplitzConv
			} else {
				decomposition = shiftedCausalConv
			}
			want := convWithGradients(t, decomposition, z, h, r)
			got := convWithGradients(t, func(z, h *graph.Node) *graph.Node {
				took = useDepthwiseConv(z)
				return depthwiseCausalConv(z, h)
			}, z, h, r)
			if !took {
				t.Fatal("the test backend does not take the depthwise convolution op")
			}
			requireSameConv(t, "depthwise against decomposition", got, want)
		})
	}
}
