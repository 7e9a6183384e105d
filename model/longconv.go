package model

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// longCausalConv computes y[b, t, c] = sum_{s<=t} h[t-s, c] z[b, s, c] for
// z [B, L, C] and h [L, C]: a depthwise convolution op where the backend
// runs one (kernelops.go), else a Toeplitz product. Both count the
// Toeplitz product's FLOPs: the cost model does not depend on the backend.
func (f *fwd) longCausalConv(z, h *graph.Node) *graph.Node {
	if useDepthwiseConv(z) {
		f.tokenFLOPs += 2 * int64(z.Shape().Dimensions[1]) * int64(z.Shape().Size())
		return depthwiseCausalConv(z, h)
	}
	return f.toeplitzConv(z, h)
}

// toeplitzConv is longCausalConv as a Toeplitz product: chunked where that
// moves less memory, else as one product.
func (f *fwd) toeplitzConv(z, h *graph.Node) *graph.Node {
	dims := z.Shape().Dimensions
	b, l := dims[0], dims[1]
	if k := longConvChunk(l, b); k > 0 {
		return f.toeplitzConvChunked(z, h, k)
	}
	if l > 128 {
		// A long sequence whose length no block size divides (a prompt
		// of any length): pad it with zeros to a multiple of 64, which
		// leaves the causal outputs at t < l unchanged, rather than
		// build the whole l*l*C Toeplitz matrix.
		l2 := (l + 63) / 64 * 64
		if k := longConvChunk(l2, b); k > 0 {
			hp := graph.Concatenate([]*graph.Node{h, graph.Zeros(z.Graph(), shapes.Make(h.DType(), l2-l, h.Shape().Dimensions[1]))}, 0)
			y := f.toeplitzConvChunked(padAxis1(z, l2), hp, k)
			return graph.SliceAxis(y, 1, graph.AxisRange(0, l))
		}
	}
	return f.toeplitzConvFull(z, h)
}

// longConvChunk picks the block size k of the chunked long convolution for
// sequence length l and batch b, or 0 where the whole Toeplitz matrix is
// better (short sequences). The chunked form materialises blocks of
// l*k*C and shifted inputs of l*(l/k)*b*C elements instead of the l*l*C
// Toeplitz matrix; k minimises their sum among the powers of two that
// divide l.
func longConvChunk(l, b int) int {
	if l < 128 {
		return 0
	}
	best, bestCost := 0, l*l // the full Toeplitz matrix, per channel
	for k := 16; k < l; k *= 2 {
		if l%k != 0 {
			continue
		}
		if cost := l*k + l*(l/k)*b; cost < bestCost {
			best, bestCost = k, cost
		}
	}
	return best
}

// toeplitzConvChunked computes the same causal long convolution as the
// Toeplitz product, y[b, t, c] = sum_{s<=t} h[t-s, c] z[b, s, c], on
// blocks of k positions: with t = I*k + i and s = (I-d)*k + j,
//
//	y[b, I, i, c] = sum_{d, j} T[d, i, j, c] * Z[I, d, j, b, c]
//
// where T[d, i, j] = h[d*k + i - j] (zero below 0) are the l/k distinct
// k x k blocks of the Toeplitz matrix and Z[I, d, j] = z[(I-d)*k + j]
// (zero for I < d) are the input chunks each output chunk sees. Both
// come from constant-index gathers (which have gradients); one einsum with
// the channel as batch axis does the rest. It does the Toeplitz product's
// FLOPs while moving a fraction of its memory.
func (f *fwd) toeplitzConvChunked(z, h *graph.Node, k int) *graph.Node {
	g := z.Graph()
	dims := z.Shape().Dimensions
	b, l, c := dims[0], dims[1], dims[2]
	n := l / k

	hz := graph.Concatenate([]*graph.Node{h, graph.Zeros(g, shapes.Make(h.DType(), 1, c))}, 0) // row l is zero
	blockIdx := make([]int32, n*k*k)
	for d := range n {
		for i := range k {
			for j := range k {
				t := d*k + i - j
				if t < 0 {
					t = l
				}
				blockIdx[(d*k+i)*k+j] = int32(t)
			}
		}
	}
	blocks := graph.Gather(hz, graph.Reshape(graph.ConstAsDType(g, dtypes.Int32, blockIdx), n, k, k, 1)) // [n, k, k, C]

	zt := graph.TransposeAllAxes(z, 1, 0, 2) // [L, B, C]
	zz := graph.Concatenate([]*graph.Node{zt, graph.Zeros(g, shapes.Make(z.DType(), 1, b, c))}, 0)
	shiftIdx := make([]int32, n*n*k)
	for o := range n {
		for d := range n {
			for j := range k {
				s := l
				if o >= d {
					s = (o-d)*k + j
				}
				shiftIdx[(o*n+d)*k+j] = int32(s)
			}
		}
	}
	shifted := graph.Gather(zz, graph.Reshape(graph.ConstAsDType(g, dtypes.Int32, shiftIdx), n, n, k, 1)) // [n, n, k, B, C]

	y := f.einsum("dijc,odjbc->boic", blocks, shifted)
	return graph.Reshape(y, b, l, c)
}
