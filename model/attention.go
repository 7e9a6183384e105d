package model

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/star-pipeline/star-pipeline/genome"
)

// maskedLogit is the score given to future positions before the softmax.
const maskedLogit = -1e9

// attention builds SA-1..SA-4: C = queries, B = keys, both after rotary
// (and after SA-2's short convs); K/V heads are shared by KVRepeat
// consecutive query heads without materialising the repeat.
func (u *unit) attention(c *genome.Class, x *graph.Node) *graph.Node {
	f := u.f
	d, hd := f.cfg.Width, f.cfg.HeadDim
	h, r := d/hd, c.KVRepeat
	dkv, hkv := d/r, d/hd/r
	b, l := f.batch, f.length

	proj := func(name string, out int) *graph.Node {
		y := dense(x, u.featW(name, initNormal(InitStd), d, out))
		if c.QKVConv {
			k := f.cfg.ShortKernel
			y = causalDepthwiseConv(y, u.featW(name+"_conv", initKernel(k), k, out))
		}
		return y
	}
	cos, sin := rotaryTables(f, l, hd)

	q := u.cIn
	if q == nil {
		q = rotary(graph.Reshape(proj("q", d), b, l, h, hd), cos, sin)
	}
	keys := u.bIn
	if keys == nil {
		keys = rotary(graph.Reshape(proj("k", dkv), b, l, hkv, hd), cos, sin)
	}
	u.cOut, u.bOut = q, keys
	v := graph.Reshape(proj("v", dkv), b, l, hkv, hd)

	qg := graph.Reshape(q, b, l, hkv, r, hd)
	scores := graph.MulScalar(graph.Einsum("bqgrd,bkgd->bgrqk", qg, keys), 1/math.Sqrt(float64(hd)))
	mask := graph.Reshape(causalMask(f.g, f, l), 1, 1, 1, l, l)
	scores = graph.Add(graph.Mul(scores, mask), graph.MulScalar(graph.OneMinus(mask), maskedLogit))
	p := graph.Softmax(scores, -1)
	out := graph.Reshape(graph.Einsum("bgrqk,bkgd->bqgrd", p, v), b, l, d)
	return dense(out, u.opW("o", initNormal(f.outStd()), d, d))
}

// rotaryTables returns cos and sin of the rotary angles t*theta^(-2i/hd),
// shaped [1, L, 1, hd/2].
func rotaryTables(f *fwd, l, hd int) (cos, sin *graph.Node) {
	half := hd / 2
	cs := make([]float64, l*half)
	sn := make([]float64, l*half)
	for t := range l {
		for i := range half {
			a := float64(t) * math.Pow(RotaryTheta, -2*float64(i)/float64(hd))
			cs[t*half+i], sn[t*half+i] = math.Cos(a), math.Sin(a)
		}
	}
	return constF(f.g, f, cs, 1, l, 1, half), constF(f.g, f, sn, 1, l, 1, half)
}

// rotary rotates x [B, L, H, hd] by position, pairing channel i with
// channel i+hd/2 (the whole head is rotated).
func rotary(x, cos, sin *graph.Node) *graph.Node {
	hd := x.Shape().Dimensions[3]
	all := graph.AxisRange()
	x1 := graph.Slice(x, all, all, all, graph.AxisRange(0, hd/2))
	x2 := graph.Slice(x, all, all, all, graph.AxisRange(hd/2, hd))
	return graph.Concatenate([]*graph.Node{
		graph.Sub(graph.Mul(x1, cos), graph.Mul(x2, sin)),
		graph.Add(graph.Mul(x2, cos), graph.Mul(x1, sin)),
	}, 3)
}
