package model

import (
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"
)

// initFn builds the initial value of a variable from the store's RNG.
type initFn func(store *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node

func initNormal(std float64) initFn {
	return func(store *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node {
		return graph.MulScalar(store.RandomNormal(g, s), std)
	}
}

// initUniform draws from U[lo, hi).
func initUniform(lo, hi float64) initFn {
	return func(store *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node {
		return graph.AddScalar(graph.MulScalar(store.RandomUniform(g, s), hi-lo), lo)
	}
}

func initConst(v float64) initFn {
	return func(_ *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node {
		return graph.AddScalar(graph.Zeros(g, s), v)
	}
}

// initKernel initialises a depthwise conv kernel of length k like a
// depthwise Conv1d: U[-1/sqrt(k), 1/sqrt(k)).
func initKernel(k int) initFn {
	b := 1 / math.Sqrt(float64(k))
	return initUniform(-b, b)
}

var (
	initOnes  = initConst(1)
	initZeros = initConst(0)
)

// dense multiplies the last axis of x by w [in, out] as one 2D matmul.
func (f *fwd) dense(x, w *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	in := dims[len(dims)-1]
	out := w.Shape().Dimensions[1]
	rows := x.Shape().Size() / in
	f.tokenFLOPs += 2 * int64(rows) * int64(in) * int64(out)
	y := graph.MatMul(graph.Reshape(x, rows, in), w)
	outDims := append(append([]int(nil), dims[:len(dims)-1]...), out)
	return graph.Reshape(y, outDims...)
}

// rmsNorm normalises the last axis of x: x / sqrt(mean(x^2) + eps) * scale.
// It uses Sqrt and Div (Rsqrt has no gradient in this GoMLX version).
func rmsNorm(x, scale *graph.Node) *graph.Node {
	ms := graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1)
	y := graph.Div(x, graph.Sqrt(graph.AddScalar(ms, NormEpsilon)))
	return graph.Mul(y, expandTo(scale, x.Rank()))
}

// expandTo prepends axes of size 1 to v until it has the given rank.
func expandTo(v *graph.Node, rank int) *graph.Node {
	for v.Rank() < rank {
		v = graph.InsertAxes(v, 0)
	}
	return v
}

func silu(x *graph.Node) *graph.Node { return graph.Mul(x, graph.Sigmoid(x)) }

// shiftRight delays x [B, L, ...] by n positions along axis 1, filling with
// zeros: a slice and a concatenation, both with gradients on every backend
// (padding ops have none on the CPU backend).
func shiftRight(x *graph.Node, n int) *graph.Node {
	dims := x.Shape().Dimensions
	l := dims[1]
	if n == 0 {
		return x
	}
	zdims := append([]int(nil), dims...)
	if n >= l {
		return graph.Zeros(x.Graph(), shapes.Make(x.DType(), zdims...))
	}
	zdims[1] = n
	zeros := graph.Zeros(x.Graph(), shapes.Make(x.DType(), zdims...))
	return graph.Concatenate([]*graph.Node{zeros, graph.Slice(x, graph.AxisRange(), graph.AxisRange(0, l-n))}, 1)
}

// causalConv applies a causal depthwise conv along axis 1 of x [B, L, C]
// with kernel [k, C]: y_t = sum_j kernel[j] * x_{t-j} (kernel row 0 weighs
// the current token). It counts 2*k FLOPs per channel and token, as
// arch.FLOPs does, though it is k elementwise multiply-adds.
func (f *fwd) causalConv(x, kernel *graph.Node) *graph.Node {
	k := kernel.Shape().Dimensions[0]
	f.tokenFLOPs += 2 * int64(k) * int64(x.Shape().Size())
	if useDepthwiseConv(x) {
		return depthwiseCausalConv(x, kernel)
	}
	return shiftedCausalConv(x, kernel)
}

// shiftedCausalConv is causalConv as k shifted copies of x weighted by the
// kernel rows (the form every backend can run and differentiate).
func shiftedCausalConv(x, kernel *graph.Node) *graph.Node {
	k := kernel.Shape().Dimensions[0]
	c := kernel.Shape().Dimensions[1]
	var y *graph.Node
	for j := range k {
		if j >= x.Shape().Dimensions[1] {
			break
		}
		tap := graph.Reshape(graph.Slice(kernel, graph.AxisRange(j, j+1), graph.AxisRange()), 1, 1, c)
		term := graph.Mul(shiftRight(x, j), tap)
		if y == nil {
			y = term
		} else {
			y = graph.Add(y, term)
		}
	}
	return y
}

// causalBias returns [L, L] of the model dtype: 0 where j <= i, masked
// elsewhere. It is computed from iotas rather than stored as a constant, so
// the graph handed to a compiler stays small at long contexts.
func causalBias(f *fwd, l int, masked float64) *graph.Node {
	future := graph.LogicalNot(lowerTriangle(f.g, l))
	return graph.MulScalar(graph.ConvertDType(future, f.dt), masked)
}

// lowerTriangle returns a boolean [L, L]: true where j <= i.
func lowerTriangle(g *graph.Graph, l int) *graph.Node {
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, l, l), 0)
	cols := graph.Iota(g, shapes.Make(dtypes.Int32, l, l), 1)
	return graph.GreaterOrEqual(rows, cols)
}

// causalMask returns [L, L] of the model dtype: 1 where j <= i, else 0.
func causalMask(g *graph.Graph, f *fwd, l int) *graph.Node {
	return graph.ConvertDType(lowerTriangle(g, l), f.dt)
}

// constF builds a constant of the model dtype from float64 values.
func constF(g *graph.Graph, f *fwd, values []float64, dims ...int) *graph.Node {
	return graph.Reshape(graph.ConstAsDType(g, f.dt, values), dims...)
}

// einsum is graph.Einsum that counts its FLOPs: 2 times the product of the
// sizes of every axis letter of the equation.
func (f *fwd) einsum(equation string, a, b *graph.Node) *graph.Node {
	f.tokenFLOPs += einsumFLOPs(equation, a, b)
	return graph.Einsum(equation, a, b)
}

// stepMatMul is a 2D matmul whose cost does not grow with the batch (the
// implicit filters); it is counted apart.
func (f *fwd) stepMatMul(a, b *graph.Node) *graph.Node {
	f.stepFLOPs += 2 * int64(a.Shape().Dimensions[0]) * int64(a.Shape().Dimensions[1]) * int64(b.Shape().Dimensions[1])
	return graph.MatMul(a, b)
}

func einsumFLOPs(equation string, a, b *graph.Node) int64 {
	inputs, _, _ := strings.Cut(equation, "->")
	sa, sb, _ := strings.Cut(inputs, ",")
	size := map[rune]int{}
	for i, r := range sa {
		size[r] = a.Shape().Dimensions[i]
	}
	for i, r := range sb {
		size[r] = b.Shape().Dimensions[i]
	}
	n := int64(2)
	for _, s := range size {
		n *= int64(s)
	}
	return n
}
