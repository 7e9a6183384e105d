package model

import (
	"runtime"
	"sync"
	"weak"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Two computations run on the pure-Go backend as one op each, with
// gradients defined here rather than by differentiating a decomposition:
//
//   - the attention softmax is the backend's FusedSoftmax; its gradient is
//     p * (v - sum(v * p)) from the op's own output p (one product, one
//     sum, one fused pass), where the decomposition's gradient would run
//     the max, exp, sum and division again and differentiate each;
//   - depthwise causal convolutions (GConv-2's long conv, the short convs)
//     are ConvGeneral ops with one group per channel, channels last; their
//     input gradient is the same kind of convolution with the kernel
//     reversed, their kernel gradient a 2-D one of the same kind. The
//     backend runs these with a channel-vectorised kernel
//     (third_party/compute/internal/gobackend/ops/convgeneral_depthwise.go)
//     instead of materialising Toeplitz blocks and the transposes a
//     batched matmul over channels needs.
//
// Both are used on the Go backend only, and the depthwise convolution only
// in float32 and float64 (bfloat16 keeps the Toeplitz product, which runs
// its matmuls in bfloat16); other backends keep the decompositions.
//
// graph.VJPRegistration holds one gradient per op type, so the nodes built
// here are recorded (weakly: an entry does not keep its graph alive) and
// the registered gradients serve only them: any other ConvGeneral gets
// GoMLX's gradient, and a FusedSoftmax built elsewhere carries its own
// decomposition (graph.Softmax) or has no gradient.

// nodeTable maps graph nodes to what their gradient needs, without keeping
// the nodes alive.
type nodeTable[T any] struct{ m sync.Map }

func (t *nodeTable[T]) put(n *graph.Node, v T) {
	key := weak.Make(n)
	t.m.Store(key, v)
	runtime.AddCleanup(n, func(k weak.Pointer[graph.Node]) { t.m.Delete(k) }, key)
}

func (t *nodeTable[T]) get(n *graph.Node) (T, bool) {
	v, ok := t.m.Load(weak.Make(n))
	if !ok {
		var zero T
		return zero, false
	}
	return v.(T), true
}

var (
	softmaxNodes nodeTable[struct{}]
	dwConvNodes  nodeTable[dwConvPads]
)

// dwConvPads is the (low, high) zero padding of a depthwise convolution's
// one spatial axis.
type dwConvPads struct{ low, high int }

func init() {
	convVJP := graph.VJPRegistration[graph.NodeTypeConvGeneral]
	graph.VJPRegistration[graph.NodeTypeConvGeneral] = func(node *graph.Node, v []*graph.Node, s shapes.Shape) []*graph.Node {
		if pads, ok := dwConvNodes.get(node); ok {
			return depthwiseConvVJP(node, v[0], pads)
		}
		return convVJP(node, v, s)
	}
	graph.VJPRegistration[graph.NodeTypeFusedSoftmax] = func(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
		if _, ok := softmaxNodes.get(node); !ok {
			exceptions.Panicf("model: no gradient for a FusedSoftmax not built by the model's softmax: %s", node)
		}
		p, dy := node, v[0]
		return []*graph.Node{graph.Mul(p, graph.Sub(dy, graph.ReduceAndKeep(graph.Mul(dy, p), graph.ReduceSum, -1)))}
	}
}

// onGoBackend reports whether g is built for the pure-Go backend.
func onGoBackend(g *graph.Graph) bool {
	return g.Backend() != nil && g.Backend().String() == gobackend.BackendName
}

// softmax over the last axis. On the Go backend it is one FusedSoftmax op
// with the gradient above; elsewhere it is written out (graph.Softmax would
// build the decomposition besides the fused op, for its gradient).
func softmax(x *graph.Node) *graph.Node {
	if onGoBackend(x.Graph()) {
		p := graph.BackendFusedSoftmax(x, x.Rank()-1)
		softmaxNodes.put(p, struct{}{})
		return p
	}
	return decomposedSoftmax(x)
}

// decomposedSoftmax is the softmax over the last axis written out.
func decomposedSoftmax(x *graph.Node) *graph.Node {
	e := graph.Exp(graph.Sub(x, graph.StopGradient(graph.ReduceAndKeep(x, graph.ReduceMax, -1))))
	return graph.Div(e, graph.ReduceAndKeep(e, graph.ReduceSum, -1))
}

// useDepthwiseConv reports whether causal convolutions of x run as
// depthwise ConvGeneral ops (see the top of this file).
func useDepthwiseConv(x *graph.Node) bool {
	dt := x.DType()
	return (dt == dtypes.Float32 || dt == dtypes.Float64) && onGoBackend(x.Graph())
}

// depthwiseCausalConv returns y[b, t, c] = sum_{j <= t, j < K} h[j, c]
// x[b, t-j, c] for x [B, L, C] and h [K, C]: a depthwise convolution
// (correlation) with the reversed filter and K-1 zeros of padding in front.
// Gradients reach x and h.
func depthwiseCausalConv(x, h *graph.Node) *graph.Node {
	k := h.Shape().Dimensions[0]
	return depthwiseConv(x, reverseRows(h), k-1, 0)
}

// reverseRows returns h with its rows (axis 0) in reverse order, as a
// gather with a constant index: GoMLX defines no gradient for Reverse.
func reverseRows(h *graph.Node) *graph.Node {
	k := h.Shape().Dimensions[0]
	idx := make([]int32, k)
	for i := range idx {
		idx[i] = int32(k - 1 - i)
	}
	return graph.Gather(h, graph.Reshape(graph.ConstAsDType(h.Graph(), dtypes.Int32, idx), k, 1))
}

// depthwiseConv returns y[b, t, c] = sum_k x[b, t+k-low, c] w[k, c] for x
// [B, L, C] and w [K, C], x taken as zero outside [0, L); y has
// L + low + high - K + 1 positions. low and high are at most K-1.
func depthwiseConv(x, w *graph.Node, low, high int) *graph.Node {
	k, c := w.Shape().Dimensions[0], w.Shape().Dimensions[1]
	if low < 0 || high < 0 || low > k-1 || high > k-1 {
		exceptions.Panicf("model: depthwise conv padding (%d, %d) outside [0, %d]", low, high, k-1)
	}
	y := graph.ConvGeneral(x, graph.Reshape(w, k, 1, c), channelsLast(1), nil, [][2]int{{low, high}}, nil, nil, c, 1)
	dwConvNodes.put(y, dwConvPads{low, high})
	return y
}

// channelsLast is the axes of a convolution with batch first, then the
// spatial axes, then the channels, for input, kernel ([spatial..., in,
// out]) and output.
func channelsLast(spatial int) compute.ConvolveAxesConfig {
	axes := make([]int, spatial)
	for i := range axes {
		axes[i] = i + 1
	}
	kernel := make([]int, spatial)
	for i := range kernel {
		kernel[i] = i
	}
	return compute.ConvolveAxesConfig{
		InputBatch: 0, InputChannels: spatial + 1, InputSpatial: axes,
		KernelSpatial: kernel, KernelInputChannels: spatial, KernelOutputChannels: spatial + 1,
		OutputBatch: 0, OutputChannels: spatial + 1, OutputSpatial: axes,
	}
}

// depthwiseConvVJP returns the gradients of y = depthwiseConv(x, w, low,
// high) for the adjoint v of y [B, Lo, C]:
//
//	dx[b, s, c] = sum_j v[b, s+j-(K-1-low), c] w[K-1-j, c]
//	            (depthwiseConv(v, reversed w, K-1-low, K-1-high))
//	dw[k, c]    = sum_{b, t} v[b, t, c] x[b, t+k-low, c]
//	            (a 2-D depthwise convolution of x [1, B, L, C], padded
//	             (low, high) along L, with v [B, Lo] as its kernel)
func depthwiseConvVJP(node, v *graph.Node, pads dwConvPads) []*graph.Node {
	x, w := node.Inputs()[0], node.Inputs()[1] // w is [K, 1, C]
	k, c := w.Shape().Dimensions[0], w.Shape().Dimensions[2]
	b, l := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	lo := v.Shape().Dimensions[1]

	dx := graph.ConvGeneral(v, graph.Reverse(w, 0), channelsLast(1), nil,
		[][2]int{{k - 1 - pads.low, k - 1 - pads.high}}, nil, nil, c, 1)
	dw := graph.ConvGeneral(graph.Reshape(x, 1, b, l, c), graph.Reshape(v, b, lo, 1, c), channelsLast(2), nil,
		[][2]int{{0, 0}, {pads.low, pads.high}}, nil, nil, c, 1)
	return []*graph.Node{dx, graph.Reshape(dw, k, 1, c)}
}
