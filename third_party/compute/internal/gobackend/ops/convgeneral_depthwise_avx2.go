//go:build amd64 && goexperiment.simd

// AVX2 inner loops of the depthwise ConvGeneral fast path
// (convgeneral_depthwise.go): one channel block (8 float32 lanes) per
// register, VMULPS then VADDPS per kernel position, no FMA, so each lane
// makes the float32 operations of the portable loops in the same order and
// both give the same bits.

package ops

import (
	"simd/archsimd"
	"unsafe"

	"github.com/gomlx/compute/support/envutil"
)

// dwconvAVX2 are the AVX2 kernels.
var dwconvAVX2 = dwconvKernelSet{
	name: "avx2", full: dwconvFullAVX2, one: dwconvOneAVX2,
	prefix: dwconvPrefixAVX2, suffix: dwconvSuffixAVX2, copyRows: dwconvCopyRowsAVX2,
}

func init() {
	if archsimd.X86.AVX2() && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		dwconvKernels = dwconvAVX2
	}
}

// dwconvAVX2Available reports whether the CPU can run dwconvAVX2.
func dwconvAVX2Available() bool { return archsimd.X86.AVX2() }

// dwconvFullAVX2 is dwconvKernelSet.full on AVX2. The input row for
// output r at step j is the one for output r+1 at step j-1: the loop body
// makes 6 steps, each loading one new input row into the register of the
// row no longer needed (x0, ..., x5 in turn), so that no register moves
// between steps; the steps left over load every row.
func dwconvFullAVX2(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32, n int) {
	const lanes = dwconvLanes
	x = x[:(n+dwconvBlock-1)*lanes]
	w = w[:n*lanes]
	load := func(p unsafe.Pointer, row int) archsimd.Float32x8 {
		return archsimd.LoadFloat32x8((*[lanes]float32)(unsafe.Add(p, row*4*lanes)))
	}
	a0 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[0*lanes:]))
	a1 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[1*lanes:]))
	a2 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[2*lanes:]))
	a3 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[3*lanes:]))
	a4 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[4*lanes:]))
	a5 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[5*lanes:]))
	x0 := archsimd.LoadFloat32x8((*[lanes]float32)(x[0*lanes:]))
	x1 := archsimd.LoadFloat32x8((*[lanes]float32)(x[1*lanes:]))
	x2 := archsimd.LoadFloat32x8((*[lanes]float32)(x[2*lanes:]))
	x3 := archsimd.LoadFloat32x8((*[lanes]float32)(x[3*lanes:]))
	x4 := archsimd.LoadFloat32x8((*[lanes]float32)(x[4*lanes:]))
	var x5 archsimd.Float32x8
	// Rows read in the loop: x[(j+5+s)*8 : (j+6+s)*8] and
	// w[(j+s)*8 : (j+s+1)*8] for s < 6 and j+6 <= n, inside the slices cut
	// above. (The pointers are formed from j, never past the slices' ends.)
	xb := unsafe.Pointer(unsafe.SliceData(x[5*lanes:]))
	wb := unsafe.Pointer(unsafe.SliceData(w))
	j := 0
	for ; j+6 <= n; j += 6 {
		xp := unsafe.Add(xb, j*4*lanes)
		wp := unsafe.Add(wb, j*4*lanes)
		x5 = load(xp, 0)
		w0 := load(wp, 0)
		a0 = a0.Add(x0.Mul(w0))
		a1 = a1.Add(x1.Mul(w0))
		a2 = a2.Add(x2.Mul(w0))
		a3 = a3.Add(x3.Mul(w0))
		a4 = a4.Add(x4.Mul(w0))
		a5 = a5.Add(x5.Mul(w0))
		x0 = load(xp, 1)
		w1 := load(wp, 1)
		a0 = a0.Add(x1.Mul(w1))
		a1 = a1.Add(x2.Mul(w1))
		a2 = a2.Add(x3.Mul(w1))
		a3 = a3.Add(x4.Mul(w1))
		a4 = a4.Add(x5.Mul(w1))
		a5 = a5.Add(x0.Mul(w1))
		x1 = load(xp, 2)
		w2 := load(wp, 2)
		a0 = a0.Add(x2.Mul(w2))
		a1 = a1.Add(x3.Mul(w2))
		a2 = a2.Add(x4.Mul(w2))
		a3 = a3.Add(x5.Mul(w2))
		a4 = a4.Add(x0.Mul(w2))
		a5 = a5.Add(x1.Mul(w2))
		x2 = load(xp, 3)
		w3 := load(wp, 3)
		a0 = a0.Add(x3.Mul(w3))
		a1 = a1.Add(x4.Mul(w3))
		a2 = a2.Add(x5.Mul(w3))
		a3 = a3.Add(x0.Mul(w3))
		a4 = a4.Add(x1.Mul(w3))
		a5 = a5.Add(x2.Mul(w3))
		x3 = load(xp, 4)
		w4 := load(wp, 4)
		a0 = a0.Add(x4.Mul(w4))
		a1 = a1.Add(x5.Mul(w4))
		a2 = a2.Add(x0.Mul(w4))
		a3 = a3.Add(x1.Mul(w4))
		a4 = a4.Add(x2.Mul(w4))
		a5 = a5.Add(x3.Mul(w4))
		x4 = load(xp, 5)
		w5 := load(wp, 5)
		a0 = a0.Add(x5.Mul(w5))
		a1 = a1.Add(x0.Mul(w5))
		a2 = a2.Add(x1.Mul(w5))
		a3 = a3.Add(x2.Mul(w5))
		a4 = a4.Add(x3.Mul(w5))
		a5 = a5.Add(x4.Mul(w5))
	}
	for ; j < n; j++ {
		xj := unsafe.Pointer(unsafe.SliceData(x[j*lanes:]))
		wj := archsimd.LoadFloat32x8((*[lanes]float32)(w[j*lanes:]))
		a0 = a0.Add(load(xj, 0).Mul(wj))
		a1 = a1.Add(load(xj, 1).Mul(wj))
		a2 = a2.Add(load(xj, 2).Mul(wj))
		a3 = a3.Add(load(xj, 3).Mul(wj))
		a4 = a4.Add(load(xj, 4).Mul(wj))
		a5 = a5.Add(load(xj, 5).Mul(wj))
	}
	a0.Store((*[lanes]float32)(acc[0*lanes:]))
	a1.Store((*[lanes]float32)(acc[1*lanes:]))
	a2.Store((*[lanes]float32)(acc[2*lanes:]))
	a3.Store((*[lanes]float32)(acc[3*lanes:]))
	a4.Store((*[lanes]float32)(acc[4*lanes:]))
	a5.Store((*[lanes]float32)(acc[5*lanes:]))
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
}

// dwconvOneAVX2 is dwconvKernelSet.one on AVX2.
func dwconvOneAVX2(acc *[dwconvLanes]float32, x, w []float32, n int) {
	const lanes = dwconvLanes
	x = x[:n*lanes]
	w = w[:n*lanes]
	a := archsimd.LoadFloat32x8(acc)
	for j := range n {
		xj := archsimd.LoadFloat32x8((*[lanes]float32)(x[j*lanes:]))
		wj := archsimd.LoadFloat32x8((*[lanes]float32)(w[j*lanes:]))
		a = a.Add(xj.Mul(wj))
	}
	a.Store(acc)
	archsimd.ClearAVXUpperBits()
}

// dwconvPrefixAVX2 is dwconvKernelSet.prefix on AVX2.
func dwconvPrefixAVX2(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32) {
	const lanes = dwconvLanes
	x = x[:5*lanes]
	w = w[:5*lanes]
	a1 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[1*lanes:]))
	a2 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[2*lanes:]))
	a3 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[3*lanes:]))
	a4 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[4*lanes:]))
	a5 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[5*lanes:]))
	x0 := archsimd.LoadFloat32x8((*[lanes]float32)(x[0*lanes:]))
	x1 := archsimd.LoadFloat32x8((*[lanes]float32)(x[1*lanes:]))
	x2 := archsimd.LoadFloat32x8((*[lanes]float32)(x[2*lanes:]))
	x3 := archsimd.LoadFloat32x8((*[lanes]float32)(x[3*lanes:]))
	x4 := archsimd.LoadFloat32x8((*[lanes]float32)(x[4*lanes:]))
	w0 := archsimd.LoadFloat32x8((*[lanes]float32)(w[0*lanes:]))
	a5 = a5.Add(x0.Mul(w0))
	w1 := archsimd.LoadFloat32x8((*[lanes]float32)(w[1*lanes:]))
	a4 = a4.Add(x0.Mul(w1))
	a5 = a5.Add(x1.Mul(w1))
	w2 := archsimd.LoadFloat32x8((*[lanes]float32)(w[2*lanes:]))
	a3 = a3.Add(x0.Mul(w2))
	a4 = a4.Add(x1.Mul(w2))
	a5 = a5.Add(x2.Mul(w2))
	w3 := archsimd.LoadFloat32x8((*[lanes]float32)(w[3*lanes:]))
	a2 = a2.Add(x0.Mul(w3))
	a3 = a3.Add(x1.Mul(w3))
	a4 = a4.Add(x2.Mul(w3))
	a5 = a5.Add(x3.Mul(w3))
	w4 := archsimd.LoadFloat32x8((*[lanes]float32)(w[4*lanes:]))
	a1 = a1.Add(x0.Mul(w4))
	a2 = a2.Add(x1.Mul(w4))
	a3 = a3.Add(x2.Mul(w4))
	a4 = a4.Add(x3.Mul(w4))
	a5 = a5.Add(x4.Mul(w4))
	a1.Store((*[lanes]float32)(acc[1*lanes:]))
	a2.Store((*[lanes]float32)(acc[2*lanes:]))
	a3.Store((*[lanes]float32)(acc[3*lanes:]))
	a4.Store((*[lanes]float32)(acc[4*lanes:]))
	a5.Store((*[lanes]float32)(acc[5*lanes:]))
	archsimd.ClearAVXUpperBits()
}

// dwconvSuffixAVX2 is dwconvKernelSet.suffix on AVX2.
func dwconvSuffixAVX2(acc *[dwconvBlock * dwconvLanes]float32, x, w []float32) {
	const lanes = dwconvLanes
	x = x[:5*lanes]
	w = w[:5*lanes]
	a0 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[0*lanes:]))
	a1 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[1*lanes:]))
	a2 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[2*lanes:]))
	a3 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[3*lanes:]))
	a4 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[4*lanes:]))
	x0 := archsimd.LoadFloat32x8((*[lanes]float32)(x[0*lanes:]))
	x1 := archsimd.LoadFloat32x8((*[lanes]float32)(x[1*lanes:]))
	x2 := archsimd.LoadFloat32x8((*[lanes]float32)(x[2*lanes:]))
	x3 := archsimd.LoadFloat32x8((*[lanes]float32)(x[3*lanes:]))
	x4 := archsimd.LoadFloat32x8((*[lanes]float32)(x[4*lanes:]))
	w0 := archsimd.LoadFloat32x8((*[lanes]float32)(w[0*lanes:]))
	a0 = a0.Add(x0.Mul(w0))
	a1 = a1.Add(x1.Mul(w0))
	a2 = a2.Add(x2.Mul(w0))
	a3 = a3.Add(x3.Mul(w0))
	a4 = a4.Add(x4.Mul(w0))
	w1 := archsimd.LoadFloat32x8((*[lanes]float32)(w[1*lanes:]))
	a0 = a0.Add(x1.Mul(w1))
	a1 = a1.Add(x2.Mul(w1))
	a2 = a2.Add(x3.Mul(w1))
	a3 = a3.Add(x4.Mul(w1))
	w2 := archsimd.LoadFloat32x8((*[lanes]float32)(w[2*lanes:]))
	a0 = a0.Add(x2.Mul(w2))
	a1 = a1.Add(x3.Mul(w2))
	a2 = a2.Add(x4.Mul(w2))
	w3 := archsimd.LoadFloat32x8((*[lanes]float32)(w[3*lanes:]))
	a0 = a0.Add(x3.Mul(w3))
	a1 = a1.Add(x4.Mul(w3))
	w4 := archsimd.LoadFloat32x8((*[lanes]float32)(w[4*lanes:]))
	a0 = a0.Add(x4.Mul(w4))
	a0.Store((*[lanes]float32)(acc[0*lanes:]))
	a1.Store((*[lanes]float32)(acc[1*lanes:]))
	a2.Store((*[lanes]float32)(acc[2*lanes:]))
	a3.Store((*[lanes]float32)(acc[3*lanes:]))
	a4.Store((*[lanes]float32)(acc[4*lanes:]))
	archsimd.ClearAVXUpperBits()
}

// dwconvCopyRowsAVX2 is dwconvKernelSet.copyRows on AVX2.
func dwconvCopyRowsAVX2(dst []float32, dstStride int, src []float32, srcStride, rows int) {
	const lanes = dwconvLanes
	if rows <= 0 {
		return
	}
	dst = dst[:(rows-1)*dstStride+lanes]
	src = src[:(rows-1)*srcStride+lanes]
	// The rows read and written are inside the slices cut above.
	sp := unsafe.Pointer(unsafe.SliceData(src))
	dp := unsafe.Pointer(unsafe.SliceData(dst))
	for i := range rows {
		v := archsimd.LoadFloat32x8((*[lanes]float32)(unsafe.Add(sp, i*4*srcStride)))
		v.Store((*[lanes]float32)(unsafe.Add(dp, i*4*dstStride)))
	}
	archsimd.ClearAVXUpperBits()
}
