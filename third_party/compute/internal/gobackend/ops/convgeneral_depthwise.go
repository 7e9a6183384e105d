// Fast path for float32 depthwise ConvGeneral (star-pipeline patch, see
// third_party/README.md). The generic executor (convgeneral.go,
// gen_convgeneral_exec_full.go) visits every output element on one
// goroutine and walks the whole kernel for it through index iterators.
// GConv's long causal convolution and its two gradients are depthwise
// convolutions, channels last, one group per channel:
//
//	out[n, o..., c] = sum over kernel positions p... of in[n, o+p-padLow, c] * w[p..., 0, c]
//
// where input positions in the padding are skipped. This file runs exactly
// that case (float32, batch first, spatial axes in order, channels last,
// channelGroupCount == channels, batchGroupCount 1, kernel input channels
// 1, strides 1, no dilations, paddings >= 0) and hands everything else to
// execConvGeneral.
//
// Work: channels are taken 8 at a time (a channel block, the SIMD width);
// for one batch element and one block, the input and the kernel are packed
// into contiguous [positions][8] scratch buffers, so that the sweep along
// the last spatial axis reads consecutive 32-byte rows instead of rows
// C*4 bytes apart (which alias in the L1 cache). Along the last spatial
// axis, outputs are computed dwconvBlock at a time: one kernel row load
// serves the whole block over the kernel positions valid for all of them
// (dwconvKernelSet.full), and the few positions valid for only some of
// them, a triangle at each end, are one call each (prefix, suffix).
// Kernel positions along the other spatial axes are the outer loop, with
// partial sums kept in a row buffer of at most dwconvRowChunk outputs.
//
// Bits: every output element is summed from +0 over its valid kernel
// positions in row-major order, one float32 multiply then one float32 add
// per position (no fused multiply-add): the generic executor's operations
// in the generic executor's order. Results are therefore bit-for-bit the
// generic executor's wherever the Go compiler does not fuse its scalar
// multiply-add (amd64 at the default GOAMD64=v1), the AVX2 kernels
// (convgeneral_depthwise_avx2.go) and the portable ones below give the
// same bits, and the split over the backend's workers (by batch element,
// channel block and range of output positions, fixed by the shapes alone)
// does not change any element's value.

package ops

import (
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
)

const (
	// dwconvLanes is the width of a channel block.
	dwconvLanes = 8
	// dwconvBlock is the number of outputs along the last spatial axis
	// that dwconvKernelSet.full computes together: each output is one
	// chain of dependent additions, and 6 chains hide most of a vector
	// add's latency (3 to 4 cycles, 2 issued per cycle), while 6
	// accumulators and 6 input rows still fit in the 16 AVX2 registers.
	// (4 and 8 were slower on the AMD EPYC this was measured on: 8 spills
	// registers.)
	dwconvBlock = 6
	// dwconvRowChunk is the most outputs of one row (along the last
	// spatial axis) whose partial sums are kept while the outer kernel
	// positions are swept: 256 x 8 float32 = 8 KiB.
	dwconvRowChunk = 256
	// dwconvMinTasks is the number of tasks below which the output
	// positions of one (batch element, channel block) are split further.
	dwconvMinTasks = 8
	// dwconvMinSegment is the fewest output positions of a task.
	dwconvMinSegment = 16
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeConvGeneral, gobackend.PriorityTyped, execConvGeneralDepthwise)
}

// dwconvKernelSet holds the inner loops of the fast path. Both sets
// (portable below, AVX2 in convgeneral_depthwise_avx2.go) make the same
// float32 operations in the same order on each lane.
type dwconvKernelSet struct {
	name string
	// full adds to each output r in [0, dwconvBlock), acc[r*8 : r*8+8],
	// for j in [0, n): x[(j+r)*8 : (j+r)*8+8] * w[j*8 : j*8+8], j
	// ascending.
	full func(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32, n int)
	// one adds to acc, for j in [0, n): x[j*8 : j*8+8] * w[j*8 : j*8+8],
	// j ascending.
	one func(acc *[dwconvLanes]float32, x, w []float32, n int)
	// prefix adds, for s in [0, dwconvBlock-1) and each output
	// r >= dwconvBlock-1-s, x[(r+s-b)*8 : (r+s-b)*8+8] * w[s*8 : s*8+8] to
	// acc[r*8 : r*8+8], s ascending (b = dwconvBlock-1: output r starts
	// b-r kernel positions before the last one).
	prefix func(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32)
	// suffix adds, for s in [0, dwconvBlock-1) and each output
	// r <= dwconvBlock-2-s, x[(r+s)*8 : (r+s)*8+8] * w[s*8 : s*8+8] to
	// acc[r*8 : r*8+8], s ascending (output r ends dwconvBlock-1-r kernel
	// positions after the last one).
	suffix func(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32)
	// copyRows copies 8 values per row: dst[i*dstStride : i*dstStride+8]
	// = src[i*srcStride : i*srcStride+8] for i in [0, rows). (A plain
	// array copy of 32 bytes compiles to a call of runtime.memmove.)
	copyRows func(dst []float32, dstStride int, src []float32, srcStride, rows int)
}

var dwconvPortable = dwconvKernelSet{
	name: "portable", full: dwconvFullPortable, one: dwconvOnePortable,
	prefix: dwconvPrefixPortable, suffix: dwconvSuffixPortable, copyRows: dwconvCopyRowsPortable,
}

// dwconvKernels are the kernels in use: the AVX2 ones where
// convgeneral_depthwise_avx2.go's init selects them.
var dwconvKernels = dwconvPortable

// dwconvPlan is a depthwise convolution the fast path runs: batch n,
// channels c, and per spatial axis the input, kernel and output dimensions
// and the low padding.
type dwconvPlan struct {
	batch, channels        int
	inDims, kDims, outDims []int
	padLow                 []int
	inSize, kSize, outSize int   // spatial sizes (products of the dims)
	inRowLen, kRowLen      int   // last spatial dimension of input and kernel
	outRowLen              int   // last spatial dimension of the output
	numBlocks, numSegments int   // channel blocks; output segments per (batch, block)
	inOuterStr, kOuterStr  []int // strides, in rows, of the spatial axes but the last
	outOuterDims           []int // output dims of the spatial axes but the last
}

// dwconvAxisRange reports whether axes is exactly from, from+1, ..., from+n-1.
func dwconvAxisRange(axes []int, from, n int) bool {
	if len(axes) != n {
		return false
	}
	for i, a := range axes {
		if a != from+i {
			return false
		}
	}
	return true
}

// dwconvAllOnes reports whether every value of v is 1 (true for an empty v).
func dwconvAllOnes(v []int) bool {
	for _, x := range v {
		if x != 1 {
			return false
		}
	}
	return true
}

// planDepthwise returns the plan of a ConvGeneral node with operands of
// shapes input and kernel, and false for anything but the depthwise,
// channels-last, float32 form this file runs.
func planDepthwise(params *convNode, input, kernel, output shapes.Shape) (*dwconvPlan, bool) {
	if input.DType != dtypes.Float32 || kernel.DType != dtypes.Float32 || output.DType != dtypes.Float32 ||
		input.IsDynamic() || kernel.IsDynamic() || output.IsDynamic() {
		return nil, false
	}
	rank := input.Rank()
	k := rank - 2
	if k < 1 || kernel.Rank() != rank || output.Rank() != rank {
		return nil, false
	}
	ax := params.axes
	if ax.InputBatch != 0 || ax.InputChannels != k+1 || !dwconvAxisRange(ax.InputSpatial, 1, k) ||
		ax.KernelInputChannels != k || ax.KernelOutputChannels != k+1 || !dwconvAxisRange(ax.KernelSpatial, 0, k) ||
		ax.OutputBatch != 0 || ax.OutputChannels != k+1 || !dwconvAxisRange(ax.OutputSpatial, 1, k) {
		return nil, false
	}
	c := input.Dimensions[k+1]
	if c < 1 || params.channelGroupCount != c || params.batchGroupCount != 1 ||
		kernel.Dimensions[k] != 1 || kernel.Dimensions[k+1] != c || output.Dimensions[k+1] != c ||
		output.Dimensions[0] != input.Dimensions[0] || input.Dimensions[0] < 1 {
		return nil, false
	}
	if !dwconvAllOnes(params.strides) || len(params.strides) != k || !dwconvAllOnes(params.inputDilations) ||
		!dwconvAllOnes(params.kernelDilations) || len(params.paddings) != k {
		return nil, false
	}
	p := &dwconvPlan{
		batch: input.Dimensions[0], channels: c,
		inDims: input.Dimensions[1 : k+1], kDims: kernel.Dimensions[:k], outDims: output.Dimensions[1 : k+1],
		padLow: make([]int, k),
		inSize: 1, kSize: 1, outSize: 1,
	}
	for d := range k {
		lo, hi := params.paddings[d][0], params.paddings[d][1]
		in, kd, out := p.inDims[d], p.kDims[d], p.outDims[d]
		if lo < 0 || hi < 0 || in < 1 || kd < 1 || out < 1 || out != in+lo+hi-kd+1 {
			return nil, false
		}
		p.padLow[d] = lo
		p.inSize *= in
		p.kSize *= kd
		p.outSize *= out
	}
	p.inRowLen, p.kRowLen, p.outRowLen = p.inDims[k-1], p.kDims[k-1], p.outDims[k-1]
	// Strides, in rows of the last axis, of the outer spatial axes.
	p.inOuterStr = make([]int, k-1)
	p.kOuterStr = make([]int, k-1)
	p.outOuterDims = p.outDims[:k-1]
	si, sk := 1, 1
	for d := k - 2; d >= 0; d-- {
		p.inOuterStr[d], p.kOuterStr[d] = si, sk
		si *= p.inDims[d]
		sk *= p.kDims[d]
	}
	p.numBlocks = (c + dwconvLanes - 1) / dwconvLanes
	p.numSegments = 1
	if units := p.batch * p.numBlocks; units < dwconvMinTasks {
		// Each segment packs the input again: split only as far as
		// segments keep dwconvMinSegment outputs and the kernel has more
		// positions than there are segments.
		p.numSegments = max(1, min((dwconvMinTasks+units-1)/units, p.outSize/dwconvMinSegment, p.kSize))
	}
	return p, true
}

// execConvGeneralDepthwise runs the depthwise form on the fast path and
// everything else on execConvGeneral.
func execConvGeneralDepthwise(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
	params, ok := node.Data.(*convNode)
	if !ok {
		return execConvGeneral(backend, node, inputs, inputsOwned)
	}
	plan, ok := planDepthwise(params, inputs[0].RawShape, inputs[1].RawShape, node.Shape)
	if !ok {
		return execConvGeneral(backend, node, inputs, inputsOwned)
	}
	output, err := backend.GetBuffer(node.Shape)
	if err != nil {
		return nil, err
	}
	plan.run(backend, inputs[0].Flat.([]float32), inputs[1].Flat.([]float32), output.Flat.([]float32), dwconvKernels)
	return output, nil
}

// dwconvScratch is a task's working memory.
type dwconvScratch struct {
	x, w, acc []float32
	rows      []int // pairs (input row, kernel row) of the valid outer kernel positions
	idx, q    []int // per outer axis: input minus kernel index, kernel index
	lo, hi    []int // per outer axis: valid kernel index range
}

var dwconvScratchPool = sync.Pool{New: func() any { return new(dwconvScratch) }}

// dwconvPackedPool holds the buffers of kernels packed for a whole call.
var dwconvPackedPool = sync.Pool{New: func() any { return new([]float32) }}

// dwconvGrow returns s[:n], reallocated when its capacity is short.
func dwconvGrow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// run computes out from x (the input) and w (the kernel), every element
// written. Tasks are (batch element, channel block, output segment),
// spread over the backend's workers. When several tasks share a channel
// block, the kernel is packed once per block beforehand.
func (p *dwconvPlan) run(backend *gobackend.Backend, x, w, out []float32, kernels dwconvKernelSet) {
	const lanes = dwconvLanes
	var packedW []float32
	if p.batch*p.numSegments > 1 {
		ps := dwconvPackedPool.Get().(*[]float32)
		defer dwconvPackedPool.Put(ps)
		*ps = dwconvGrow(*ps, p.numBlocks*p.kSize*lanes)
		packedW = *ps
		gobackend.ParallelChunks(backend, p.numBlocks, func(block int) {
			c0 := block * lanes
			packChannels(packedW[block*p.kSize*lanes:(block+1)*p.kSize*lanes], w, p.kSize, p.channels, c0,
				min(lanes, p.channels-c0), kernels)
		})
	}
	perBatch := p.numBlocks * p.numSegments
	gobackend.ParallelChunks(backend, p.batch*perBatch, func(task int) {
		n, rest := task/perBatch, task%perBatch
		block, seg := rest/p.numSegments, rest%p.numSegments
		start := seg * p.outSize / p.numSegments
		end := (seg + 1) * p.outSize / p.numSegments
		s := dwconvScratchPool.Get().(*dwconvScratch)
		var wp []float32
		if packedW != nil {
			wp = packedW[block*p.kSize*lanes : (block+1)*p.kSize*lanes]
		}
		p.runTask(s, x, w, wp, out, n, block, start, end, kernels)
		dwconvScratchPool.Put(s)
	})
}

// runTask computes, for batch element n and the channels of block, the
// outputs at the flat spatial positions [start, end). packedW is the
// block's packed kernel, or nil to pack it here.
func (p *dwconvPlan) runTask(s *dwconvScratch, x, w, packedW, out []float32, n, block, start, end int, kernels dwconvKernelSet) {
	const lanes = dwconvLanes
	c := p.channels
	c0 := block * lanes
	width := min(lanes, c-c0)

	// Pack the kernel and the input slab of (n, block) as [positions][8],
	// lanes past the last channel zero.
	if packedW == nil {
		s.w = dwconvGrow(s.w, p.kSize*lanes)
		packChannels(s.w, w, p.kSize, c, c0, width, kernels)
		packedW = s.w
	}
	s.x = dwconvGrow(s.x, p.inSize*lanes)
	packChannels(s.x, x[n*p.inSize*c:], p.inSize, c, c0, width, kernels)

	k := len(p.inDims)
	s.idx = dwconvGrow(s.idx, k-1)
	s.lo = dwconvGrow(s.lo, k-1)
	s.hi = dwconvGrow(s.hi, k-1)
	outBase := n * p.outSize * c
	for pos := start; pos < end; {
		row, rowStart := pos/p.outRowLen, pos%p.outRowLen
		rowEnd := min(p.outRowLen, rowStart+(end-pos))
		p.outerPositions(s, row)
		for t0 := rowStart; t0 < rowEnd; t0 += dwconvRowChunk {
			tn := min(rowEnd-t0, dwconvRowChunk)
			s.acc = dwconvGrow(s.acc, tn*lanes)
			acc := s.acc
			clear(acc)
			for i := 0; i < len(s.rows); i += 2 {
				xr := s.x[s.rows[i]*p.inRowLen*lanes : (s.rows[i]+1)*p.inRowLen*lanes]
				wr := packedW[s.rows[i+1]*p.kRowLen*lanes : (s.rows[i+1]+1)*p.kRowLen*lanes]
				p.accumulateRow(acc, xr, wr, t0, tn, &kernels)
			}
			// Store the sums.
			o := outBase + (row*p.outRowLen+t0)*c + c0
			if width == lanes {
				kernels.copyRows(out[o:], c, acc, lanes, tn)
			} else {
				for t := range tn {
					copy(out[o+t*c:o+t*c+width], acc[t*lanes:t*lanes+width])
				}
			}
		}
		pos += rowEnd - rowStart
	}
}

// packChannels copies channels [c0, c0+width) of the first positions
// positions of src (channels last, c channels) to dst as [positions][8],
// zero in the lanes past width.
func packChannels(dst, src []float32, positions, c, c0, width int, kernels dwconvKernelSet) {
	const lanes = dwconvLanes
	if width == lanes {
		kernels.copyRows(dst, lanes, src[c0:], c, positions)
		return
	}
	for i := range positions {
		d := dst[i*lanes : i*lanes+lanes]
		copy(d, src[i*c+c0:i*c+c0+width])
		clear(d[width:])
	}
}

// outerPositions sets s.rows to the (input row, kernel row) pairs, in
// rows of the last spatial axis, of the kernel positions along the other
// spatial axes that fall inside the input for the output row row, in
// row-major order of the kernel positions (the generic executor's order).
func (p *dwconvPlan) outerPositions(s *dwconvScratch, row int) {
	s.rows = s.rows[:0]
	outer := len(p.outOuterDims)
	// Output index o_d of each outer axis, and the valid kernel range
	// [lo_d, hi_d] along it: 0 <= o_d + q_d - padLow_d < inDims_d.
	for d := outer - 1; d >= 0; d-- {
		o := row % p.outOuterDims[d]
		row /= p.outOuterDims[d]
		lo := max(0, p.padLow[d]-o)
		hi := min(p.kDims[d]-1, p.padLow[d]-o+p.inDims[d]-1)
		if lo > hi {
			return // no kernel position inside the input
		}
		s.lo[d], s.hi[d] = lo, hi
		s.idx[d] = o - p.padLow[d] // input index minus the kernel index
	}
	s.q = dwconvGrow(s.q, outer)
	q := s.q
	copy(q, s.lo)
	for {
		inRow, kRow := 0, 0
		for d := range outer {
			inRow += (s.idx[d] + q[d]) * p.inOuterStr[d]
			kRow += q[d] * p.kOuterStr[d]
		}
		s.rows = append(s.rows, inRow, kRow)
		d := outer - 1
		for ; d >= 0; d-- {
			q[d]++
			if q[d] <= s.hi[d] {
				break
			}
			q[d] = s.lo[d]
		}
		if d < 0 {
			return
		}
	}
}

// accumulateRow adds to acc (outputs t0 .. t0+tn-1 of one row, 8 lanes
// each) the products of the input row xr and the kernel row wr along the
// last spatial axis, each output over its valid kernel positions in
// ascending order.
func (p *dwconvPlan) accumulateRow(acc, xr, wr []float32, t0, tn int, kernels *dwconvKernelSet) {
	const lanes, block = dwconvLanes, dwconvBlock
	r := dwconvRow{x: xr, w: wr, lo: p.padLow[len(p.padLow)-1], in: p.inRowLen, kl: p.kRowLen, kernels: kernels}
	t := t0
	for ; t+block <= t0+tn; t += block {
		r.block((*[block * lanes]float32)(acc[(t-t0)*lanes:]), t)
	}
	rest := t0 + tn - t
	switch {
	case rest == 0:
	case tn >= block:
		// The last outputs as a whole block ending at the row's end, in a
		// copy: the accumulators of the outputs already done start from
		// zeros and are dropped. The accumulators do not mix, so the
		// outputs kept get the bits they would get alone.
		var tmp [block * lanes]float32
		done := block - rest
		copy(tmp[done*lanes:], acc[(t-t0)*lanes:])
		r.block(&tmp, t-done)
		copy(acc[(t-t0)*lanes:], tmp[done*lanes:])
	default:
		for ; t < t0+tn; t++ {
			r.one((*[lanes]float32)(acc[(t-t0)*lanes:]), t, r.pmin(t), r.pmax(t))
		}
	}
}

// dwconvRow is one input row and one kernel row along the last spatial
// axis: output t takes the kernel positions p in [pmin(t), pmax(t)], with
// the input at t+p-lo.
type dwconvRow struct {
	x, w       []float32
	lo, in, kl int // low padding, input length, kernel length
	kernels    *dwconvKernelSet
}

func (r *dwconvRow) pmin(t int) int { return max(0, r.lo-t) }
func (r *dwconvRow) pmax(t int) int { return min(r.kl-1, r.lo-t+r.in-1) }

// one adds to a (output t) the kernel positions [from, to].
func (r *dwconvRow) one(a *[dwconvLanes]float32, t, from, to int) {
	const lanes = dwconvLanes
	if from > to {
		return
	}
	xi := t + from - r.lo
	r.kernels.one(a, r.x[xi*lanes:], r.w[from*lanes:], to-from+1)
}

// block adds to a the outputs t, ..., t+dwconvBlock-1: each over the
// kernel positions before those valid for the whole block, then (one
// call of full) over those, then over the positions after them. Away from
// the ends of the kernel, the positions before and after make triangles
// (output r starts block-1-r positions early, or ends r positions early),
// each one call of prefix or suffix.
func (r *dwconvRow) block(a *[dwconvBlock * dwconvLanes]float32, t int) {
	const lanes, block = dwconvLanes, dwconvBlock
	sub := func(i int) *[lanes]float32 { return (*[lanes]float32)(a[i*lanes:]) }
	pb, pc := r.pmin(t), r.pmax(t+block-1)
	if pb > pc { // no position valid for the whole block
		for i := range block {
			r.one(sub(i), t+i, r.pmin(t+i), r.pmax(t+i))
		}
		return
	}
	switch r.pmin(t + block - 1) {
	case pb: // every output starts at pb
	case pb - (block - 1): // a whole triangle
		xi := t + pb - r.lo
		r.kernels.prefix(a, r.x[xi*lanes:], r.w[(pb-block+1)*lanes:])
	default:
		for i := 1; i < block; i++ {
			r.one(sub(i), t+i, r.pmin(t+i), pb-1)
		}
	}
	xi := t + pb - r.lo
	r.kernels.full(a, r.x[xi*lanes:], r.w[pb*lanes:], pc-pb+1)
	switch r.pmax(t) {
	case pc: // every output ends at pc
	case pc + block - 1: // a whole triangle
		xi := t + pc + 1 - r.lo
		r.kernels.suffix(a, r.x[xi*lanes:], r.w[(pc+1)*lanes:])
	default:
		for i := range block - 1 {
			r.one(sub(i), t+i, pc+1, r.pmax(t+i))
		}
	}
}

// dwconvFullPortable is dwconvKernelSet.full in plain Go. The explicit
// float32 conversion of each product keeps the compiler from fusing the
// multiply and the add, on any architecture.
func dwconvFullPortable(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32, n int) {
	const lanes = dwconvLanes
	x = x[:(n+dwconvBlock-1)*lanes]
	w = w[:n*lanes]
	for j := range n {
		wj := (*[lanes]float32)(w[j*lanes:])
		for r := range dwconvBlock {
			xr := (*[lanes]float32)(x[(j+r)*lanes:])
			a := (*[lanes]float32)(acc[r*lanes:])
			for l := range lanes {
				a[l] += float32(xr[l] * wj[l])
			}
		}
	}
}

// dwconvOnePortable is dwconvKernelSet.one in plain Go (see
// dwconvFullPortable).
func dwconvOnePortable(acc *[dwconvLanes]float32, x, w []float32, n int) {
	const lanes = dwconvLanes
	x = x[:n*lanes]
	w = w[:n*lanes]
	for j := range n {
		xj := (*[lanes]float32)(x[j*lanes:])
		wj := (*[lanes]float32)(w[j*lanes:])
		for l := range lanes {
			acc[l] += float32(xj[l] * wj[l])
		}
	}
}

// dwconvCopyRowsPortable is dwconvKernelSet.copyRows in plain Go.
func dwconvCopyRowsPortable(dst []float32, dstStride int, src []float32, srcStride, rows int) {
	const lanes = dwconvLanes
	if rows <= 0 {
		return
	}
	dst = dst[:(rows-1)*dstStride+lanes]
	src = src[:(rows-1)*srcStride+lanes]
	for i := range rows {
		d := (*[lanes]float32)(dst[i*dstStride:])
		s := (*[lanes]float32)(src[i*srcStride:])
		for l := range lanes {
			d[l] = s[l]
		}
	}
}

// dwconvPrefixPortable is dwconvKernelSet.prefix in plain Go (see
// dwconvFullPortable).
func dwconvPrefixPortable(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32) {
	const lanes, b = dwconvLanes, dwconvBlock - 1
	x = x[:b*lanes]
	w = w[:b*lanes]
	for s := range b {
		ws := (*[lanes]float32)(w[s*lanes:])
		for r := b - s; r <= b; r++ {
			xr := (*[lanes]float32)(x[(r+s-b)*lanes:])
			a := (*[lanes]float32)(acc[r*lanes:])
			for l := range lanes {
				a[l] += float32(xr[l] * ws[l])
			}
		}
	}
}

// dwconvSuffixPortable is dwconvKernelSet.suffix in plain Go (see
// dwconvFullPortable).
func dwconvSuffixPortable(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32) {
	const lanes, b = dwconvLanes, dwconvBlock - 1
	x = x[:b*lanes]
	w = w[:b*lanes]
	for s := range b {
		ws := (*[lanes]float32)(w[s*lanes:])
		for r := 0; r < b-s; r++ {
			xr := (*[lanes]float32)(x[(r+s)*lanes:])
			a := (*[lanes]float32)(acc[r*lanes:])
			for l := range lanes {
				a[l] += float32(xr[l] * ws[l])
			}
		}
	}
}
