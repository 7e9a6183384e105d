//go:build amd64 && goexperiment.simd

// AVX2 row additions for the ScatterSum fast path (scatter_fast.go); other
// builds, CPUs without AVX2 and GOMLX_SIMD_AVX2=false keep its portable
// loops.

package ops

import (
	"simd/archsimd"

	"github.com/gomlx/compute/support/envutil"
)

func init() {
	if envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) && archsimd.X86.AVX2() {
		scatterAddFloat32 = scatterAddFloat32AVX2
		scatterAddFloat64 = scatterAddFloat64AVX2
	}
}

// scatterAddFloat32AVX2 is addRow for float32, 8 lanes at a time.
func scatterAddFloat32AVX2(d, s []float32) {
	s = s[:len(d)]
	i := 0
	for ; i+8 <= len(d); i += 8 {
		archsimd.LoadFloat32x8Slice(d[i:]).Add(archsimd.LoadFloat32x8Slice(s[i:])).StoreSlice(d[i:])
	}
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
	for ; i < len(d); i++ {
		d[i] += s[i]
	}
}

// scatterAddFloat64AVX2 is addRow for float64, 4 lanes at a time.
func scatterAddFloat64AVX2(d, s []float64) {
	s = s[:len(d)]
	i := 0
	for ; i+4 <= len(d); i += 4 {
		archsimd.LoadFloat64x4Slice(d[i:]).Add(archsimd.LoadFloat64x4Slice(s[i:])).StoreSlice(d[i:])
	}
	archsimd.ClearAVXUpperBits() // VZEROUPPER before scalar code (unary_fast_amd64.go)
	for ; i < len(d); i++ {
		d[i] += s[i]
	}
}
