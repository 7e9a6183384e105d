// Fast paths for broadcasting float32 Add, Sub, Mul and Div (star-pipeline
// patch, see third_party/README.md). The generic executors walk a broadcast
// through a per-element index iterator; the broadcasts a model makes are
// almost always one operand repeating along the leading axes (a [d] scale
// over [B, L, d]) or constant along the trailing axes (a [B, L, 1] norm
// over [B, L, d]), which are plain loops over contiguous rows.

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

// broadcastForm says how a float32 operand of shape in is laid over out:
// full (the same shape), repeating every period elements (broadcast along
// leading axes only), or one value per run of period elements (broadcast
// along trailing axes only). All false for any other form.
func broadcastForm(in, out shapes.Shape) (full, repeats, perRun bool, period int) {
	if in.Rank() != out.Rank() || in.IsDynamic() || out.IsDynamic() {
		return false, false, false, 0
	}
	if in.Equal(out) {
		return true, false, false, 0
	}
	rank := in.Rank()
	first, last := rank, -1 // first and last axes where in is not 1
	for a, d := range in.Dimensions {
		if d != 1 {
			first = min(first, a)
			last = a
		}
	}
	if last < 0 {
		return false, false, false, 0 // a single value: the scalar paths handle it
	}
	for a := first; a <= last; a++ {
		if in.Dimensions[a] != out.Dimensions[a] {
			return false, false, false, 0
		}
	}
	lead, trail := 1, 1 // out's size over the broadcast axes on each side
	for a := range first {
		lead *= out.Dimensions[a]
	}
	for a := last + 1; a < rank; a++ {
		trail *= out.Dimensions[a]
	}
	switch {
	case trail == 1:
		return false, true, false, in.Size()
	case lead == 1:
		return false, false, true, trail
	}
	return false, false, false, 0
}

func fastBinaryExecutor(kind binaryKind, generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if node.Shape.DType != dtypes.Float32 || inputs[0].RawShape.Size() == 1 || inputs[1].RawShape.Size() == 1 {
			return generic(backend, node, inputs, inputsOwned)
		}
		lFull, lRep, lRun, lPeriod := broadcastForm(inputs[0].RawShape, node.Shape)
		rFull, rRep, rRun, rPeriod := broadcastForm(inputs[1].RawShape, node.Shape)
		if !(lFull && (rRep || rRun)) && !(rFull && (lRep || lRun)) {
			return generic(backend, node, inputs, inputsOwned)
		}
		lhs, rhs, output, _, _ := binaryOperandsAndOutputForExecution(backend, node, inputs, inputsOwned, node.Shape)
		a, b, out := lhs.Flat.([]float32), rhs.Flat.([]float32), output.Flat.([]float32)
		switch {
		case rRep:
			binaryRepeat(kind, a, b, out, rPeriod, false)
		case rRun:
			binaryPerRun(kind, a, b, out, rPeriod, false)
		case lRep:
			binaryRepeat(kind, b, a, out, lPeriod, true)
		default:
			binaryPerRun(kind, b, a, out, lPeriod, true)
		}
		return output, nil
	}
}

// binaryRepeat computes out = full op small (or small op full when
// swapped), small repeating every n elements. out may alias full.
func binaryRepeat(kind binaryKind, full, small, out []float32, n int, swapped bool) {
	for base := 0; base < len(out); base += n {
		f, o := full[base:base+n], out[base:base+n]
		s := small[:n]
		switch {
		case kind == binAdd:
			for j := range o {
				o[j] = f[j] + s[j]
			}
		case kind == binMul:
			for j := range o {
				o[j] = f[j] * s[j]
			}
		case kind == binSub && !swapped:
			for j := range o {
				o[j] = f[j] - s[j]
			}
		case kind == binSub:
			for j := range o {
				o[j] = s[j] - f[j]
			}
		case kind == binDiv && !swapped:
			for j := range o {
				o[j] = f[j] / s[j]
			}
		default:
			for j := range o {
				o[j] = s[j] / f[j]
			}
		}
	}
}

// binaryPerRun computes out = full op small (or small op full when
// swapped), small holding one value per run of n elements. out may alias
// full.
func binaryPerRun(kind binaryKind, full, small, out []float32, n int, swapped bool) {
	for i, c := range small {
		f, o := full[i*n:(i+1)*n], out[i*n:(i+1)*n]
		switch {
		case kind == binAdd:
			for j := range o {
				o[j] = f[j] + c
			}
		case kind == binMul:
			for j := range o {
				o[j] = f[j] * c
			}
		case kind == binSub && !swapped:
			for j := range o {
				o[j] = f[j] - c
			}
		case kind == binSub:
			for j := range o {
				o[j] = c - f[j]
			}
		case kind == binDiv && !swapped:
			for j := range o {
				o[j] = f[j] / c
			}
		default:
			for j := range o {
				o[j] = c / f[j]
			}
		}
	}
}
