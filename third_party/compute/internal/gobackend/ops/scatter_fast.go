// Fast path for ScatterSum (star-pipeline patch, see third_party/README.md):
// when each update window is one contiguous slab of the updates and lands
// on one contiguous slab of the operand (the scattered axes lead, the
// window covers whole trailing axes), the scatter adds slab to slab
// instead of walking the generic executor's per-element iterators. Slabs
// are added in the generic executor's order (update order), so every
// output element receives the same additions in the same order and results
// are bit-for-bit those of scatter.go. float32, float64, int32 and int64
// take this path when every index lies in range (float32 and float64 rows
// added with AVX2 where dispatched, scatter_fast_avx2.go); every other
// case keeps the generic executor.

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/sets"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeScatterSum, gobackend.PriorityTyped, execScatterSumFast)
}

// scatterSlabLen returns the number of elements of the window each index
// vector of a scatter adds, and the extent of that window on every operand
// axis. ok is false when the window is not one contiguous run of the
// operand and of the updates, or the case is one the fast path leaves to
// the generic executor (dynamic or empty shapes, inconsistent parameters).
func scatterSlabLen(operandShape, indicesShape, updatesShape shapes.Shape, params *scatterNode) (slabLen int, extents []int, ok bool) {
	if operandShape.IsDynamic() || indicesShape.IsDynamic() || updatesShape.IsDynamic() {
		return 0, nil, false
	}
	if operandShape.Size() == 0 || indicesShape.Size() == 0 || updatesShape.Size() == 0 {
		return 0, nil, false
	}
	rank := operandShape.Rank()
	dims := operandShape.Dimensions
	inserted := sets.Make[int]()
	for _, axis := range params.insertedWindowAxes {
		if axis < 0 || axis >= rank || inserted.Has(axis) {
			return 0, nil, false
		}
		inserted.Insert(axis)
	}
	if len(params.updateWindowAxes)+len(inserted) != rank {
		return 0, nil, false
	}
	scattered := sets.Make[int]()
	for _, axis := range params.scatterAxesToOperandAxes {
		if axis < 0 || axis >= rank || scattered.Has(axis) {
			return 0, nil, false
		}
		scattered.Insert(axis)
	}
	// Window extent of each operand axis: 1 on inserted axes, the matching
	// update window axis' dimension on the others (in order).
	extents = make([]int, rank)
	windowIdx := 0
	for axis := range rank {
		if inserted.Has(axis) {
			extents[axis] = 1
			continue
		}
		extents[axis] = updatesShape.Dimensions[params.updateWindowAxes[windowIdx]]
		windowIdx++
	}
	// Contiguous in the operand: every axis after the first with an extent
	// above 1 is covered whole.
	first := rank
	for axis, e := range extents {
		if e > 1 {
			first = axis
			break
		}
	}
	for axis := first + 1; axis < rank; axis++ {
		if extents[axis] != dims[axis] {
			return 0, nil, false
		}
	}
	// Contiguous in the updates: window axes in increasing order, and every
	// axis after the first window axis wider than 1 is a window axis or has
	// dimension 1.
	window := sets.Make[int]()
	for i, axis := range params.updateWindowAxes {
		if axis < 0 || axis >= updatesShape.Rank() || (i > 0 && axis <= params.updateWindowAxes[i-1]) {
			return 0, nil, false
		}
		window.Insert(axis)
	}
	firstWide := updatesShape.Rank()
	for _, axis := range params.updateWindowAxes {
		if updatesShape.Dimensions[axis] > 1 {
			firstWide = axis
			break
		}
	}
	for axis := firstWide + 1; axis < updatesShape.Rank(); axis++ {
		if !window.Has(axis) && updatesShape.Dimensions[axis] != 1 {
			return 0, nil, false
		}
	}
	slabLen = 1
	for _, e := range extents {
		slabLen *= e
	}
	return slabLen, extents, true
}

// scatterSlabMoves lists, in the order scatter.go's execScatterGeneric
// visits them, the flat element offset of each update window in the
// updates (src) and of its target in the operand (dst). ok is false when
// an index puts a window (partly) outside the operand: the generic
// executor does not clamp, and such scatters are left to it.
func scatterSlabMoves(operandShape shapes.Shape, indices *gobackend.Buffer, updatesShape shapes.Shape, params *scatterNode, extents []int) (moves []slabMove, ok bool, err error) {
	derefAny, err := dereferenceIntsDTypeMap.Get(indices.RawShape.DType)
	if err != nil {
		return nil, false, err
	}
	deref := derefAny.(func(flat any, in, out []int))
	indicesShape := indices.RawShape
	indicesIt := newSubIndicesIterator(indicesShape, params.indexVectorAxis)
	indexVectorStride, indexVectorSize := 1, 1
	if params.indexVectorAxis != indicesShape.Rank() {
		indexVectorSize = indicesShape.Dimensions[params.indexVectorAxis]
		indexVectorStride = indicesIt.PerAxisStride[params.indexVectorAxis]
	}
	if indexVectorSize != len(params.scatterAxesToOperandAxes) {
		return nil, false, nil
	}
	indirect := make([]int, indexVectorSize)
	values := make([]int, indexVectorSize)
	updatesIt := newSubIndicesIterator(updatesShape, params.updateWindowAxes...)
	operandStrides := operandShape.Strides()
	for {
		flat := indicesIt.FlatIdx
		for i := range indexVectorSize {
			indirect[i] = flat
			flat += indexVectorStride
		}
		deref(indices.Flat, indirect, values)
		dst := 0
		for i, idx := range values {
			axis := params.scatterAxesToOperandAxes[i]
			if idx < 0 || idx > operandShape.Dimensions[axis]-extents[axis] {
				return nil, false, nil
			}
			dst += idx * operandStrides[axis]
		}
		moves = append(moves, slabMove{src: updatesIt.FlatIdx, dst: dst})
		if !indicesIt.Increment() {
			break
		}
		updatesIt.Increment()
	}
	return moves, true, nil
}

func execScatterSumFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	operand, indices, updates := inputs[0], inputs[1], inputs[2]
	params, isScatter := node.Data.(*scatterNode)
	if !isScatter || node.Shape.IsDynamic() {
		return execScatter(backend, node, inputs, inputsOwned)
	}
	switch operand.Flat.(type) {
	case []float32, []float64, []int32, []int64:
	default:
		return execScatter(backend, node, inputs, inputsOwned)
	}
	slabLen, extents, ok := scatterSlabLen(operand.RawShape, indices.RawShape, updates.RawShape, params)
	if !ok {
		return execScatter(backend, node, inputs, inputsOwned)
	}
	moves, ok, err := scatterSlabMoves(operand.RawShape, indices, updates.RawShape, params, extents)
	if err != nil {
		return nil, err
	}
	if !ok {
		return execScatter(backend, node, inputs, inputsOwned)
	}

	// Output starts as the operand, reused when owned (as in execScatter).
	var output *gobackend.Buffer
	if inputsOwned[0] {
		output = operand
		inputs[0] = nil
	} else {
		output, err = backend.CloneBuffer(operand)
		if err != nil {
			return nil, err
		}
	}
	output.RawShape = node.Shape
	switch out := output.Flat.(type) {
	case []float32:
		addSlabs(backend, out, updates.Flat.([]float32), moves, slabLen, scatterAddFloat32)
	case []float64:
		addSlabs(backend, out, updates.Flat.([]float64), moves, slabLen, scatterAddFloat64)
	case []int32:
		addSlabs(backend, out, updates.Flat.([]int32), moves, slabLen, addRow[int32])
	case []int64:
		addSlabs(backend, out, updates.Flat.([]int64), moves, slabLen, addRow[int64])
	}
	return output, nil
}

// scatterAddFloat32 and scatterAddFloat64 add a row into another,
// element by element (d[i] += s[i]); scatter_fast_avx2.go replaces them
// with AVX2 loops where the CPU has it. A vector lane's addition is the
// scalar one, so the results are the same bits.
var (
	scatterAddFloat32 = addRow[float32]
	scatterAddFloat64 = addRow[float64]
)

// addRow adds s into d element by element; len(s) >= len(d).
func addRow[T float32 | float64 | int32 | int64](d, s []T) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] += v
	}
}

// addSlabs adds each move's slab of slabLen elements of src into dst with
// add, the moves in order. Large scatters are split over the backend's
// workers by columns of the slab (gobackend.ParallelChunks): a worker owns a range of
// columns of every slab and adds all slabs' values there in move order, so
// each element receives the same additions in the same order whatever the
// split.
func addSlabs[T float32 | float64 | int32 | int64](backend *gobackend.Backend, dst, src []T, moves []slabMove, slabLen int,
	add func(d, s []T)) {
	addColumns := func(c0, c1 int) {
		for _, m := range moves {
			add(dst[m.dst+c0:m.dst+c1], src[m.src+c0:m.src+c1])
		}
	}
	var zero T
	elemBytes := sizeOf(zero)
	workers := slabWorkers(backend)
	// Chunks of columns: at least 16 cache lines of a slab wide, and about
	// four per worker so that uneven workers still finish together.
	minCols := 1024 / elemBytes
	if workers <= 1 || len(moves)*slabLen*elemBytes < slabParallelMinBytes || slabLen < 2*minCols {
		addColumns(0, slabLen)
		return
	}
	cols := max(minCols, (slabLen+4*workers-1)/(4*workers))
	cols = (cols + minCols - 1) / minCols * minCols
	chunks := (slabLen + cols - 1) / cols
	gobackend.ParallelChunks(backend, chunks, func(c int) {
		addColumns(c*cols, min((c+1)*cols, slabLen))
	})
}

// sizeOf is the size in bytes of the element types addSlabs takes.
func sizeOf[T float32 | float64 | int32 | int64](T) int {
	var v T
	switch any(v).(type) {
	case float64, int64:
		return 8
	}
	return 4
}
