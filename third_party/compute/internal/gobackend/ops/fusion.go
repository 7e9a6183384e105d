// Elementwise fusion (star-pipeline patch, see third_party/README.md).
//
// A training step is full of chains of float32 elementwise operations over
// the same shape: the SwiGLU gate and its gradient, the softmax's
// normalisation, AdamW's moment and weight updates. Executed one op at a
// time, each link reads and writes whole tensors (8 MiB for a [8, 256,
// 1024] activation), so the chain is bound by memory traffic. The
// ElementwiseFusion transformation turns every tree of such ops whose
// intermediate results have no other use into one FusedElementwise node,
// which evaluates the tree block by block (a few thousand elements at a
// time, in cache) and writes only the final result.
//
// Each element still goes through the same float32 operations, in the same
// order, computed by the same kernels as the unfused executors, so results
// are bit-for-bit those of the unfused graph (GOMLX_FUSION=off turns the
// transformation off, e.g. to compare).

package ops

import (
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/pkg/errors"
)

// FusionEnvVar turns the elementwise fusion off when set to off, false or 0.
const FusionEnvVar = "GOMLX_FUSION"

func init() {
	gobackend.RegisterTransformation(50, &ElementwiseFusion{})
	gobackend.SetNodeExecutor(compute.OpTypeFusedElementwise, gobackend.PriorityGeneric, execFusedElementwise)
}

// fusionOff reports whether GOMLX_FUSION turns the fusion off.
func fusionOff() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(FusionEnvVar))) {
	case "off", "false", "0", "no":
		return true
	}
	return false
}

// fusableUnary and fusableBinary are the float32 ops a fused tree may hold.
var (
	fusableUnary = map[compute.OpType]bool{
		compute.OpTypeNeg: true, compute.OpTypeAbs: true, compute.OpTypeSqrt: true, compute.OpTypeRsqrt: true,
		compute.OpTypeExp: true, compute.OpTypeLog: true, compute.OpTypeLogistic: true, compute.OpTypeTanh: true,
	}
	fusableBinary = map[compute.OpType]bool{
		compute.OpTypeAdd: true, compute.OpTypeSub: true, compute.OpTypeMul: true, compute.OpTypeDiv: true,
	}
)

// fusedInstr is one op of a fused tree. Operands a and b refer to the
// node's inputs (0 <= ref < leaves) or to earlier instructions (ref -
// leaves); b is -1 for unary ops.
type fusedInstr struct {
	op   compute.OpType
	a, b int
}

// fusedProgram is a FusedElementwise node's data: its instructions in
// evaluation order (the last one is the result) and which inputs are
// single values broadcast over the shape.
type fusedProgram struct {
	instrs []fusedInstr
	scalar []bool
	// bcast holds, for an input broadcast along some axes (same rank, dims
	// 1 or the output's), its strides over the output's axes (0 where it
	// is broadcast); nil for the other inputs.
	bcast [][]int
	dims  []int // the output's dimensions
}

// EqualNodeData implements gobackend.NodeDataComparable.
func (p *fusedProgram) EqualNodeData(other gobackend.NodeDataComparable) bool {
	o, ok := other.(*fusedProgram)
	if !ok || len(o.instrs) != len(p.instrs) || len(o.scalar) != len(p.scalar) {
		return false
	}
	for i := range p.instrs {
		if p.instrs[i] != o.instrs[i] {
			return false
		}
	}
	for i := range p.scalar {
		if p.scalar[i] != o.scalar[i] || !slices.Equal(p.bcast[i], o.bcast[i]) {
			return false
		}
	}
	return slices.Equal(p.dims, o.dims)
}

// String lists the instructions, for the op profile and graph dumps.
func (p *fusedProgram) String() string {
	var b strings.Builder
	b.WriteString("{")
	for i, in := range p.instrs {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(in.op.String())
	}
	b.WriteString("}")
	return b.String()
}

// ElementwiseFusion is the graph transformation that builds the
// FusedElementwise nodes.
type ElementwiseFusion struct{}

// Name implements gobackend.GraphTransformation.
func (*ElementwiseFusion) Name() string { return "ElementwiseFusion" }

// Apply implements gobackend.GraphTransformation. A tree's root node is
// turned into the fused node in place (its consumers and the function's
// outputs keep pointing at it); the nodes it absorbed are left without
// users, so the executable never runs them. Its inputs all come before it,
// so the order of the nodes stays topological.
func (*ElementwiseFusion) Apply(b *gobackend.Builder) (bool, error) {
	if fusionOff() {
		return false, nil
	}
	uses := map[*gobackend.Node]int{}
	for _, f := range b.Functions {
		for _, n := range f.Nodes {
			for _, in := range n.Inputs {
				uses[in]++
			}
			for _, captured := range n.CapturedInputs {
				for _, in := range captured {
					uses[in]++
				}
			}
		}
		for _, out := range f.Outputs {
			uses[out] += 2 // an output is never absorbed
		}
	}
	for _, f := range b.Functions {
		absorbed := map[*gobackend.Node]bool{}
		for i := len(f.Nodes) - 1; i >= 0; i-- {
			root := f.Nodes[i]
			if absorbed[root] || !fusable(root, f) {
				continue
			}
			t := fusionTree{root: root, f: f, uses: uses, leafIndex: map[*gobackend.Node]int{}}
			t.add(root)
			if len(t.instrs) < 2 {
				continue
			}
			for _, n := range t.absorbed {
				absorbed[n] = true
			}
			root.OpType = compute.OpTypeFusedElementwise
			root.Inputs = t.leaves
			prog := &fusedProgram{instrs: t.instrs, scalar: t.scalar, bcast: t.bcast, dims: root.Shape.Dimensions}
			prog.finalRefs(len(t.leaves))
			root.Data = prog
		}
	}
	return false, nil
}

// fusable reports whether n is a float32 elementwise op of the fusable
// kinds over a static shape whose inputs each have n's shape, hold a
// single value, or broadcast to n's shape along some axes (same rank,
// each dimension 1 or n's); at least one has n's shape.
func fusable(n *gobackend.Node, f *gobackend.Function) bool {
	if n.Function != f || n.Shape.DType != dtypes.Float32 || n.Shape.IsDynamic() || n.Shape.Size() < 2 ||
		len(n.MultiOutputsShapes) != 0 || len(n.CapturedInputs) != 0 || n.IsNodeSelectOutput {
		return false
	}
	switch {
	case fusableUnary[n.OpType]:
		if len(n.Inputs) != 1 {
			return false
		}
	case fusableBinary[n.OpType]:
		if len(n.Inputs) != 2 {
			return false
		}
	default:
		return false
	}
	full := 0
	for _, in := range n.Inputs {
		switch {
		case in.Function != f || in.Shape.DType != dtypes.Float32 || in.Shape.IsDynamic() || len(in.MultiOutputsShapes) != 0:
			return false
		case in.Shape.Equal(n.Shape):
			full++
		case in.Shape.Size() != 1 && broadcastStrides(in.Shape.Dimensions, n.Shape.Dimensions) == nil:
			return false
		}
	}
	return full > 0
}

// fusionTree collects the tree under a root: the instructions in
// evaluation order, the distinct leaves (the fused node's inputs) and the
// absorbed nodes.
type fusionTree struct {
	root      *gobackend.Node
	f         *gobackend.Function
	uses      map[*gobackend.Node]int
	instrs    []fusedInstr
	leaves    []*gobackend.Node
	scalar    []bool
	bcast     [][]int
	leafIndex map[*gobackend.Node]int
	absorbed  []*gobackend.Node
}

// ref is an operand before leaves are all known: a leaf index, or
// -(instruction index)-1.
func (t *fusionTree) add(n *gobackend.Node) int {
	refs := make([]int, len(n.Inputs))
	for i, in := range n.Inputs {
		if in != t.root && t.uses[in] == 1 && in.Shape.Equal(t.root.Shape) && fusable(in, t.f) {
			t.absorbed = append(t.absorbed, in)
			refs[i] = t.add(in)
			continue
		}
		k, ok := t.leafIndex[in]
		if !ok {
			k = len(t.leaves)
			t.leafIndex[in] = k
			t.leaves = append(t.leaves, in)
			single := in.Shape.Size() == 1
			t.scalar = append(t.scalar, single)
			var strides []int
			if !single && !in.Shape.Equal(t.root.Shape) {
				strides = broadcastStrides(in.Shape.Dimensions, t.root.Shape.Dimensions)
			}
			t.bcast = append(t.bcast, strides)
		}
		refs[i] = k
	}
	in := fusedInstr{op: n.OpType, a: refs[0], b: -1}
	if len(refs) == 2 {
		in.b = refs[1]
	}
	t.instrs = append(t.instrs, in)
	return -len(t.instrs) // instruction j is -(j+1)
}

// broadcastStrides returns the strides of an operand of dims over the
// axes of out (0 where it is broadcast), or nil when it does not
// broadcast to out that way (another rank, or a dimension that is neither
// 1 nor out's).
func broadcastStrides(dims, out []int) []int {
	if len(dims) != len(out) {
		return nil
	}
	strides := make([]int, len(dims))
	stride := 1
	for a := len(dims) - 1; a >= 0; a-- {
		switch dims[a] {
		case out[a]:
			if dims[a] > 1 {
				strides[a] = stride
			}
		case 1:
		default:
			return nil
		}
		stride *= dims[a]
	}
	return strides
}

// fillBroadcast writes into dst the values of a broadcast operand src
// (strides over the output's axes dims) at output elements start,
// start+1, ...: runs along the innermost axis are copies or fills.
func fillBroadcast(dst, src []float32, strides, dims []int, start int) {
	rank := len(dims)
	var idxBuf [8]int
	idx := idxBuf[:0]
	if rank > len(idxBuf) {
		idx = make([]int, 0, rank)
	}
	idx = idx[:rank]
	off, rem := 0, start
	for a := rank - 1; a >= 0; a-- {
		idx[a] = rem % dims[a]
		rem /= dims[a]
		off += idx[a] * strides[a]
	}
	last := rank - 1
	inner, innerStride := dims[last], strides[last]
	for i := 0; i < len(dst); {
		run := min(inner-idx[last], len(dst)-i)
		if innerStride != 0 {
			copy(dst[i:i+run], src[off:off+run])
		} else {
			v := src[off]
			for j := i; j < i+run; j++ {
				dst[j] = v
			}
		}
		i += run
		idx[last] += run
		off += run * innerStride
		for a := last; a > 0 && idx[a] == dims[a]; a-- {
			idx[a] = 0
			off -= dims[a] * strides[a]
			idx[a-1]++
			off += strides[a-1]
		}
	}
}

// finalRefs rewrites instruction operands from add's encoding (leaf index
// or -(instruction)-1) to the executor's (leaf index, or leaves +
// instruction).
func (p *fusedProgram) finalRefs(leaves int) {
	fix := func(r int) int {
		if r < 0 {
			return leaves + (-r - 1)
		}
		return r
	}
	for i := range p.instrs {
		p.instrs[i].a = fix(p.instrs[i].a)
		if fusableBinary[p.instrs[i].op] { // a unary op keeps b = -1
			p.instrs[i].b = fix(p.instrs[i].b)
		}
	}
}

// fusionBlock is the number of elements evaluated at a time: the block's
// operands and intermediate results stay in cache.
const fusionBlock = 1024

var fusionTemps = sync.Pool{New: func() any { return new([]float32) }}

func execFusedElementwise(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	p, ok := node.Data.(*fusedProgram)
	if !ok {
		return nil, errors.Errorf("FusedElementwise: node data is %T", node.Data)
	}
	leaves := make([][]float32, len(inputs))
	for i, in := range inputs {
		leaves[i] = in.Flat.([]float32)
	}
	size := node.Shape.Size()
	var output *gobackend.Buffer
	for i, in := range inputs {
		if inputsOwned[i] && !p.scalar[i] && p.bcast[i] == nil && len(leaves[i]) == size {
			// Safe in place: each block reads its inputs before its result
			// is written.
			output, inputs[i] = in, nil
			break
		}
	}
	if output == nil {
		var err error
		if output, err = backend.GetBuffer(node.Shape); err != nil {
			return nil, err
		}
	}
	out := output.Flat.([]float32)
	blocks := (size + fusionBlock - 1) / fusionBlock
	slots := len(p.instrs) + len(inputs) // results, then broadcast inputs
	parallelRows(backend, blocks, fusionBlock*len(p.instrs), func(lo, hi int) {
		tp := fusionTemps.Get().(*[]float32)
		if need := slots * fusionBlock; cap(*tp) < need {
			*tp = make([]float32, need)
		}
		temps := (*tp)[:slots*fusionBlock]
		for blk := lo; blk < hi; blk++ {
			start := blk * fusionBlock
			end := min(start+fusionBlock, size)
			p.evalBlock(leaves, temps, start, end, out[start:end])
		}
		fusionTemps.Put(tp)
	})
	return output, nil
}

// evalBlock evaluates the program over elements [start, end) into dst.
func (p *fusedProgram) evalBlock(leaves [][]float32, temps []float32, start, end int, dst []float32) {
	n := end - start
	nLeaves := len(leaves)
	for i, strides := range p.bcast {
		if strides != nil {
			k := len(p.instrs) + i
			fillBroadcast(temps[k*fusionBlock:k*fusionBlock+n], leaves[i], strides, p.dims, start)
		}
	}
	operand := func(r int) (vec []float32, s float32, isScalar bool) {
		if r < nLeaves {
			switch {
			case p.scalar[r]:
				return nil, leaves[r][0], true
			case p.bcast[r] != nil:
				k := len(p.instrs) + r
				return temps[k*fusionBlock : k*fusionBlock+n], 0, false
			}
			return leaves[r][start:end], 0, false
		}
		j := r - nLeaves
		return temps[j*fusionBlock : j*fusionBlock+n], 0, false
	}
	for j, in := range p.instrs {
		res := temps[j*fusionBlock : j*fusionBlock+n]
		a, as, aScalar := operand(in.a)
		if in.b < 0 {
			fusedUnary(in.op, a, res)
			continue
		}
		b, bs, bScalar := operand(in.b)
		switch {
		case aScalar:
			fusedBinaryScalarVec(in.op, as, b, res)
		case bScalar:
			fusedBinaryVecScalar(in.op, a, bs, res)
		default:
			fusedBinaryVecVec(in.op, a, b, res)
		}
	}
	last := len(p.instrs) - 1
	copy(dst, temps[last*fusionBlock:last*fusionBlock+n])
}

// fusedUnary runs a unary op with the kernel its unfused executor uses.
func fusedUnary(op compute.OpType, in, out []float32) {
	switch op {
	case compute.OpTypeNeg:
		execNegGeneric(in, out)
	case compute.OpTypeAbs:
		execAbsGeneric(in, out)
	case compute.OpTypeSqrt:
		execSqrtGeneric(in, out)
	case compute.OpTypeRsqrt:
		execRsqrtGeneric(in, out)
	case compute.OpTypeExp:
		unaryKernels.exp(in, out) // the float32 fast path's kernel (unary_fast.go)
	case compute.OpTypeLog:
		execLogGeneric(in, out)
	case compute.OpTypeLogistic:
		unaryKernels.logistic(in, out) // the float32 fast path's kernel (unary_fast.go)
	case compute.OpTypeTanh:
		execTanhGeneric(in, out)
	}
}

// fusedKind maps a fusable binary op to the kind of the binary fast
// path's kernels (binary_fast*.go), which the fused node shares.
func fusedKind(op compute.OpType) binaryKind {
	switch op {
	case compute.OpTypeAdd:
		return binAdd
	case compute.OpTypeSub:
		return binSub
	case compute.OpTypeMul:
		return binMul
	}
	return binDiv
}

func fusedBinaryVecVec(op compute.OpType, a, b, out []float32) {
	binaryBoth(fusedKind(op), a, b, out)
}

func fusedBinaryVecScalar(op compute.OpType, a []float32, b float32, out []float32) {
	binaryLHS(fusedKind(op), a, b, out)
}

func fusedBinaryScalarVec(op compute.OpType, a float32, b, out []float32) {
	binaryRHS(fusedKind(op), a, b, out)
}
