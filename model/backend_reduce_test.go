package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// referenceReduce walks in (row-major, dims) in order, combining each
// value into the output index that drops the reduced axes.
func referenceReduce(in []float32, dims, axes []int, init float32, combine func(a, b float32) float32) []float32 {
	reduced := map[int]bool{}
	for _, a := range axes {
		reduced[a] = true
	}
	n := 1
	for a, d := range dims {
		if !reduced[a] {
			n *= d
		}
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = init
	}
	idx := make([]int, len(dims))
	for _, v := range in {
		o := 0
		for a := range dims {
			if !reduced[a] {
				o = o*dims[a] + idx[a]
			}
		}
		out[o] = combine(out[o], v)
		for a := len(dims) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < dims[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

// The CPU backend's float32 ReduceMax and ReduceSum over a contiguous block
// of axes (third_party/compute: row loops, large ones split over the
// workers) against the operand-order reference, bit for bit, NaN and -Inf
// included, on shapes small and large enough to be split, and over
// non-contiguous axes (the generic path).
func TestBackendReduceMaxAndSumMatchReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(8, 9))
	sizes := []int{1, 2, 3, 7, 33, 130}
	for trial := range 80 {
		rank := 1 + trial%4
		dims := make([]int, rank)
		n := 1
		for i := range dims {
			dims[i] = sizes[rng.IntN(len(sizes))]
			n *= dims[i]
		}
		for n > 1<<19 {
			a := rng.IntN(rank)
			n /= dims[a]
			dims[a] = 2
			n *= 2
		}
		var axes []int
		for a := range rank {
			if rng.IntN(2) == 0 {
				axes = append(axes, a)
			}
		}
		if len(axes) == 0 {
			axes = []int{rank - 1}
		}
		in := randomFloats(dims, func() float32 {
			switch v := rng.Float32() - 0.5; rng.IntN(500) {
			case 0:
				return float32(math.NaN())
			case 1:
				return float32(math.Inf(-1))
			default:
				return v
			}
		})
		for _, op := range []struct {
			name    string
			reduce  func(x *graph.Node, axes ...int) *graph.Node
			init    float32
			combine func(a, b float32) float32
		}{
			{"ReduceMax", graph.ReduceMax, float32(math.Inf(-1)), func(a, b float32) float32 { return max(a, b) }},
			{"ReduceSum", graph.ReduceSum, 0, func(a, b float32) float32 { return a + b }},
		} {
			got := tensors.MustCopyFlatData[float32](graph.MustExecOnce(testBackend(t), func(x *graph.Node) *graph.Node {
				return op.reduce(x, axes...)
			}, tensors.FromFlatDataAndDimensions(in, dims...)))
			want := referenceReduce(in, dims, axes, op.init, op.combine)
			if len(got) != len(want) {
				t.Fatalf("%s(%v, axes %v): %d values, want %d", op.name, dims, axes, len(got), len(want))
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("%s(%v, axes %v)[%d] = %v, want %v", op.name, dims, axes, i, got[i], want[i])
				}
			}
		}
	}
}
