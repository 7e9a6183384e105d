//go:build amd64 && goexperiment.simd

// AVX2 inner loops of the depthwise ConvGeneral fast path
// (convgeneral_depthwise.go): one channel block (8 float32 lanes) per
// register, VMULPS then VADDPS per kernel position, no FMA, so each lane
// makes the float32 operations of the portable loops in the same order and
// both give the same bits.

package ops

import (
	"simd/archsimd"

	"github.com/gomlx/compute/support/envutil"
)

// dwconvAVX2 are the AVX2 kernels.
var dwconvAVX2 = dwconvKernelSet{name: "avx2", full4: dwconvFull4AVX2, one: dwconvOneAVX2}

func init() {
	if archsimd.X86.AVX2() && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		dwconvKernels = dwconvAVX2
	}
}

// dwconvAVX2Available reports whether the CPU can run dwconvAVX2.
func dwconvAVX2Available() bool { return archsimd.X86.AVX2() }

// dwconvFull4AVX2 is dwconvKernelSet.full4 on AVX2. The input row for
// output r at step j is the one for output r+1 at step j-1, so each step
// loads one new input row and one kernel row.
func dwconvFull4AVX2(acc *[4 * dwconvLanes]float32, x, w []float32, n int) {
	const lanes = dwconvLanes
	x = x[:(n+3)*lanes]
	w = w[:n*lanes]
	a0 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[0:]))
	a1 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[lanes:]))
	a2 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[2*lanes:]))
	a3 := archsimd.LoadFloat32x8((*[lanes]float32)(acc[3*lanes:]))
	x0 := archsimd.LoadFloat32x8((*[lanes]float32)(x[0:]))
	x1 := archsimd.LoadFloat32x8((*[lanes]float32)(x[lanes:]))
	x2 := archsimd.LoadFloat32x8((*[lanes]float32)(x[2*lanes:]))
	for j := range n {
		wj := archsimd.LoadFloat32x8((*[lanes]float32)(w[j*lanes:]))
		x3 := archsimd.LoadFloat32x8((*[lanes]float32)(x[(j+3)*lanes:]))
		a0 = a0.Add(x0.Mul(wj))
		a1 = a1.Add(x1.Mul(wj))
		a2 = a2.Add(x2.Mul(wj))
		a3 = a3.Add(x3.Mul(wj))
		x0, x1, x2 = x1, x2, x3
	}
	a0.Store((*[lanes]float32)(acc[0:]))
	a1.Store((*[lanes]float32)(acc[lanes:]))
	a2.Store((*[lanes]float32)(acc[2*lanes:]))
	a3.Store((*[lanes]float32)(acc[3*lanes:]))
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
