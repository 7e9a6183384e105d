package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// randomElementwise builds a random expression over the inputs xs (all of
// one shape), operands bs that broadcast to it and scalar constants, from
// the ops the backend fuses; some intermediate results are used twice (so
// they stay unfused) and some inputs appear in several places.
func randomElementwise(rng *rand.Rand, xs, bs []*graph.Node, depth int) *graph.Node {
	if depth == 0 || rng.IntN(5) == 0 {
		return xs[rng.IntN(len(xs))]
	}
	a := randomElementwise(rng, xs, bs, depth-1)
	if len(bs) > 0 && rng.IntN(4) == 0 {
		b := bs[rng.IntN(len(bs))]
		if rng.IntN(2) == 0 {
			return graph.Mul(a, b)
		}
		return graph.Sub(b, a)
	}
	switch k := rng.IntN(14); k {
	case 0:
		return graph.Neg(a)
	case 1:
		return graph.Abs(a)
	case 2:
		return graph.Sqrt(graph.Abs(a))
	case 3:
		return graph.Exp(graph.MinScalar(a, 20))
	case 4:
		return graph.Log(graph.AddScalar(graph.Abs(a), 0.5))
	case 5:
		return graph.Logistic(a)
	case 6:
		return graph.Tanh(a)
	case 7:
		return graph.Rsqrt(graph.AddScalar(graph.Abs(a), 0.25))
	case 8:
		return graph.MulScalar(a, rng.Float64()*2-1)
	case 9:
		return graph.Sub(graph.Scalar(a.Graph(), a.DType(), rng.Float64()), a)
	case 10:
		return graph.Mul(a, a) // one input used twice by a node
	default:
		b := randomElementwise(rng, xs, bs, depth-1)
		if rng.IntN(4) == 0 {
			b = graph.Add(b, b) // b has two uses: a boundary
		}
		switch k {
		case 11:
			return graph.Add(a, b)
		case 12:
			return graph.Mul(a, b)
		default:
			return graph.Div(a, graph.AddScalar(graph.Abs(b), 0.5))
		}
	}
}

// The backend's elementwise fusion (third_party/compute, ops/fusion.go)
// against the same graphs compiled without it (GOMLX_FUSION=off): random
// trees of the fused ops with scalar and broadcast operands and shared
// inputs, on sizes
// under and over one block and large enough to be split over the workers,
// give the same bits. A second output that reuses an intermediate result
// checks it is not fused away.
func TestBackendFusionMatchesUnfused(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for trial := range 60 {
		dims := [][]int{{7}, {3, 1000}, {2, 3, 5}, {64, 1030}, {4, 8, 300}}[trial%5]
		n := 1
		for _, d := range dims {
			n *= d
		}
		nIn, nB := 1+rng.IntN(3), rng.IntN(3)
		inputs := make([]any, nIn+nB)
		for i := range inputs {
			d := dims
			if i >= nIn { // broadcast along random axes
				d = make([]int, len(dims))
				for a := range d {
					d[a] = 1
					if rng.IntN(2) == 0 {
						d[a] = dims[a]
					}
				}
			}
			v := randomFloats(d, func() float32 { return rng.Float32()*4 - 2 })
			inputs[i] = tensors.FromFlatDataAndDimensions(v, d...)
		}
		seed := rng.Uint64()
		build := func(all []*graph.Node) []*graph.Node {
			r := rand.New(rand.NewPCG(seed, 1))
			xs, bs := slices.Clone(all[:nIn]), all[nIn:]
			// Neg: an output is never a bare input.
			y := graph.Neg(randomElementwise(r, xs, bs, 6))
			z := graph.Neg(randomElementwise(r, append(xs, y), bs, 4))
			return []*graph.Node{y, z}
		}
		run := func() [][]float32 {
			out, err := graph.ExecOnceN(testBackend(t), build, inputs...)
			if err != nil {
				t.Fatalf("%+v", err)
			}
			return [][]float32{tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])}
		}
		fused := run()
		t.Setenv("GOMLX_FUSION", "off")
		unfused := run()
		t.Setenv("GOMLX_FUSION", "")
		for o := range fused {
			for i := range fused[o] {
				a, b := fused[o][i], unfused[o][i]
				if math.Float32bits(a) != math.Float32bits(b) && !(a != a && b != b) {
					t.Fatalf("trial %d, dims %v, output %d [%d]: fused %v, unfused %v", trial, dims, o, i, a, b)
				}
			}
		}
	}
}
