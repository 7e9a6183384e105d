package model

import (
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	mlmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/star-pipeline/star-pipeline/genome"
)

// maskedLogDecay is added to the log decay of pairs j > i before the exp:
// their segment sums are finite and positive, far below this in magnitude,
// so the exp is exactly 0 and so is its gradient.
const maskedLogDecay = -1e30

// recurrence builds Rec-1/Rec-2, Mamba-2 style SSD in its quadratic
// (matmul) form:
//
//	y_i = sum_{j<=i} (C_i . B_j) exp(sum_{j<l<=i} a_l) dt_j u_j
//
// The running sum of a is a product with a constant lower-triangular
// matrix (no cumsum op); the segment sums are differences of running sums,
// pushed to -1e30 above the diagonal before the exp.
func (u *unit) recurrence(c *genome.Class, x *graph.Node) *graph.Node {
	f := u.f
	d, hd := f.cfg.Width, f.cfg.HeadDim
	h, n := d/hd, c.StateExpansion
	b, l := f.batch, f.length

	xu := graph.Reshape(f.dense(x, u.opW("x", initNormal(f.initStd()), d, d)), b, l, h, hd)
	z := f.dense(x, u.opW("z", initNormal(f.initStd()), d, d))
	bm := u.bIn
	if bm == nil {
		bm = f.dense(x, u.featW("b", initNormal(f.initStd()), d, n))
	}
	cm := u.cIn
	if cm == nil {
		cm = f.dense(x, u.featW("c", initNormal(f.initStd()), d, n))
	}
	u.bOut, u.cOut = bm, cm
	dtW := u.featW("dt", initNormal(f.initStd()), d, h)
	dtBias := u.featWide("dt_bias", initDtBias, h)
	aLog := u.featWide("a_log", initALog, h)

	// The step sizes, the scan of log decays and the decays stay in the
	// variables' dtype; the contractions around them run in the compute
	// dtype.
	dt := graph.Softplus(graph.Add(f.wide(f.dense(x, dtW)), graph.Reshape(dtBias, 1, 1, h))) // [b, l, h]
	a := graph.Mul(dt, graph.Reshape(graph.Neg(graph.Exp(aLog)), 1, 1, h))                   // log decay per step
	if f.dec != nil && f.dec.step {
		return f.dense(graph.Mul(f.recurrenceStep(u.key+"/state", xu, bm, cm, dt, a), silu(z)), u.opW("o", initNormal(f.outStd()), d, d))
	}
	tri := causalMask(f.g, f, l)           // tri[i, j] = 1 for j <= i
	cum := f.einsum("ij,bjh->bhi", tri, a) // inclusive running sum
	seg := graph.Sub(graph.Reshape(cum, b, h, l, 1), graph.Reshape(cum, b, h, 1, l))
	decay := graph.Exp(graph.Add(seg, graph.Reshape(causalBias(f, l, maskedLogDecay), 1, 1, l, l)))
	cb := f.einsum("bin,bjn->bij", cm, bm)                                   // [b, l, l]
	mix := f.narrow(graph.Mul(decay, graph.Reshape(f.wide(cb), b, 1, l, l))) // [b, h, l, l]
	xdt := f.narrow(graph.Mul(f.wide(xu), graph.Reshape(dt, b, l, h, 1)))    // [b, l, h, hd]
	f.recordState(u.key+"/state", cum, xdt, bm)
	y := graph.Reshape(f.einsum("bhij,bjhp->bihp", mix, xdt), b, l, d)
	return f.dense(graph.Mul(y, silu(z)), u.opW("o", initNormal(f.outStd()), d, d))
}

// initALog draws a_log = log(U[1, 16]).
func initALog(store *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node {
	return graph.Log(initUniform(1, 16)(store, g, s))
}

// initDtBias draws dt log-uniform in [1e-3, 1e-1] and returns softplus^-1(dt)
// = dt + log(-expm1(-dt)).
func initDtBias(store *mlmodel.Store, g *graph.Graph, s shapes.Shape) *graph.Node {
	dt := graph.Exp(initUniform(math.Log(1e-3), math.Log(1e-1))(store, g, s))
	return graph.Add(dt, graph.Log(graph.Neg(graph.Expm1(graph.Neg(dt)))))
}
