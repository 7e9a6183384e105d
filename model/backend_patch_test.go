package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// referenceTranspose permutes a row-major tensor: output axis i takes input
// axis perm[i].
func referenceTranspose[T any](in []T, dims, perm []int) []T {
	rank := len(dims)
	inStride := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		inStride[a] = s
		s *= dims[a]
	}
	outDims := make([]int, rank)
	for i, p := range perm {
		outDims[i] = dims[p]
	}
	out := make([]T, len(in))
	idx := make([]int, rank)
	for o := range out {
		src := 0
		for i, p := range perm {
			src += idx[i] * inStride[p]
		}
		out[o] = in[src]
		for a := rank - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < outDims[a] {
				break
			}
			idx[a] = 0
		}
	}
	return out
}

// checkTranspose runs TransposeAllAxes on the backend (plus, when alsoUse,
// a second use of the operand, so an identity transpose cannot take over
// its buffer) and compares with the reference.
func checkTranspose[T int32 | float32 | float64 | uint8](t *testing.T, rng *rand.Rand, dims, perm []int, alsoUse bool) {
	t.Helper()
	n := 1
	for _, d := range dims {
		n *= d
	}
	in := make([]T, n)
	for i := range in {
		in[i] = T(rng.IntN(100))
	}
	got := graph.MustExecOnceN(testBackend(t), func(x *graph.Node) []*graph.Node {
		y := graph.TransposeAllAxes(x, slices.Clone(perm)...)
		if alsoUse {
			return []*graph.Node{y, graph.Neg(x)}
		}
		return []*graph.Node{y}
	}, tensors.FromFlatDataAndDimensions(in, dims...))
	want := referenceTranspose(in, dims, perm)
	if g := tensors.MustCopyFlatData[T](got[0]); !slices.Equal(g, want) {
		t.Fatalf("dims %v perm %v: transpose differs from the reference", dims, perm)
	}
	if alsoUse {
		neg := tensors.MustCopyFlatData[T](got[1])
		for i, v := range in {
			if neg[i] != -v {
				t.Fatalf("dims %v perm %v: the operand changed under an identity transpose", dims, perm)
			}
		}
	}
}

// The CPU backend's transpose (third_party/compute: fast paths for
// identity, contiguous rows and tiled planes) against a reference, over
// random shapes with size-1 axes, sizes that are not multiples of the tile,
// every rank up to 5 and several dtypes (uint8 takes the generic path).
func TestBackendTransposeMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 5))
	sizes := []int{1, 2, 3, 5, 16, 17, 40}
	for trial := range 120 {
		rank := 1 + trial%5
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = sizes[rng.IntN(len(sizes))]
		}
		for n := 1; ; n = 1 { // keep tensors small
			for _, d := range dims {
				n *= d
			}
			if n <= 1<<16 {
				break
			}
			dims[rng.IntN(rank)] = 2
		}
		perm := rng.Perm(rank)
		if trial%7 == 0 {
			for i := range perm {
				perm[i] = i
			}
		}
		alsoUse := trial%2 == 0
		switch trial % 4 {
		case 0:
			checkTranspose[float32](t, rng, dims, perm, alsoUse)
		case 1:
			checkTranspose[float64](t, rng, dims, perm, alsoUse)
		case 2:
			checkTranspose[int32](t, rng, dims, perm, alsoUse)
		default:
			checkTranspose[uint8](t, rng, dims, perm, alsoUse)
		}
	}
	// Planes larger than a tile, with a batch axis on either side.
	for _, c := range []struct{ dims, perm []int }{
		{[]int{300, 77}, []int{1, 0}},
		{[]int{3, 65, 130}, []int{0, 2, 1}},
		{[]int{65, 3, 130}, []int{2, 1, 0}},
		{[]int{33, 40, 50}, []int{1, 2, 0}},
		{[]int{4, 33, 1, 18, 5}, []int{0, 3, 2, 1, 4}},
		// Large enough to be split over the workers: tiles of planes,
		// one large plane, and rows.
		{[]int{8, 8, 32, 8, 40}, []int{4, 0, 3, 1, 2}},
		{[]int{300, 417}, []int{1, 0}},
		{[]int{4, 70, 3, 130}, []int{0, 2, 1, 3}},
	} {
		checkTranspose[float32](t, rng, c.dims, c.perm, false)
	}
}

// The CPU backend's broadcasting float32 Add, Sub, Mul and Div
// (third_party/compute: row loops over the output for every broadcast
// form) against Go arithmetic, with the small operand on either side.
func TestBackendBroadcastBinaryMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	type opCase struct {
		name string
		fn   func(a, b *graph.Node) *graph.Node
		ref  func(a, b float32) float32
	}
	ops := []opCase{
		{"add", graph.Add, func(a, b float32) float32 { return a + b }},
		{"sub", graph.Sub, func(a, b float32) float32 { return a - b }},
		{"mul", graph.Mul, func(a, b float32) float32 { return a * b }},
		{"div", graph.Div, func(a, b float32) float32 { return a / b }},
	}
	out := []int{3, 5, 4}
	smalls := [][]int{{1, 1, 4}, {1, 5, 4}, {3, 1, 1}, {3, 5, 1}, {1, 5, 1}, {3, 1, 4}}
	values := func(dims []int) []float32 {
		return randomFloats(dims, func() float32 { return float32(rng.IntN(19)+1) / 4 }) // never 0: a divisor
	}
	at := func(v []float32, dims []int, i, j, k int) float32 {
		if dims[0] == 1 {
			i = 0
		}
		if dims[1] == 1 {
			j = 0
		}
		if dims[2] == 1 {
			k = 0
		}
		return v[(i*dims[1]+j)*dims[2]+k]
	}
	for _, op := range ops {
		for _, small := range smalls {
			for _, smallLeft := range []bool{false, true} {
				for _, alsoUse := range []bool{false, true} {
					full := values(out)
					sv := values(small)
					ldims, rdims, lv, rv := out, small, full, sv
					if smallLeft {
						ldims, rdims, lv, rv = small, out, sv, full
					}
					got := graph.MustExecOnceN(testBackend(t), func(a, b *graph.Node) []*graph.Node {
						y := op.fn(a, b)
						if alsoUse {
							return []*graph.Node{y, graph.Neg(a), graph.Neg(b)}
						}
						return []*graph.Node{y}
					}, tensors.FromFlatDataAndDimensions(lv, ldims...), tensors.FromFlatDataAndDimensions(rv, rdims...))
					y := tensors.MustCopyFlatData[float32](got[0])
					for i := range out[0] {
						for j := range out[1] {
							for k := range out[2] {
								want := op.ref(at(lv, ldims, i, j, k), at(rv, rdims, i, j, k))
								if g := y[(i*out[1]+j)*out[2]+k]; g != want {
									t.Fatalf("%s %v %v: [%d %d %d] = %v, want %v", op.name, ldims, rdims, i, j, k, g, want)
								}
							}
						}
					}
				}
			}
		}
	}
}

// The CPU backend's float32 Add, Sub, Mul and Div with both operands
// broadcast, on random shapes of rank 1 to 4, some large enough to be split
// over the backend's workers, against Go arithmetic bit for bit.
func TestBackendBinaryBothBroadcastMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 3))
	ops := []struct {
		fn  func(a, b *graph.Node) *graph.Node
		ref func(a, b float32) float32
	}{
		{graph.Add, func(a, b float32) float32 { return a + b }},
		{graph.Sub, func(a, b float32) float32 { return a - b }},
		{graph.Mul, func(a, b float32) float32 { return a * b }},
		{graph.Div, func(a, b float32) float32 { return a / b }},
	}
	for c := range 24 {
		rank := 1 + rng.IntN(4)
		out := make([]int, rank)
		for a := range out {
			out[a] = 1 + rng.IntN(9)
		}
		if c%4 == 0 {
			out[rng.IntN(rank)] = 70000 / 9 // over the split threshold
		}
		ldims, rdims := slices.Clone(out), slices.Clone(out)
		for a := range out {
			switch rng.IntN(3) {
			case 0:
				ldims[a] = 1
			case 1:
				rdims[a] = 1
			}
		}
		values := func(dims []int) []float32 {
			return randomFloats(dims, func() float32 { return float32(rng.NormFloat64()) + 3 }) // a divisor away from 0
		}
		lv, rv := values(ldims), values(rdims)
		// flat index into an operand of dims for the output's index idx.
		at := func(dims, idx []int) int {
			f := 0
			for a, d := range dims {
				f *= d
				if d > 1 {
					f += idx[a]
				}
			}
			return f
		}
		op := ops[c%len(ops)]
		got := graph.MustExecOnceN(testBackend(t), func(a, b *graph.Node) []*graph.Node {
			return []*graph.Node{op.fn(a, b)}
		}, tensors.FromFlatDataAndDimensions(lv, ldims...), tensors.FromFlatDataAndDimensions(rv, rdims...))
		y := tensors.MustCopyFlatData[float32](got[0])
		idx := make([]int, rank)
		for o := range y {
			want := op.ref(lv[at(ldims, idx)], rv[at(rdims, idx)])
			if math.Float32bits(y[o]) != math.Float32bits(want) {
				t.Fatalf("case %d %v %v: %v = %v, want %v", c, ldims, rdims, idx, y[o], want)
			}
			for a := rank - 1; a >= 0; a-- {
				idx[a]++
				if idx[a] < out[a] {
					break
				}
				idx[a] = 0
			}
		}
	}
}

// The CPU backend's Gather and ScatterSum of whole trailing slabs (the form
// of graph.Gather and its gradient; third_party/compute: one copy or add
// per index vector) against references: gathers with out-of-range indices
// (clamped), scatter-sums with repeated indices added in update order, bit
// for bit.
func TestBackendGatherScatterSumMatchesReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 40 {
		k := 1 + trial%2 // indexed leading axes
		rank := k + rng.IntN(3)
		dims := make([]int, rank)
		n := 1
		for i := range dims {
			dims[i] = 1 + rng.IntN(6)
			if i >= k && trial%8 == 0 {
				dims[i] = 64 + rng.IntN(200) // large enough to split over workers
			}
			n *= dims[i]
		}
		slab := 1
		for _, d := range dims[k:] {
			slab *= d
		}
		batch := []int{1 + rng.IntN(4), 1 + rng.IntN(5)}
		if trial%8 == 0 {
			batch = []int{4 + rng.IntN(4), 16 + rng.IntN(16)}
		}
		numIdx := batch[0] * batch[1]
		operand := make([]float32, n)
		for i := range operand {
			operand[i] = rng.Float32() - 0.5
		}
		updates := make([]float32, numIdx*slab)
		for i := range updates {
			updates[i] = rng.Float32() - 0.5
		}
		// Gather indices run two past either end; scatter indices stay in
		// range and repeat.
		gatherIdx := make([]int32, numIdx*k)
		scatterIdx := make([]int32, numIdx*k)
		for i := range gatherIdx {
			d := dims[i%k]
			gatherIdx[i] = int32(rng.IntN(d+4) - 2)
			scatterIdx[i] = int32(rng.IntN(min(d, 2)))
		}
		idxDims := []int{batch[0], batch[1], k}
		outDims := append(slices.Clone(batch), dims[k:]...)
		got := graph.MustExecOnceN(testBackend(t), func(x, gi, si, u *graph.Node) []*graph.Node {
			return []*graph.Node{graph.Gather(x, gi), graph.ScatterSum(x, si, u, false, false)}
		}, tensors.FromFlatDataAndDimensions(operand, dims...),
			tensors.FromFlatDataAndDimensions(gatherIdx, idxDims...),
			tensors.FromFlatDataAndDimensions(scatterIdx, idxDims...),
			tensors.FromFlatDataAndDimensions(updates, outDims...))
		slabStart := func(idx []int32, clamp bool) int {
			o := 0
			for a := range k {
				i := int(idx[a])
				if clamp {
					i = max(0, min(dims[a]-1, i))
				}
				o = o*dims[a] + i
			}
			return o * slab
		}
		wantGather := make([]float32, 0, numIdx*slab)
		wantScatter := slices.Clone(operand)
		for b := range numIdx {
			s := slabStart(gatherIdx[b*k:(b+1)*k], true)
			wantGather = append(wantGather, operand[s:s+slab]...)
			s = slabStart(scatterIdx[b*k:(b+1)*k], false)
			for j, v := range updates[b*slab : (b+1)*slab] {
				wantScatter[s+j] += v
			}
		}
		if g := tensors.MustCopyFlatData[float32](got[0]); !slices.Equal(g, wantGather) {
			t.Fatalf("Gather(%v, indices %v) differs from the reference", dims, idxDims)
		}
		if g := tensors.MustCopyFlatData[float32](got[1]); !slices.Equal(g, wantScatter) {
			t.Fatalf("ScatterSum(%v, indices %v) differs from the reference", dims, idxDims)
		}
	}
}
