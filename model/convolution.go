package model

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// Implicit-filter decay rates are spread linearly over channels in
// [filterDecayMin, filterDecayMax].
const (
	filterDecayMin = 0.5
	filterDecayMax = 8.0
)

// gates returns v (op), B and C (featurizers, or the reused tensors).
func (u *unit) gates(x *graph.Node) (v, bm, cm *graph.Node) {
	f := u.f
	d := f.cfg.Width
	v = f.dense(x, u.opW("v", initNormal(f.initStd()), d, d))
	bm = u.bIn
	if bm == nil {
		bm = f.dense(x, u.featW("b", initNormal(f.initStd()), d, d))
	}
	cm = u.cIn
	if cm == nil {
		cm = f.dense(x, u.featW("c", initNormal(f.initStd()), d, d))
	}
	u.bOut, u.cOut = bm, cm
	return v, bm, cm
}

// shortConv builds GConv-1: s = causal depthwise conv_k(B * v),
// out = (C * s) Wo (the conv: causalConv).
func (u *unit) shortConv(x *graph.Node) *graph.Node {
	f := u.f
	d, k := f.cfg.Width, f.cfg.ShortKernel
	v, bm, cm := u.gates(x)
	s := f.conv(u.key+"/conv", graph.Mul(bm, v), u.featW("kernel", initKernel(k), k, d))
	return f.dense(graph.Mul(cm, s), u.opW("o", initNormal(f.outStd()), d, d))
}

// longConv builds GConv-2: the same gating around a long causal conv whose
// filter h_t = (sin(phi(t) W1 + b1) W2) * exp(-alpha_c t / L) is as long as
// the sequence. On the Go backend the conv is one depthwise convolution op
// (kernelops.go); elsewhere it is a matmul with the causal Toeplitz matrix
// of h, gathered from h with a constant index (gather has a gradient),
// from length 128 on run on blocks of the matrix (toeplitzConvChunked).
func (u *unit) longConv(x *graph.Node) *graph.Node {
	f := u.f
	d := f.cfg.Width
	v, bm, cm := u.gates(x)
	var s *graph.Node
	if f.dec != nil && f.dec.step {
		s = f.longConvStep(u.key+"/hist", graph.Mul(bm, v))
	} else {
		z := graph.Mul(bm, v)
		s = f.longCausalConv(z, f.narrow(u.implicitFilter()))
		f.recordHistory(u.key+"/hist", z)
	}
	return f.dense(graph.Mul(cm, s), u.opW("o", initNormal(f.outStd()), d, d))
}

// implicitFilter returns the filter [L, d] for the current sequence length,
// with positions normalised by the run's context length, in the variables'
// dtype (its cost does not grow with the batch).
func (u *unit) implicitFilter() *graph.Node {
	f := u.f
	d, p, hid := f.cfg.Width, f.cfg.FilterFeatures, f.cfg.FilterHidden
	l := f.length
	bound := 1 / math.Sqrt(float64(p))
	w1 := u.featWide("filter_w1", initUniform(-bound, bound), p, hid)
	b1 := u.featWide("filter_b1", initUniform(-bound, bound), hid)
	w2 := u.featWide("filter_w2", initNormal(f.outStd()), hid, d)

	phi := constF(f.g, f, filterFeatures(l, f.cfg.Context, p), l, p)
	hidden := graph.Sin(graph.Add(f.stepMatMul(phi, w1), graph.Reshape(b1, 1, hid)))
	return graph.Mul(f.stepMatMul(hidden, w2), constF(f.g, f, filterDecay(l, f.cfg.Context, d), l, d))
}

// filterFeatures returns phi [l, p] row-major: t/L, then sin and cos of
// 2*pi*k*t/L for k = 1..(p-1)/2.
func filterFeatures(l, context, p int) []float64 {
	out := make([]float64, l*p)
	for t := range l {
		pos := float64(t) / float64(context)
		row := out[t*p : (t+1)*p]
		row[0] = pos
		for k := 1; 2*k < p; k++ {
			a := 2 * math.Pi * float64(k) * pos
			row[2*k-1], row[2*k] = math.Sin(a), math.Cos(a)
		}
	}
	return out
}

// filterDecay returns exp(-alpha_c t/L) [l, d] row-major.
func filterDecay(l, context, d int) []float64 {
	out := make([]float64, l*d)
	for t := range l {
		for c := range d {
			alpha := filterDecayMin
			if d > 1 {
				alpha += (filterDecayMax - filterDecayMin) * float64(c) / float64(d-1)
			}
			out[t*d+c] = math.Exp(-alpha * float64(t) / float64(context))
		}
	}
	return out
}

// toeplitzConvFull computes y[b, t, c] = sum_{s<=t} h[t-s, c] z[b, s, c]
// for z [B, L, C] and h [L, C] as one product with the whole [L, L, C]
// Toeplitz matrix.
func (f *fwd) toeplitzConvFull(z, h *graph.Node) *graph.Node {
	g := z.Graph()
	l, c := h.Shape().Dimensions[0], h.Shape().Dimensions[1]
	hz := graph.Concatenate([]*graph.Node{h, graph.Zeros(g, shapes.Make(h.DType(), 1, c))}, 0) // row l is zero
	idx := make([]int32, l*l)
	for t := range l {
		for s := range l {
			if s <= t {
				idx[t*l+s] = int32(t - s)
			} else {
				idx[t*l+s] = int32(l)
			}
		}
	}
	ind := graph.Reshape(graph.ConstAsDType(g, dtypes.Int32, idx), l, l, 1)
	toeplitz := graph.Gather(hz, ind) // [L, L, C]
	return f.einsum("tsc,bsc->btc", toeplitz, z)
}
