//go:build amd64 && goexperiment.simd

package ops

import (
	"simd/archsimd"

	"github.com/gomlx/compute/support/envutil"
)

// AVX2 rows for binary_fast.go: eight float32 per instruction (VADDPS,
// VSUBPS, VMULPS, VDIVPS), each lane the same IEEE operation as the
// scalar loop, so a row gives the same bits either way; the scalar loops
// finish the last len%8 elements.

// binaryAVX2 is set when the CPU has AVX2 and GOMLX_SIMD_AVX2 does not
// turn it off.
var binaryAVX2 = archsimd.X86.AVX2() && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true)

// binaryBoth computes out[i] = a[i] op b[i]. out may alias a or b.
func binaryBoth(kind binaryKind, a, b, out []float32) {
	n := len(out)
	if !binaryAVX2 || n < 8 {
		binaryBothScalar(kind, a, b, out)
		return
	}
	a, b = a[:n], b[:n]
	i := 0
	switch kind {
	case binAdd:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Add(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binSub:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Sub(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binMul:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Mul(y).Store((*[8]float32)(out[i : i+8]))
		}
	default:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Div(y).Store((*[8]float32)(out[i : i+8]))
		}
	}
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
	binaryBothScalar(kind, a[i:], b[i:], out[i:])
}

// binaryLHS computes out[i] = a[i] op c. out may alias a.
func binaryLHS(kind binaryKind, a []float32, c float32, out []float32) {
	n := len(out)
	if !binaryAVX2 || n < 8 {
		binaryLHSScalar(kind, a, c, out)
		return
	}
	a = a[:n]
	y := archsimd.BroadcastFloat32x8(c)
	i := 0
	switch kind {
	case binAdd:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			x.Add(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binSub:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			x.Sub(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binMul:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			x.Mul(y).Store((*[8]float32)(out[i : i+8]))
		}
	default:
		for ; i+8 <= n; i += 8 {
			x := archsimd.LoadFloat32x8((*[8]float32)(a[i : i+8]))
			x.Div(y).Store((*[8]float32)(out[i : i+8]))
		}
	}
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
	binaryLHSScalar(kind, a[i:], c, out[i:])
}

// binaryRHS computes out[i] = c op b[i]. out may alias b.
func binaryRHS(kind binaryKind, c float32, b, out []float32) {
	n := len(out)
	if !binaryAVX2 || n < 8 {
		binaryRHSScalar(kind, c, b, out)
		return
	}
	b = b[:n]
	x := archsimd.BroadcastFloat32x8(c)
	i := 0
	switch kind {
	case binAdd:
		for ; i+8 <= n; i += 8 {
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Add(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binSub:
		for ; i+8 <= n; i += 8 {
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Sub(y).Store((*[8]float32)(out[i : i+8]))
		}
	case binMul:
		for ; i+8 <= n; i += 8 {
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Mul(y).Store((*[8]float32)(out[i : i+8]))
		}
	default:
		for ; i+8 <= n; i += 8 {
			y := archsimd.LoadFloat32x8((*[8]float32)(b[i : i+8]))
			x.Div(y).Store((*[8]float32)(out[i : i+8]))
		}
	}
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
	binaryRHSScalar(kind, c, b[i:], out[i:])
}
