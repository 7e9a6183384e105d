// Fast paths for Transpose (star-pipeline patch, see third_party/README.md).

package ops

import (
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
)

// transposeTile is the side of the square tiles a 2-D plane is copied in;
// 16 measured fastest among 4 to 64 on the trainer's planes.
const transposeTile = 16

// transposePlan is a transpose reduced to its simplest equivalent form:
// axes of size 1 dropped and runs of input axes that stay adjacent and in
// order in the output merged into one axis.
type transposePlan struct {
	dims []int // input dimensions after reduction
	perm []int // output axis i takes input axis perm[i]
}

func isIdentityPerm(perm []int) bool {
	for i, p := range perm {
		if i != p {
			return false
		}
	}
	return true
}

// reduceTranspose builds the reduced plan of transposing an operand of the
// given dimensions by perm.
func reduceTranspose(dims, perm []int) transposePlan {
	// Drop size-1 axes, renumbering the remaining input axes.
	newIndex := make([]int, len(dims))
	kept := 0
	for axis, d := range dims {
		if d == 1 {
			newIndex[axis] = -1
			continue
		}
		newIndex[axis] = kept
		kept++
	}
	var sq []int
	var sqDims []int
	for _, d := range dims {
		if d != 1 {
			sqDims = append(sqDims, d)
		}
	}
	for _, p := range perm {
		if newIndex[p] >= 0 {
			sq = append(sq, newIndex[p])
		}
	}
	if len(sq) == 0 {
		return transposePlan{}
	}
	// Merge output-adjacent axes that are input-adjacent and in order.
	// groups[i] lists the input axes of merged output axis i.
	var groups [][]int
	for i, p := range sq {
		if i > 0 {
			last := groups[len(groups)-1]
			if last[len(last)-1]+1 == p {
				groups[len(groups)-1] = append(last, p)
				continue
			}
		}
		groups = append(groups, []int{p})
	}
	// Order the groups by their first input axis to number the merged
	// input axes.
	order := make([]int, len(groups)) // order[k] = group index of merged input axis k
	for i := range groups {
		order[i] = i
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && groups[order[j]][0] < groups[order[j-1]][0]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	plan := transposePlan{dims: make([]int, len(groups)), perm: make([]int, len(groups))}
	for k, gi := range order {
		size := 1
		for _, a := range groups[gi] {
			size *= sqDims[a]
		}
		plan.dims[k] = size
		plan.perm[gi] = k
	}
	return plan
}

// transposeFast copies operand into output permuted by perm and reports
// whether it handled the case (every dtype the generic path handles).
func transposeFast(backend *gobackend.Backend, operand, output *gobackend.Buffer, perm []int) bool {
	plan := reduceTranspose(operand.RawShape.Dimensions, perm)
	switch in := operand.Flat.(type) {
	case []float32:
		transposeTyped(backend, in, output.Flat.([]float32), plan)
	case []float64:
		transposeTyped(backend, in, output.Flat.([]float64), plan)
	case []int32:
		transposeTyped(backend, in, output.Flat.([]int32), plan)
	case []int64:
		transposeTyped(backend, in, output.Flat.([]int64), plan)
	case []bfloat16.BFloat16:
		transposeTyped(backend, in, output.Flat.([]bfloat16.BFloat16), plan)
	case []float16.Float16:
		transposeTyped(backend, in, output.Flat.([]float16.Float16), plan)
	default:
		return false
	}
	return true
}

// transposeParallelMin is the least number of elements a transpose is
// split over the backend's workers for; transposeChunk the elements of a
// chunk, about.
const (
	transposeParallelMin = 1 << 16
	transposeChunk       = 1 << 14
)

func transposeTyped[T any](backend *gobackend.Backend, in, out []T, plan transposePlan) {
	rank := len(plan.dims)
	if rank <= 1 || isIdentityPerm(plan.perm) {
		copy(out, in)
		return
	}
	// Input strides.
	inStride := make([]int, rank)
	s := 1
	for a := rank - 1; a >= 0; a-- {
		inStride[a] = s
		s *= plan.dims[a]
	}
	outDims := make([]int, rank)
	for i, p := range plan.perm {
		outDims[i] = plan.dims[p]
	}
	last := rank - 1
	if plan.perm[last] == last {
		// The innermost input axis stays innermost: copy contiguous rows.
		row := plan.dims[last]
		outerDims := outDims[:last]
		outerStrides := make([]int, last)
		for i := range last {
			outerStrides[i] = inStride[plan.perm[i]]
		}
		rowStrides := make([]int, last) // of the output rows, row-major
		n := row
		for i := last - 1; i >= 0; i-- {
			rowStrides[i] = n
			n *= outerDims[i]
		}
		forEachIndexSplit(backend, outerDims, outerStrides, rowStrides, row, func(src, dst, _ int) {
			copy(out[dst:dst+row], in[src:src+row])
		})
		return
	}
	// General case: a batch of 2-D planes. The output's innermost axis is
	// input axis q (stride inStride[q] in the input); the input's innermost
	// axis lands on output axis a (stride outStride[a] in the output).
	q := plan.perm[last]
	a := 0
	for i, p := range plan.perm {
		if p == last {
			a = i
		}
	}
	outStride := make([]int, rank)
	s = 1
	for i := rank - 1; i >= 0; i-- {
		outStride[i] = s
		s *= outDims[i]
	}
	rows, cols := plan.dims[q], plan.dims[last] // plane: output [.. cols(at a) .. rows(last)]
	rowInStride := inStride[q]
	colOutStride := outStride[a]
	// Batch axes: every output axis other than a and last.
	var batchDims, batchIn, batchOut []int
	for i := range rank {
		if i == a || i == last {
			continue
		}
		batchDims = append(batchDims, outDims[i])
		batchIn = append(batchIn, inStride[plan.perm[i]])
		batchOut = append(batchOut, outStride[i])
	}
	// Each column tile of each plane is one task (the last index below),
	// so that few large planes split over the workers too.
	colTiles := (cols + transposeTile - 1) / transposeTile
	batchDims = append(batchDims, colTiles)
	batchIn = append(batchIn, transposeTile)
	batchOut = append(batchOut, transposeTile*colOutStride)
	forEachIndexSplit(backend, batchDims, batchIn, batchOut, rows*transposeTile, func(srcBase, dstBase, tile int) {
		// srcBase and dstBase are at column c0 of their plane.
		c0 := tile * transposeTile
		n := min(transposeTile, cols-c0)
		for r0 := 0; r0 < rows; r0 += transposeTile {
			r1 := min(r0+transposeTile, rows)
			for c := range n {
				dst := out[dstBase+c*colOutStride+r0 : dstBase+c*colOutStride+r1]
				src := srcBase + r0*rowInStride + c
				for i := range dst {
					dst[i] = in[src]
					src += rowInStride
				}
			}
		}
	})
}

// forEachIndexSplit calls fn(input offset, output offset, last index) for
// every index of dims, each offset being the sum of index*stride; with
// work elements per index, a large whole is cut into fixed ranges of
// indices run over the backend's workers (gobackend.ParallelChunks).
func forEachIndexSplit(backend *gobackend.Backend, dims, inStrides, outStrides []int, work int, fn func(src, dst, last int)) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	if n*work < transposeParallelMin || n == 1 {
		forEachIndexRange(dims, inStrides, outStrides, 0, n, fn)
		return
	}
	per := max(1, transposeChunk/max(1, work))
	gobackend.ParallelChunks(backend, (n+per-1)/per, func(c int) {
		forEachIndexRange(dims, inStrides, outStrides, c*per, min((c+1)*per, n), fn)
	})
}

// forEachIndexRange calls fn for the indices [lo, hi) of dims in row-major
// order.
func forEachIndexRange(dims, inStrides, outStrides []int, lo, hi int, fn func(src, dst, last int)) {
	rank := len(dims)
	if rank == 0 {
		if lo < hi {
			fn(0, 0, 0)
		}
		return
	}
	idx := make([]int, rank)
	src, dst, rem := 0, 0, lo
	for a := rank - 1; a >= 0; a-- {
		idx[a] = rem % dims[a]
		rem /= dims[a]
		src += idx[a] * inStrides[a]
		dst += idx[a] * outStrides[a]
	}
	for range hi - lo {
		fn(src, dst, idx[rank-1])
		for a := rank - 1; a >= 0; a-- {
			idx[a]++
			src += inStrides[a]
			dst += outStrides[a]
			if idx[a] < dims[a] {
				break
			}
			src -= inStrides[a] * dims[a]
			dst -= outStrides[a] * dims[a]
			idx[a] = 0
		}
	}
}
