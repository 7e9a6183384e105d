package model

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// dotOperand is one operand of a random DotGeneral: the role of each axis
// ('b' batch, 'k' contracting, 'c' cross) and its index within its role.
type dotOperand struct {
	dims  []int
	role  []byte
	index []int
}

// randomDotOperand lays out nb batch, nk contracting and nc cross axes: in
// one of the orders the CPU backend's matmuls read without a copy (batch
// leading, then contracting and cross in either order) when kept, else
// shuffled.
func randomDotOperand(rng *rand.Rand, batch, contract, cross []int, kept bool) dotOperand {
	var o dotOperand
	add := func(role byte, sizes []int) {
		for i, d := range sizes {
			o.dims, o.role, o.index = append(o.dims, d), append(o.role, role), append(o.index, i)
		}
	}
	add('b', batch)
	if rng.IntN(2) == 0 {
		add('k', contract)
		add('c', cross)
	} else {
		add('c', cross)
		add('k', contract)
	}
	if !kept {
		perm := rng.Perm(len(o.dims))
		p := dotOperand{}
		for _, a := range perm {
			p.dims, p.role, p.index = append(p.dims, o.dims[a]), append(p.role, o.role[a]), append(p.index, o.index[a])
		}
		o = p
	}
	return o
}

// axes returns the operand's axes of a role, ordered by index.
func (o dotOperand) axes(role byte, n int) []int {
	out := make([]int, n)
	for a, r := range o.role {
		if r == role {
			out[o.index[a]] = a
		}
	}
	return out
}

// referenceDot computes DotGeneral on row-major data: the output is
// [batch..., lhs cross (in lhs order)..., rhs cross (in rhs order)...].
func referenceDot(lhs, rhs dotOperand, lv, rv []float32, batch, contract []int) ([]float32, []int) {
	var outDims []int
	outDims = append(outDims, batch...)
	for a, r := range lhs.role {
		if r == 'c' {
			outDims = append(outDims, lhs.dims[a])
		}
	}
	for a, r := range rhs.role {
		if r == 'c' {
			outDims = append(outDims, rhs.dims[a])
		}
	}
	flat := func(o dotOperand, b, k, c []int) int {
		i, ci := 0, 0
		for a, r := range o.role {
			var v int
			switch r {
			case 'b':
				v = b[o.index[a]]
			case 'k':
				v = k[o.index[a]]
			default:
				v = c[ci]
				ci++
			}
			i = i*o.dims[a] + v
		}
		return i
	}
	n := 1
	for _, d := range outDims {
		n *= d
	}
	kn := 1
	for _, d := range contract {
		kn *= d
	}
	nlc := 0
	for _, r := range lhs.role {
		if r == 'c' {
			nlc++
		}
	}
	out := make([]float32, n)
	idx := make([]int, len(outDims))
	k := make([]int, len(contract))
	for o := range out {
		rem := o
		for a := len(outDims) - 1; a >= 0; a-- {
			idx[a] = rem % outDims[a]
			rem /= outDims[a]
		}
		b, lc, rc := idx[:len(batch)], idx[len(batch):len(batch)+nlc], idx[len(batch)+nlc:]
		var s float32
		for kk := range kn {
			rem := kk
			for a := len(contract) - 1; a >= 0; a-- {
				k[a] = rem % contract[a]
				rem /= contract[a]
			}
			s += lv[flat(lhs, b, k, lc)] * rv[flat(rhs, b, k, rc)]
		}
		out[o] = s
	}
	return out, outDims
}

// The CPU backend's DotGeneral (third_party/compute: with OpenBLAS, an
// operand whose axes are already in an order BLAS reads is not transposed)
// against a reference, over random axis roles and orders. Small integer
// values keep every sum exact, so the comparison is exact.
func TestBackendDotGeneralMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	sizes := []int{1, 2, 3, 5, 8}
	pick := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = sizes[rng.IntN(len(sizes))]
		}
		return s
	}
	for trial := range 200 {
		batch, contract := pick(rng.IntN(3)), pick(1+rng.IntN(2))
		lhs := randomDotOperand(rng, batch, contract, pick(rng.IntN(3)), trial%3 != 0)
		rhs := randomDotOperand(rng, batch, contract, pick(rng.IntN(3)), trial%3 != 1)
		values := func(o dotOperand) []float32 {
			return randomFloats(o.dims, func() float32 { return float32(rng.IntN(7) - 3) })
		}
		lv, rv := values(lhs), values(rhs)
		got := graph.MustExecOnce(testBackend(t), func(l, r *graph.Node) *graph.Node {
			return graph.DotGeneral(l, lhs.axes('k', len(contract)), lhs.axes('b', len(batch)),
				r, rhs.axes('k', len(contract)), rhs.axes('b', len(batch)))
		}, tensors.FromFlatDataAndDimensions(lv, lhs.dims...), tensors.FromFlatDataAndDimensions(rv, rhs.dims...))
		want, wantDims := referenceDot(lhs, rhs, lv, rv, batch, contract)
		if !slices.Equal(got.Shape().Dimensions, wantDims) {
			t.Fatalf("trial %d: lhs %v %s, rhs %v %s: shape %v, want %v", trial, lhs.dims, lhs.role, rhs.dims, rhs.role, got.Shape().Dimensions, wantDims)
		}
		if g := tensors.MustCopyFlatData[float32](got); !slices.Equal(g, want) {
			t.Fatalf("trial %d: lhs %v %s, rhs %v %s: product differs from the reference", trial, lhs.dims, lhs.role, rhs.dims, rhs.role)
		}
	}
}
