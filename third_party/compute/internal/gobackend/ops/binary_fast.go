// Fast paths for float32 Add, Sub, Mul and Div (star-pipeline patch, see
// third_party/README.md). The generic executors walk any broadcast through
// a per-element index iterator and run single-threaded. Here the output is
// seen as rows: adjacent axes along which each operand either varies or
// repeats in the same way are merged, the last merged axis is the row, and
// each row is one loop over two contiguous slices or over a slice and one
// value (binary_fast_avx2.go, with a portable twin in
// binary_fast_portable.go). Large outputs are cut into fixed-size chunks
// of the flat output, spread over the backend's workers.
//
// Each element is the same single float32 operation the generic executor
// performs on the same two values, so the results are bit-for-bit its own,
// at any parallelism. (Only when both values are NaN can the payload kept
// depend on the operand order, which for Add and Mul the generic executor
// itself does not fix.)

package ops

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

type binaryKind int

const (
	binAdd binaryKind = iota
	binSub
	binMul
	binDiv
)

const (
	// binaryParallelMin is the smallest output (in elements) split over
	// the backend's workers.
	binaryParallelMin = 1 << 16
	// binaryChunk is the number of output elements in one unit of
	// parallel work. A multiple of the SIMD width, so that only the last
	// chunk of a row ends in a scalar tail.
	binaryChunk = 1 << 14
)

func init() {
	for op, e := range map[compute.OpType]struct {
		kind    binaryKind
		generic gobackend.NodeExecutor
	}{
		compute.OpTypeAdd: {binAdd, execAdd},
		compute.OpTypeSub: {binSub, execSub},
		compute.OpTypeMul: {binMul, execMul},
		compute.OpTypeDiv: {binDiv, execDiv},
	} {
		gobackend.SetNodeExecutor(op, gobackend.PriorityTyped, fastBinaryExecutor(e.kind, e.generic))
	}
}

// rowMode says what a row of the output is made of.
type rowMode int

const (
	rowBoth rowMode = iota // lhs and rhs both contiguous
	rowLHS                 // lhs contiguous, rhs one value for the row
	rowRHS                 // lhs one value for the row, rhs contiguous
)

// binaryPlan lays a broadcast binary op over the output as rows: the
// output has the collapsed dimensions dims (at least one axis), the last of
// which is the row; lhsStrides and rhsStrides are each operand's strides
// over the outer (all but the last) collapsed axes, 0 where the operand is
// broadcast.
type binaryPlan struct {
	dims                   []int
	lhsStrides, rhsStrides []int
	mode                   rowMode
}

// binaryPlanFor returns the plan for operands of shapes lhs and rhs
// broadcast to out: one row over the whole output when an operand is a
// single value (of any rank, as the generic executor allows), else
// planBinary's.
func binaryPlanFor(lhs, rhs, out shapes.Shape) (binaryPlan, bool) {
	size := out.Size()
	switch {
	case size == 0:
		return binaryPlan{}, false
	case rhs.Size() == 1 && lhs.Size() == size:
		return binaryPlan{dims: []int{size}, mode: rowLHS}, true
	case lhs.Size() == 1 && rhs.Size() == size:
		return binaryPlan{dims: []int{size}, mode: rowRHS}, true
	}
	return planBinary(lhs, rhs, out)
}

// planBinary builds the plan for operands of shapes lhs and rhs broadcast
// to out. ok is false for a form this file does not handle (ranks that
// differ, dynamic or empty shapes); operands of one element are handled by
// the caller.
func planBinary(lhs, rhs, out shapes.Shape) (plan binaryPlan, ok bool) {
	rank := out.Rank()
	if lhs.Rank() != rank || rhs.Rank() != rank || out.IsDynamic() || lhs.IsDynamic() || rhs.IsDynamic() || out.Size() == 0 {
		return plan, false
	}
	// Per axis of out larger than 1: whether each operand is broadcast.
	// Runs of axes with the same pattern merge into one axis.
	var lhsBcast, rhsBcast []bool
	for a, d := range out.Dimensions {
		l, r := lhs.Dimensions[a], rhs.Dimensions[a]
		if (l != d && l != 1) || (r != d && r != 1) {
			return plan, false
		}
		if d == 1 {
			continue
		}
		lb, rb := l == 1, r == 1
		if n := len(plan.dims); n > 0 && lhsBcast[n-1] == lb && rhsBcast[n-1] == rb {
			plan.dims[n-1] *= d
			continue
		}
		plan.dims = append(plan.dims, d)
		lhsBcast = append(lhsBcast, lb)
		rhsBcast = append(rhsBcast, rb)
	}
	k := len(plan.dims)
	if k == 0 {
		return plan, false // a single element
	}
	switch {
	case lhsBcast[k-1]:
		plan.mode = rowRHS
	case rhsBcast[k-1]:
		plan.mode = rowLHS
	default:
		plan.mode = rowBoth
	}
	plan.lhsStrides = operandStrides(plan.dims, lhsBcast)
	plan.rhsStrides = operandStrides(plan.dims, rhsBcast)
	return plan, true
}

// operandStrides returns the strides, over the outer axes of dims, of an
// operand that is broadcast (stride 0) along the axes marked in bcast and
// holds dims[a] elements along the others.
func operandStrides(dims []int, bcast []bool) []int {
	k := len(dims)
	strides := make([]int, k-1)
	s := 1
	if !bcast[k-1] {
		s = dims[k-1]
	}
	for a := k - 2; a >= 0; a-- {
		if bcast[a] {
			continue
		}
		strides[a] = s
		s *= dims[a]
	}
	return strides
}

func fastBinaryExecutor(kind binaryKind, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if node.Shape.DType != dtypes.Float32 || node.Shape.IsDynamic() {
			return generic(backend, node, inputs, inputsOwned)
		}
		plan, ok := binaryPlanFor(inputs[0].RawShape, inputs[1].RawShape, node.Shape)
		if !ok {
			return generic(backend, node, inputs, inputsOwned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, inputsOwned, node.Shape)
		a, b, out := lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]float32)
		runBinary(backend, kind, &plan, a, b, out)
		return output, nil
	}
}

// runBinary computes out = a op b following plan, in fixed chunks of out
// over the backend's workers when out is large (gobackend.ParallelChunks).
func runBinary(backend *gobackend.Backend, kind binaryKind, plan *binaryPlan, a, b, out []float32) {
	n := len(out)
	if n < binaryParallelMin {
		binaryRange(kind, plan, a, b, out, 0, n)
		return
	}
	gobackend.ParallelChunks(backend, (n+binaryChunk-1)/binaryChunk, func(c int) {
		start := c * binaryChunk
		binaryRange(kind, plan, a, b, out, start, min(start+binaryChunk, n))
	})
}

// binaryRange computes the elements [start, end) of out.
func binaryRange(kind binaryKind, plan *binaryPlan, a, b, out []float32, start, end int) {
	k := len(plan.dims)
	rowLen := plan.dims[k-1]
	row, col := start/rowLen, start%rowLen
	// Multi-index of row over the outer axes, and each operand's offset.
	var idxBuf [8]int
	idx := idxBuf[:0]
	if k-1 > len(idxBuf) {
		idx = make([]int, 0, k-1)
	}
	idx = idx[:k-1]
	aOff, bOff := 0, 0
	for ax := k - 2; ax >= 0; ax-- {
		d := plan.dims[ax]
		idx[ax] = row % d
		row /= d
		aOff += idx[ax] * plan.lhsStrides[ax]
		bOff += idx[ax] * plan.rhsStrides[ax]
	}
	for pos := start; pos < end; {
		n := min(rowLen-col, end-pos)
		o := out[pos : pos+n]
		switch plan.mode {
		case rowBoth:
			binaryBoth(kind, a[aOff+col:aOff+col+n], b[bOff+col:bOff+col+n], o)
		case rowLHS:
			binaryLHS(kind, a[aOff+col:aOff+col+n], b[bOff], o)
		default:
			binaryRHS(kind, a[aOff], b[bOff+col:bOff+col+n], o)
		}
		pos += n
		col = 0
		// Next row: advance the outer multi-index.
		for ax := k - 2; ax >= 0; ax-- {
			idx[ax]++
			aOff += plan.lhsStrides[ax]
			bOff += plan.rhsStrides[ax]
			if idx[ax] < plan.dims[ax] {
				break
			}
			aOff -= idx[ax] * plan.lhsStrides[ax]
			bOff -= idx[ax] * plan.rhsStrides[ax]
			idx[ax] = 0
		}
	}
}

// binaryBothScalar computes out[i] = a[i] op b[i]. out may alias a or b.
func binaryBothScalar(kind binaryKind, a, b, out []float32) {
	a, b = a[:len(out)], b[:len(out)]
	switch kind {
	case binAdd:
		for i := range out {
			out[i] = a[i] + b[i]
		}
	case binSub:
		for i := range out {
			out[i] = a[i] - b[i]
		}
	case binMul:
		for i := range out {
			out[i] = a[i] * b[i]
		}
	default:
		for i := range out {
			out[i] = a[i] / b[i]
		}
	}
}

// binaryLHSScalar computes out[i] = a[i] op c. out may alias a.
func binaryLHSScalar(kind binaryKind, a []float32, c float32, out []float32) {
	a = a[:len(out)]
	switch kind {
	case binAdd:
		for i := range out {
			out[i] = a[i] + c
		}
	case binSub:
		for i := range out {
			out[i] = a[i] - c
		}
	case binMul:
		for i := range out {
			out[i] = a[i] * c
		}
	default:
		for i := range out {
			out[i] = a[i] / c
		}
	}
}

// binaryRHSScalar computes out[i] = c op b[i]. out may alias b.
func binaryRHSScalar(kind binaryKind, c float32, b, out []float32) {
	b = b[:len(out)]
	switch kind {
	case binAdd:
		for i := range out {
			out[i] = c + b[i]
		}
	case binSub:
		for i := range out {
			out[i] = c - b[i]
		}
	case binMul:
		for i := range out {
			out[i] = c * b[i]
		}
	default:
		for i := range out {
			out[i] = c / b[i]
		}
	}
}
