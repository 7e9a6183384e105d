// Fast path for ReduceSum (star-pipeline patch, see third_party/README.md):
// float32 and float64 sums over one contiguous block of axes, the form of
// every reduction a model makes (a softmax or norm over the last axis, a
// gradient summed over the batch and sequence axes), run as row loops
// instead of the generic per-element output iterator. Each output element
// still adds its operands in operand order, so results are bit-for-bit
// those of the generic path.

package ops

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeReduceSum, gobackend.PriorityTyped, execReduceSumFast)
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
		sumBlock(in, output.Flat.([]float32), outer, inner, trailing)
		return output, nil
	case []float64:
		output, err := backend.GetBuffer(node.Shape)
		if err != nil {
			return nil, err
		}
		sumBlock(in, output.Flat.([]float64), outer, inner, trailing)
		return output, nil
	}
	return execReduce(backend, node, inputs, inputsOwned)
}

// sumBlock sums in, viewed as [outer, inner, trailing], over its middle
// axis into out [outer, trailing].
func sumBlock[T float32 | float64](in, out []T, outer, inner, trailing int) {
	if trailing == 1 {
		for o := range outer {
			var s T
			for _, v := range in[o*inner : (o+1)*inner] {
				s += v
			}
			out[o] = s
		}
		return
	}
	for o := range outer {
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
