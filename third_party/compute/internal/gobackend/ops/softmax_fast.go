// Fast float32 FusedSoftmax over contiguous rows (star-pipeline patch, see
// third_party/README.md). The fusedops executor (fusedops/softmax.go) walks
// any axis element by element on one goroutine with another exp; when the
// softmax axis is the last one (every axis after it of size 1), each row
// is contiguous and this path runs it in three passes that keep the row in
// cache: the row's maximum, e = exp(x - max) written to the output while
// summing e, then out = e / sum. The exp is the Exp fast path's kernel
// (unary_fast.go), with AVX2 and FMA 8 lanes at a time
// (softmax_fast_amd64.go) or element by element elsewhere; the sum runs in
// 8 lane accumulators combined in a fixed tree in both, so the two give the
// same bits. Rows are independent and split over the backend's workers in
// chunks fixed by the shape, so results do not depend on the parallelism.
// Every other case (dtypes other than float32, other axes, dynamic shapes)
// goes to the fusedops executor.

package ops

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/support/envutil"
	"github.com/pkg/errors"
)

// softmaxFastPriority is above the fusedops executor's PriorityTyped: the
// fusedops package imports this one, so its init runs after this one and,
// at the same priority, would replace the fast path.
const softmaxFastPriority = gobackend.PriorityTyped + 1

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeFusedSoftmax, softmaxFastPriority, execFusedSoftmaxFast)
}

// fusedSoftmaxGeneric is the executor of the FusedSoftmax nodes the fast
// path does not take: the fusedops one, set by SetFusedSoftmaxGeneric.
var fusedSoftmaxGeneric gobackend.NodeExecutor

// SetFusedSoftmaxGeneric hands the fast path the executor it falls back to.
// The fusedops package, which defines the FusedSoftmax node and imports
// this package (so this one cannot import it), calls it in its init.
func SetFusedSoftmaxGeneric(executor gobackend.NodeExecutor) {
	fusedSoftmaxGeneric = executor
}

// softmaxAxisData is the FusedSoftmax node data (fusedops' nodeFusedSoftmax)
// as this package sees it.
type softmaxAxisData interface {
	Axis() int
}

// float32SoftmaxKernel holds the row kernel of one instruction set.
type float32SoftmaxKernel struct {
	name string // "avx2" or "portable"
	// rows computes the softmax of each row of n elements of in (len(in) a
	// multiple of n, n > 0) into out, of in's length; out may be in.
	rows func(in, out []float32, n int)
}

// softmaxKernel is the kernel the executor uses: the AVX2 one when the CPU
// has AVX2 and FMA and GOMLX_SIMD_AVX2 does not turn it off (as for the
// unary kernels), else the portable one.
var softmaxKernel = selectSoftmaxKernel()

func selectSoftmaxKernel() float32SoftmaxKernel {
	if k, ok := avx2SoftmaxKernel(); ok && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		return k
	}
	return portableSoftmaxKernel
}

var portableSoftmaxKernel = float32SoftmaxKernel{name: "portable", rows: softmaxRowsPortable}

// softmaxChunk is about the number of elements one worker takes at a time
// (whole rows, at least one).
const softmaxChunk = 16 << 10

// execFusedSoftmaxFast runs float32 softmax over contiguous rows; every
// other case goes to the fusedops executor.
func execFusedSoftmaxFast(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	n, ok := softmaxRowLength(node, inputs[0])
	if !ok {
		if fusedSoftmaxGeneric == nil {
			return nil, errors.Wrapf(compute.ErrNotImplemented, "FusedSoftmax: no executor for %s", inputs[0].RawShape)
		}
		return fusedSoftmaxGeneric(backend, node, inputs, inputsOwned)
	}
	input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
	if err != nil {
		return nil, err
	}
	size := input.RawShape.Size()
	runSoftmaxRows(backend, softmaxKernel.rows, input.Flat.([]float32)[:size], output.Flat.([]float32)[:size], n)
	return output, nil
}

// softmaxRowLength returns the length of the rows the softmax normalises
// when the fast path takes the node: a float32 static operand whose axes
// after the softmax axis all have size 1.
func softmaxRowLength(node *gobackend.Node, input *gobackend.Buffer) (n int, ok bool) {
	data, ok := node.Data.(softmaxAxisData)
	shape := input.RawShape
	if !ok || shape.DType != dtypes.Float32 || shape.IsDynamic() || node.Shape.IsDynamic() {
		return 0, false
	}
	axis := data.Axis()
	if axis < 0 || axis >= shape.Rank() {
		return 0, false
	}
	for _, d := range shape.Dimensions[axis+1:] {
		if d != 1 {
			return 0, false
		}
	}
	return shape.Dimensions[axis], true
}

// runSoftmaxRows applies the row kernel to in, rows of n elements, writing
// out. Large operands are cut into chunks of whole rows whose boundaries
// depend on the length and n alone (gobackend.ParallelChunks); rows are
// independent, so the result does not depend on the parallelism.
func runSoftmaxRows(backend *gobackend.Backend, kernel func(in, out []float32, n int), in, out []float32, n int) {
	if len(in) == 0 || n == 0 {
		return
	}
	rows := len(in) / n
	per := max(1, softmaxChunk/n)
	if rows < 2*per {
		kernel(in, out, n)
		return
	}
	gobackend.ParallelChunks(backend, (rows+per-1)/per, func(c int) {
		start, end := c*per*n, min((c+1)*per, rows)*n
		kernel(in[start:end], out[start:end], n)
	})
}

// softmaxLanes is the number of partial sums of a row: lane j of the
// accumulators sums the elements j, j+8, j+16, ... of the row, each in row
// order, as the AVX2 kernel's 8 lanes do.
const softmaxLanes = 8

// sumSoftmaxLanes adds the 8 partial sums in the fixed tree both kernels use.
func sumSoftmaxLanes(acc *[softmaxLanes]float32) float32 {
	return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

// softmaxRowsPortable is the portable row kernel, the operations of the
// AVX2 one (softmaxRowsAVX2) in the same order:
//
//   - m = the row's maximum (exact whatever the order; a NaN makes the
//     whole row NaN below either way).
//   - e_i = exp(x_i - m) by expFloat32, the portable Exp kernel, stored in
//     out; the maximum gives exp(0) = 1 exactly, and x_i - m <= -104 (a
//     masked -1e9, say) gives exactly 0. e_i is added to lane i%8.
//   - s = sumSoftmaxLanes; out_i = e_i / s (a division, correctly rounded,
//     rather than a multiplication by 1/s, which would round twice).
func softmaxRowsPortable(in, out []float32, n int) {
	out = out[:len(in)]
	for start := 0; start+n <= len(in); start += n {
		x, y := in[start:start+n], out[start:start+n]
		m := float32(math.Inf(-1))
		for _, v := range x {
			m = max(m, v)
		}
		var acc [softmaxLanes]float32
		for i, v := range x {
			e := expFloat32(v - m)
			y[i] = e
			acc[i%softmaxLanes] += e
		}
		s := sumSoftmaxLanes(&acc)
		for i := range y {
			y[i] /= s
		}
	}
}
