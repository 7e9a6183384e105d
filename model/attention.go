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

	// Weights in the contract's order: q, k, v, o, then the convs.
	w := map[string]*graph.Node{}
	if u.cIn == nil {
		w["q"] = u.featW("q", initNormal(f.initStd()), d, d)
	}
	if u.bIn == nil {
		w["k"] = u.featW("k", initNormal(f.initStd()), d, dkv)
	}
	w["v"] = u.featW("v", initNormal(f.initStd()), d, dkv)
	wo := u.opW("o", initNormal(f.outStd()), d, d)
	if c.QKVConv {
		k := f.cfg.ShortKernel
		for _, name := range []string{"q", "k", "v"} {
			if w[name] != nil {
				w[name+"_conv"] = u.featW(name+"_conv", initKernel(k), k, w[name].Shape().Dimensions[1])
			}
		}
	}
	proj := func(name string) *graph.Node {
		y := f.dense(x, w[name])
		if c.QKVConv {
			y = f.conv(u.key+"/"+name+"_conv", y, w[name+"_conv"])
		}
		return y
	}
	cos, sin := f.rotaryAt(l, hd)

	q := u.cIn
	if q == nil {
		q = rotary(graph.Reshape(proj("q"), b, l, h, hd), cos, sin)
	}
	keys := u.bIn
	if keys == nil {
		// A decoding step attends over the whole key cache with this
		// token's key written in; a prefill records the keys.
		keys = f.seqCache(u.key+"/k", rotary(graph.Reshape(proj("k"), b, l, hkv, hd), cos, sin))
	}
	u.cOut, u.bOut = q, keys
	v := f.seqCache(u.key+"/v", graph.Reshape(proj("v"), b, l, hkv, hd))

	qs := graph.MulScalar(q, 1/math.Sqrt(float64(hd)))
	// Future positions get maskedLogit added: their exp underflows to
	// exactly 0, so earlier positions do not depend on later tokens at all.
	// The softmax runs in the variables' dtype.
	bias := f.attentionBias(l) // [1, 1, l, 1, keys]
	var out *graph.Node
	if r == 1 {
		// One query head per key head: no group axis, so that the
		// probabilities feed the value product without a reshape (a copy,
		// as the gradient reads them too).
		bd := bias.Shape().Dimensions
		scores := graph.Add(f.wide(f.einsum("bqgd,bkgd->bgqk", qs, keys)), graph.Reshape(bias, bd[0], bd[1], bd[2], bd[4]))
		out = f.einsum("bgqk,bkgd->bqgd", f.narrow(softmax(scores)), v)
	} else {
		qg := graph.Reshape(qs, b, l, hkv, r, hd)
		scores := graph.Add(f.wide(f.einsum("bqgrd,bkgd->bgqrk", qg, keys)), bias)
		out = f.einsum("bgqrk,bkgd->bqgrd", f.narrow(softmax(scores)), v)
	}
	return f.dense(graph.Reshape(out, b, l, d), wo)
}

// rotaryTables returns the rotary tables for the angles
// a(t, i) = t*theta^(-2i/hd), i < hd/2, shaped [1, L, 1, hd]: cos holds
// cos(a) twice ([cos, cos]) and sin holds [-sin(a), sin(a)], so that
// rotary is two full-width products.
func rotaryTables(f *fwd, l, hd int) (cos, sin *graph.Node) {
	half := hd / 2
	cs := make([]float64, l*hd)
	sn := make([]float64, l*hd)
	for t := range l {
		for i := range half {
			a := float64(t) * math.Pow(RotaryTheta, -2*float64(i)/float64(hd))
			c, s := math.Cos(a), math.Sin(a)
			cs[t*hd+i], cs[t*hd+half+i] = c, c
			sn[t*hd+i], sn[t*hd+half+i] = -s, s
		}
	}
	return f.narrow(constF(f.g, f, cs, 1, l, 1, hd)), f.narrow(constF(f.g, f, sn, 1, l, 1, hd))
}

// rotary rotates x [B, L, H, hd] by position, pairing channel i with
// channel i+hd/2 (the whole head is rotated): with x1, x2 the halves,
// [x1 cos - x2 sin, x2 cos + x1 sin] = x*[cos, cos] + [x2, x1]*[-sin, sin].
// The halves are swapped by a product with a permutation matrix (exact:
// one term of each sum is nonzero), one matmul instead of the slices,
// pads and concatenations a swap costs forward and backward.
func rotary(x, cos, sin *graph.Node) *graph.Node {
	hd := x.Shape().Dimensions[3]
	half := hd / 2
	perm := make([]float64, hd*hd)
	for i := range half {
		perm[(i+half)*hd+i] = 1 // out[i] = x[i+half]
		perm[i*hd+i+half] = 1   // out[i+half] = x[i]
	}
	p := graph.Reshape(graph.ConstAsDType(x.Graph(), x.DType(), perm), hd, hd)
	swapped := graph.DotGeneral(x, []int{3}, nil, p, []int{0}, nil)
	return graph.Add(graph.Mul(x, cos), graph.Mul(swapped, sin))
}
