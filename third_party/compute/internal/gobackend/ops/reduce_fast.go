// Fast paths for ReduceSum and ReduceMax (star-pipeline patch, see
// third_party/README.md): float32 and float64 reductions over one
// contiguous block of axes, the form of every reduction a model makes (a
// softmax or norm over the last axis, a gradient summed over the batch and
// sequence axes), run as row loops instead of the generic per-element
// output iterator, the outer rows of large ones split over the backend's
// workers. Each output element still combines its operands in operand
// order, so results are bit-for-bit those of the generic path at any
// parallelism.

package ops

import (
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeReduceSum, gobackend.PriorityTyped, execReduceSumFast)
	gobackend.SetNodeExecutor(compute.OpTypeReduceMax, gobackend.PriorityTyped, execReduceMaxFast)
}

// reduceBlock splits dims around reduce axes that form one contiguous
// block: outer (before), inner (the block), trailing (after). ok is false
// when the axes are not one block.
func reduceBlock(dims, axes []int) (outer, inner, trailing int, ok bool) {
	if len(axes) == 0 {
		return 0, 0, 0, false
	}
	sorted := slices.Sorted(slices.Values(axes))
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1]+1 {
			return 0, 0, 0, false
		}
	}
	first, last := sorted[0], sorted[len(sorted)-1]
	outer, inner, trailing = 1, 1, 1
	for a, d := range dims {
		switch {
		case a < first:
			outer *= d
		case a <= last:
			inner *= d
		default:
			trailing *= d
		}
	}
	return outer, inner, trailing, true
}

func execReduceSumFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	return execReduceBlock(backend, node, inputs, inputsOwned, sumBlock[float32], sumBlock[float64])
}

func execReduceMaxFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	return execReduceBlock(backend, node, inputs, inputsOwned, maxBlock[float32], maxBlock[float64])
}

// execReduceBlock runs a reduction over one contiguous block of axes of a
// float32 or float64 operand with the block function of its dtype, which
// reduces rows [lo, hi) of in viewed as [outer, inner, trailing]; every
// other case takes the generic executor.
func execReduceBlock(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool,
	block32 func(in, out []float32, lo, hi, inner, trailing int), block64 func(in, out []float64, lo, hi, inner, trailing int)) (*gobackend.Buffer, error) {
	operand := inputs[0]
	axes, _ := node.Data.([]int)
	if node.Shape.IsDynamic() || operand.RawShape.IsDynamic() {
		return execReduce(backend, node, inputs, inputsOwned)
	}
	outer, inner, trailing, ok := reduceBlock(operand.RawShape.Dimensions, axes)
	if !ok {
		return execReduce(backend, node, inputs, inputsOwned)
	}
	switch in := operand.Flat.(type) {
	case []float32:
		output, err := backend.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		out := output.Flat.([]float32)
		parallelRows(backend, outer, inner*trailing, func(lo, hi int) { block32(in, out, lo, hi, inner, trailing) })
		return output, nil
	case []float64:
		output, err := backend.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		out := output.Flat.([]float64)
		parallelRows(backend, outer, inner*trailing, func(lo, hi int) { block64(in, out, lo, hi, inner, trailing) })
		return output, nil
	}
	return execReduce(backend, node, inputs, inputsOwned)
}

// parallelMinWork is the least work (elements) a chunk of parallelRows is
// worth.
const parallelMinWork = 1 << 15

// parallelRows calls fn over [0, n) in chunks of rows of rowWork elements
// each, on the backend's workers (gobackend.ParallelChunks) when the whole is large.
// The chunks depend on n and rowWork alone.
func parallelRows(backend *gobackend.Backend, n, rowWork int, fn func(lo, hi int)) {
	per := max(1, parallelMinWork/max(1, rowWork))
	if n <= per {
		fn(0, n)
		return
	}
	gobackend.ParallelChunks(backend, (n+per-1)/per, func(c int) {
		lo := c * per
		fn(lo, min(lo+per, n))
	})
}

// sumBlock sums rows [lo, hi) of in, viewed as [outer, inner, trailing],
// over its middle axis into out [outer, trailing].
func sumBlock[T float32 | float64](in, out []T, lo, hi, inner, trailing int) {
	if trailing == 1 {
		for o := lo; o < hi; o++ {
			var s T
			for _, v := range in[o*inner : (o+1)*inner] {
				s += v
			}
			out[o] = s
		}
		return
	}
	for o := lo; o < hi; o++ {
		acc := out[o*trailing : (o+1)*trailing]
		clear(acc)
		for r := range inner {
			row := in[(o*inner+r)*trailing : (o*inner+r+1)*trailing]
			for j, v := range row {
				acc[j] += v
			}
		}
	}
}

// maxBlock is sumBlock for the maximum, starting from -Inf and taking Go's
// max (NaN wins) in operand order, as the generic executor does.
func maxBlock[T float32 | float64](in, out []T, lo, hi, inner, trailing int) {
	lowest := T(math.Inf(-1))
	if trailing == 1 {
		for o := lo; o < hi; o++ {
			m := lowest
			for _, v := range in[o*inner : (o+1)*inner] {
				m = max(m, v)
			}
			out[o] = m
		}
		return
	}
	for o := lo; o < hi; o++ {
		acc := out[o*trailing : (o+1)*trailing]
		for j := range acc {
			acc[j] = lowest
		}
		for r := range inner {
			row := in[(o*inner+r)*trailing : (o*inner+r+1)*trailing]
			for j, v := range row {
				acc[j] = max(acc[j], v)
			}
		}
	}
}
