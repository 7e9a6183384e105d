package model

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// swiglu builds GMemless: down(silu(x gate) * x up).
func (u *unit) swiglu(x *graph.Node) *graph.Node {
	f := u.f
	d, hid := f.cfg.Width, f.cfg.FFNExpansion*f.cfg.Width
	gate := f.dense(x, u.featW("gate", initNormal(f.initStd()), d, hid))
	up := f.dense(x, u.featW("up", initNormal(f.initStd()), d, hid))
	return f.dense(graph.Mul(silu(gate), up), u.opW("down", initNormal(f.outStd()), hid, d))
}

// moe builds the routed mixture of SwiGLU experts: softmax router, top-k
// experts per token with weights renormalised over the chosen k. Every expert
// runs densely on every token and the unchosen ones get weight 0 (cheap at a
// handful of experts, and no dynamic shapes). It returns the output and the
// load-balancing loss E * sum_e f_e P_e times MoEAuxCoefficient.
func (u *unit) moe(x *graph.Node) (y, aux *graph.Node) {
	f := u.f
	d, e, k := f.cfg.Width, f.cfg.Experts, f.cfg.TopK
	hid := f.cfg.MoEExpansion * d
	nTok := f.batch * f.length

	router := u.featW("router", initNormal(f.initStd()), d, e)
	gate := u.featW("gate", initNormal(f.initStd()), e, d, hid)
	up := u.featW("up", initNormal(f.initStd()), e, d, hid)
	down := u.opW("down", initNormal(f.outStd()), e, hid, d)

	xs := graph.Reshape(x, nTok, d)
	// Routing (softmax, top-k, weights) and the auxiliary loss stay in the
	// variables' dtype; the experts run in the compute dtype.
	probs := graph.Softmax(f.wide(f.dense(xs, router)), -1) // [n, e]
	mask := topKMask(probs, k)                              // [n, e], 0/1, no gradient
	chosen := graph.Mul(probs, mask)
	weights := graph.Div(chosen, graph.ReduceAndKeep(chosen, graph.ReduceSum, -1))

	hg := f.einsum("nd,edh->neh", xs, gate)
	hu := f.einsum("nd,edh->neh", xs, up)
	hw := graph.Mul(graph.Mul(silu(hg), hu), graph.Reshape(f.narrow(weights), nTok, e, 1))
	y = graph.Reshape(f.einsum("neh,ehd->nd", hw, down), f.batch, f.length, d)

	frac := graph.DivScalar(graph.ReduceSum(mask, 0), float64(nTok*k)) // f_e
	meanP := graph.ReduceMean(probs, 0)                                // P_e
	aux = graph.MulScalar(graph.ReduceAllSum(graph.Mul(frac, meanP)), MoEAuxCoefficient*float64(e))
	return y, aux
}

// topKMask marks, per row of p [n, e], the k largest entries (earlier index
// first on ties) with 1 and the others with 0, using pairwise comparisons
// (no sort) under a stop-gradient.
func topKMask(p *graph.Node, k int) *graph.Node {
	p = graph.StopGradient(p)
	n, e := p.Shape().Dimensions[0], p.Shape().Dimensions[1]
	pi := graph.BroadcastToDims(graph.Reshape(p, n, e, 1), n, e, e) // p_i
	pj := graph.BroadcastToDims(graph.Reshape(p, n, 1, e), n, e, e) // p_j
	earlier := make([]bool, e*e)
	for i := range e {
		for j := range i {
			earlier[i*e+j] = true
		}
	}
	ahead := graph.Or(graph.GreaterThan(pj, pi),
		graph.And(graph.Equal(pj, pi), graph.BroadcastToDims(graph.Reshape(graph.Const(p.Graph(), earlier), 1, e, e), n, e, e)))
	rank := graph.ReduceSum(graph.ConvertDType(ahead, dtypes.Int32), -1) // entries ahead of i
	return graph.StopGradient(graph.ConvertDType(graph.LessThan(rank, graph.Scalar(p.Graph(), dtypes.Int32, k)), p.DType()))
}
