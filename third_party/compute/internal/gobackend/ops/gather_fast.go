// Fast path for Gather (star-pipeline patch, see third_party/README.md):
// when every index vector selects one contiguous slab of the operand (the
// indexed axes lead, the slice covers whole trailing axes) and the slab
// lands contiguously in the output, the gather is one copy per index
// vector instead of the generic executor's element-by-element loop. Any
// dtype of whole bytes takes it; start indices are clamped exactly as in
// gather.go. Every other case keeps the generic executor.

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/sets"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeGather, gobackend.PriorityTyped, execGatherFast)
}

const (
	// slabParallelMinBytes is the smallest total of bytes moved that is
	// split over the backend's workers; below it one goroutine is faster.
	slabParallelMinBytes = 256 << 10
	// slabCopyChunkBytes is the size of the units a parallel copy is cut in.
	slabCopyChunkBytes = 64 << 10
)

// slabMove is one slab's byte offset in the source and in the destination.
type slabMove struct{ src, dst int }

// gatherSlabBytes returns the size in bytes of the slab each index vector
// of a gather selects, and ok=false when the slab is not one contiguous run
// of the operand, or not one contiguous run of the output, or the case is
// one the fast path leaves to the generic executor (dynamic or empty
// shapes, sub-byte dtypes).
func gatherSlabBytes(operandShape, indicesShape, outputShape shapes.Shape, params *gatherNode) (slabBytes int, ok bool) {
	if operandShape.IsDynamic() || indicesShape.IsDynamic() || outputShape.IsDynamic() {
		return 0, false
	}
	if operandShape.Size() == 0 || indicesShape.Size() == 0 || outputShape.Size() == 0 {
		return 0, false
	}
	dtype := operandShape.DType
	if dtype.IsPacked() || dtype.Bits()%8 != 0 || dtype.Size() == 0 || outputShape.DType != dtype {
		return 0, false
	}
	rank := operandShape.Rank()
	if len(params.sliceSizes) != rank || len(params.startIndexMap) == 0 {
		return 0, false
	}
	dims := operandShape.Dimensions
	sizes := params.sliceSizes
	// The slab is contiguous in the operand when every axis after the
	// first one sliced wider than 1 is taken whole.
	first := rank
	for axis, s := range sizes {
		if s > 1 {
			first = axis
			break
		}
	}
	for axis := first + 1; axis < rank; axis++ {
		if sizes[axis] != dims[axis] {
			return 0, false
		}
	}
	dataSize := dtype.Size()
	operandStrides := make([]int, rank)
	stride := dataSize
	for axis := rank - 1; axis >= 0; axis-- {
		operandStrides[axis] = stride
		stride *= dims[axis]
	}
	// It lands contiguously in the output when each sliced axis wider than
	// 1 steps through the output with the stride it has in the operand
	// (the mapping of gather.go's execGather).
	outputStrides := make([]int, outputShape.Rank())
	stride = dataSize
	for axis := outputShape.Rank() - 1; axis >= 0; axis-- {
		outputStrides[axis] = stride
		stride *= outputShape.Dimensions[axis]
	}
	collapsed := sets.MakeWith(params.collapsedSlicesAxes...)
	offsetIdx := 0
	for axis := range rank {
		if collapsed.Has(axis) {
			continue
		}
		if offsetIdx >= len(params.offsetOutputAxes) {
			return 0, false
		}
		outAxis := params.offsetOutputAxes[offsetIdx]
		offsetIdx++
		if sizes[axis] > 1 && outputStrides[outAxis] != operandStrides[axis] {
			return 0, false
		}
	}
	slabBytes = dataSize
	for _, s := range sizes {
		slabBytes *= s
	}
	return slabBytes, true
}

// gatherSlabMoves lists, in the generic executor's order, where each index
// vector's slab starts in the operand and in the output, with the start
// indices clamped to [0, dim-sliceSize] as gather.go does.
func gatherSlabMoves(operandShape shapes.Shape, startIndices *gobackend.Buffer, outputShape shapes.Shape, params *gatherNode) ([]slabMove, error) {
	derefAny, err := dereferenceIntsDTypeMap.Get(startIndices.RawShape.DType)
	if err != nil {
		return nil, err
	}
	deref := derefAny.(func(flat any, in, out []int))
	rank := operandShape.Rank()
	dims := operandShape.Dimensions
	operandStrides := make([]int, rank)
	stride := operandShape.DType.Size()
	for axis := rank - 1; axis >= 0; axis-- {
		operandStrides[axis] = stride
		stride *= dims[axis]
	}
	it := newGatherIterator(startIndices.RawShape, params.indexVectorAxis, outputShape, params.offsetOutputAxes)
	indirect := make([]int, len(params.startIndexMap))
	values := make([]int, len(params.startIndexMap))
	starts := make([]int, rank)
	var moves []slabMove
	var dst int
	for it.Next(indirect, &dst) {
		deref(startIndices.Flat, indirect, values)
		for i, axis := range params.startIndexMap {
			maxIdx := max(0, dims[axis]-params.sliceSizes[axis])
			starts[axis] = max(0, min(maxIdx, values[i]))
		}
		src := 0
		for axis, idx := range starts {
			src += operandStrides[axis] * idx
		}
		moves = append(moves, slabMove{src: src, dst: dst})
	}
	return moves, nil
}

func execGatherFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand, startIndices := inputs[0], inputs[1]
	params, isGather := node.Data.(*gatherNode)
	if !isGather || node.Shape.IsDynamic() {
		return execGather(backend, node, inputs, inputsOwned)
	}
	slabBytes, ok := gatherSlabBytes(operand.RawShape, startIndices.RawShape, node.Shape, params)
	if !ok {
		return execGather(backend, node, inputs, inputsOwned)
	}
	moves, err := gatherSlabMoves(operand.RawShape, startIndices, node.Shape, params)
	if err != nil {
		return nil, err
	}
	if len(moves)*slabBytes != node.Shape.Size()*node.Shape.DType.Size() {
		// Some output bytes would not be written by the slabs.
		return execGather(backend, node, inputs, inputsOwned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	operandBytes, err := operand.MutableBytes()
	if err != nil {
		return nil, err
	}
	outputBytes, err := output.MutableBytes()
	if err != nil {
		return nil, err
	}
	copySlabs(backend, outputBytes, operandBytes, moves, slabBytes)
	return output, nil
}

// copySlabs copies each move's slab of slabBytes from src to dst. Large
// copies are cut into chunks of the concatenated slabs, spread over the
// backend's workers by gobackend.ParallelChunks; each byte is copied once whatever the
// split.
func copySlabs(backend *gobackend.Backend, dst, src []byte, moves []slabMove, slabBytes int) {
	total := len(moves) * slabBytes
	copyRange := func(from, to int) { // byte range of the concatenated slabs
		for from < to {
			i, off := from/slabBytes, from%slabBytes
			n := min(slabBytes-off, to-from)
			m := moves[i]
			copy(dst[m.dst+off:m.dst+off+n], src[m.src+off:m.src+off+n])
			from += n
		}
	}
	if total < slabParallelMinBytes || slabWorkers(backend) <= 1 {
		copyRange(0, total)
		return
	}
	chunks := (total + slabCopyChunkBytes - 1) / slabCopyChunkBytes
	gobackend.ParallelChunks(backend, chunks, func(c int) {
		copyRange(c*slabCopyChunkBytes, min((c+1)*slabCopyChunkBytes, total))
	})
}

// slabWorkers is how many goroutines the slab fast paths may split over.
func slabWorkers(backend *gobackend.Backend) int {
	if backend == nil || backend.Workers == nil || !backend.Workers.IsEnabled() {
		return 1
	}
	return backend.Workers.AdjustedMaxParallelism()
}
