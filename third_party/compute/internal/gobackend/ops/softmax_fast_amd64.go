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

// softmaxRowsAVX2 is softmaxRowsPortable 8 lanes at a time. The exp is
// expAVX2 (unary_fast_amd64.go), NaN lanes given back as the Exp kernel
// does, so each e is expFloat32's bits. A row's last n%8 elements take
// partial loads and stores, their lanes past the row zeroed before the sum
// (adding +0 leaves a lane's sum as it is, as in the portable kernel). The
// kernel ends with VZEROUPPER (see unary_fast_amd64.go).
func softmaxRowsAVX2(in, out []float32, n int) {
	c := newExpConsts()
	negInf := archsimd.BroadcastFloat32x8(float32(math.Inf(-1)))
	laneIndex := archsimd.LoadInt32x8(&[8]int32{0, 1, 2, 3, 4, 5, 6, 7})
	body := n &^ 7
	tail := laneIndex.Less(archsimd.BroadcastInt32x8(int32(n - body))) // the lanes of the last n%8 elements
	var lanes [softmaxLanes]float32
	out = out[:len(in)]
	for start := 0; start+n <= len(in); start += n {
		x, y := in[start:start+n], out[start:start+n]

		// Pass 1: the maximum.
		mv := negInf
		for i := 0; i < body; i += 8 {
			mv = mv.Max(archsimd.LoadFloat32x8Slice(x[i:]))
		}
		mv.Store(&lanes)
		m := lanes[0]
		for _, v := range lanes[1:] {
			m = max(m, v)
		}
		for _, v := range x[body:] {
			m = max(m, v)
		}
		mb := archsimd.BroadcastFloat32x8(m)

		// Pass 2: e = exp(x - m) into y, summed per lane.
		acc := c.zero
		for i := 0; i < body; i += 8 {
			d := archsimd.LoadFloat32x8Slice(x[i:]).Sub(mb)
			e := d.Merge(expAVX2(d, &c), d.IsNaN())
			e.StoreSlice(y[i:])
			acc = acc.Add(e)
		}
		if body < n {
			d := archsimd.LoadFloat32x8SlicePart(x[body:]).Sub(mb)
			e := d.Merge(expAVX2(d, &c), d.IsNaN())
			e.StoreSlicePart(y[body:])
			acc = acc.Add(e.Masked(tail))
		}
		acc.Store(&lanes)
		sb := archsimd.BroadcastFloat32x8(sumSoftmaxLanes(&lanes))

		// Pass 3: out = e / s.
		for i := 0; i < body; i += 8 {
			archsimd.LoadFloat32x8Slice(y[i:]).Div(sb).StoreSlice(y[i:])
		}
		if body < n {
			archsimd.LoadFloat32x8SlicePart(y[body:]).Div(sb).StoreSlicePart(y[body:])
		}
	}
	archsimd.ClearAVXUpperBits()
}
