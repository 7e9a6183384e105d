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

	qg := graph.Reshape(graph.MulScalar(q, 1/math.Sqrt(float64(hd))), b, l, hkv, r, hd)
	scores := f.wide(f.einsum("bqgrd,bkgd->bgqrk", qg, keys)) // the softmax runs in the variables' dtype
	// Future positions get maskedLogit added: their exp underflows to
	// exactly 0, so earlier positions do not depend on later tokens at all.
	scores = graph.Add(scores, f.attentionBias(l))
	p := f.narrow(softmax(scores))
	out := graph.Reshape(f.einsum("bgqrk,bkgd->bqgrd", p, v), b, l, d)
	return f.dense(out, wo)
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
	return f.narrow(constF(f.g, f, cs, 1, l, 1, half)), f.narrow(constF(f.g, f, sn, 1, l, 1, half))
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
