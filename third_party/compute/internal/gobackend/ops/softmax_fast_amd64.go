//go:build amd64 && goexperiment.simd

// AVX2+FMA row kernel of the float32 FusedSoftmax fast path (see
// softmax_fast.go, whose softmaxRowsPortable makes the same operations in
// the same order and documents them).

package ops

import (
	"math"
	"simd/archsimd"
)

// avx2SoftmaxKernel returns the AVX2 kernel when the CPU has AVX2 and FMA
// (whatever GOMLX_SIMD_AVX2 says: selectSoftmaxKernel reads it).
func avx2SoftmaxKernel() (float32SoftmaxKernel, bool) {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		return float32SoftmaxKernel{}, false
	}
	return float32SoftmaxKernel{name: "avx2", rows: softmaxRowsAVX2}, true
}

// softmaxRowsAVX2 is softmaxRowsPortable 8 lanes at a time. A row's last
// n%8 elements take partial loads and stores, their lanes past the row set
// to -Inf for the maximum and to 0 before the sum (adding +0 leaves a lane's
// sum as it is, as in the portable kernel). The maximum and the sum are
// reduced across lanes with permutations, the sum in sumSoftmaxLanes' tree,
// so that no scalar float code runs between vector code (the Go compiler's
// scalar SSE instructions run slowly while the upper halves of the YMM
// registers are dirty, see unary_fast_amd64.go); the kernel ends with
// VZEROUPPER.
//
// Each pass is a function of its own, not inlined: with the three loops in
// one function the exp loop's constants competed with the other passes'
// vectors for the 16 YMM registers, and the kernel ran about 1.3x slower.
func softmaxRowsAVX2(in, out []float32, n int) {
	c := newExpConsts()
	body := n &^ 7
	laneIndex := archsimd.LoadInt32x8(&[8]int32{0, 1, 2, 3, 4, 5, 6, 7})
	tail := laneIndex.Less(archsimd.BroadcastInt32x8(int32(n - body))) // the lanes of the last n%8 elements
	out = out[:len(in)]
	for start := 0; start+n <= len(in); start += n {
		x, y := in[start:start+n], out[start:start+n]
		m := softmaxMaxAVX2(x, body, tail)
		s := softmaxExpSumAVX2(x, y, body, tail, m, &c)
		softmaxDivAVX2(y, body, s)
	}
	archsimd.ClearAVXUpperBits()
}

// Lane j of v.Permute(softmaxSwapK) is lane j^k of v; softmaxLane0
// broadcasts lane 0.
var (
	softmaxSwap4 = [8]uint32{4, 5, 6, 7, 0, 1, 2, 3}
	softmaxSwap2 = [8]uint32{2, 3, 0, 1, 6, 7, 4, 5}
	softmaxSwap1 = [8]uint32{1, 0, 3, 2, 5, 4, 7, 6}
	softmaxLane0 = [8]uint32{}
)

// softmaxMaxAVX2 returns the maximum of x in every lane; body is len(x)
// rounded down to a multiple of 8 and tail the lanes of the elements after
// it.
//
//go:noinline
func softmaxMaxAVX2(x []float32, body int, tail archsimd.Mask32x8) archsimd.Float32x8 {
	negInf := archsimd.BroadcastFloat32x8(float32(math.Inf(-1)))
	m := negInf
	for i := 0; i < body; i += 8 {
		m = m.Max(archsimd.LoadFloat32x8Slice(x[i:]))
	}
	if body < len(x) {
		m = m.Max(archsimd.LoadFloat32x8SlicePart(x[body:]).Merge(negInf, tail))
	}
	m = m.Max(m.Permute(archsimd.LoadUint32x8(&softmaxSwap4)))
	m = m.Max(m.Permute(archsimd.LoadUint32x8(&softmaxSwap2)))
	return m.Max(m.Permute(archsimd.LoadUint32x8(&softmaxSwap1)))
}

// softmaxExpSumAVX2 writes e = exp(x - m) into y and returns their sum in
// every lane. The exp is expAVX2 (unary_fast_amd64.go), NaN lanes given
// back as the Exp kernel does, so each e is expFloat32's bits; lane j sums
// the elements j, j+8, ... in order, and the lanes are added in
// sumSoftmaxLanes' tree.
//
//go:noinline
func softmaxExpSumAVX2(x, y []float32, body int, tail archsimd.Mask32x8, m archsimd.Float32x8, c *expConsts) archsimd.Float32x8 {
	acc := c.zero
	for i := 0; i < body; i += 8 {
		d := archsimd.LoadFloat32x8Slice(x[i:]).Sub(m)
		e := d.Merge(expAVX2(d, c), d.IsNaN())
		e.StoreSlice(y[i:])
		acc = acc.Add(e)
	}
	if body < len(x) {
		d := archsimd.LoadFloat32x8SlicePart(x[body:]).Sub(m)
		e := d.Merge(expAVX2(d, c), d.IsNaN())
		e.StoreSlicePart(y[body:])
		acc = acc.Add(e.Masked(tail))
	}
	// Lane 0 of acc+swap4 holds a0+a4, lane 2 a2+a6, ...; after swap2 lane 0
	// holds (a0+a4)+(a2+a6) and lane 1 (a1+a5)+(a3+a7); after swap1 lane 0
	// holds their sum, then broadcast.
	acc = acc.Add(acc.Permute(archsimd.LoadUint32x8(&softmaxSwap4)))
	acc = acc.Add(acc.Permute(archsimd.LoadUint32x8(&softmaxSwap2)))
	acc = acc.Add(acc.Permute(archsimd.LoadUint32x8(&softmaxSwap1)))
	return acc.Permute(archsimd.LoadUint32x8(&softmaxLane0))
}

// softmaxDivAVX2 divides y by s in place.
//
//go:noinline
func softmaxDivAVX2(y []float32, body int, s archsimd.Float32x8) {
	for i := 0; i < body; i += 8 {
		archsimd.LoadFloat32x8Slice(y[i:]).Div(s).StoreSlice(y[i:])
	}
	if body < len(y) {
		archsimd.LoadFloat32x8SlicePart(y[body:]).Div(s).StoreSlicePart(y[body:])
	}
}
