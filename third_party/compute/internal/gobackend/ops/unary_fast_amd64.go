//go:build amd64 && goexperiment.simd

// AVX2+FMA kernels for the float32 Exp and Logistic fast paths (see
// unary_fast.go, whose expFloat32 and logisticFloat32 make the same
// operations on one element and document them).

package ops

import (
	"simd/archsimd"
)

// The kernels end with VZEROUPPER (archsimd.ClearAVXUpperBits): the Go code
// that runs next on the thread uses SSE encodings for scalar floats, and
// with the upper halves of the YMM registers left dirty those run several
// times slower (without it, TestUnaryFastSweep's math.Exp reference calls
// ran about 30x slower, 700 ns instead of 20 ns each, on an AMD EPYC).

// avx2UnaryKernels returns the AVX2 kernels when the CPU has AVX2 and FMA
// (whatever GOMLX_SIMD_AVX2 says: selectUnaryKernels reads it).
func avx2UnaryKernels() (float32UnaryKernels, bool) {
	if !archsimd.X86.AVX2() || !archsimd.X86.FMA() {
		return float32UnaryKernels{}, false
	}
	return float32UnaryKernels{name: "avx2", exp: expFloat32AVX2, logistic: logisticFloat32AVX2}, true
}

// expConsts are the broadcast constants of expAVX2.
type expConsts struct {
	log2e, negLn2Hi, negLn2Lo, c2, c3, c4, c5, c6, one, zero, maxArg, zeroArg archsimd.Float32x8
	bias                                                                      archsimd.Int32x8
}

func newExpConsts() expConsts {
	return expConsts{
		log2e:    archsimd.BroadcastFloat32x8(expLog2E),
		negLn2Hi: archsimd.BroadcastFloat32x8(-expLn2Hi),
		negLn2Lo: archsimd.BroadcastFloat32x8(-expLn2Lo),
		c2:       archsimd.BroadcastFloat32x8(expC2),
		c3:       archsimd.BroadcastFloat32x8(expC3),
		c4:       archsimd.BroadcastFloat32x8(expC4),
		c5:       archsimd.BroadcastFloat32x8(expC5),
		c6:       archsimd.BroadcastFloat32x8(expC6),
		one:      archsimd.BroadcastFloat32x8(1),
		maxArg:   archsimd.BroadcastFloat32x8(expMaxArg),
		zeroArg:  archsimd.BroadcastFloat32x8(expZeroArg),
		bias:     archsimd.BroadcastInt32x8(127),
	}
}

// expAVX2 is expFloat32 on 8 lanes, except for NaN lanes, whose value is
// unspecified (the callers put the operand back).
func expAVX2(x archsimd.Float32x8, c *expConsts) archsimd.Float32x8 {
	// Lanes at or below zeroArg compute exp(0) and are zeroed at the end, so
	// no lane runs into the (slow) underflow of the last multiplication.
	tiny := x.LessEqual(c.zeroArg)
	v := c.zero.Merge(x.Min(c.maxArg), tiny)
	n := v.Mul(c.log2e).RoundToEven()
	r := n.MulAdd(c.negLn2Hi, v)
	r = n.MulAdd(c.negLn2Lo, r)
	q := c.c6.Mul(r).Add(c.c5)
	q = q.Mul(r).Add(c.c4)
	q = q.Mul(r).Add(c.c3)
	q = q.Mul(r).Add(c.c2)
	r2 := r.Mul(r)
	y := q.Mul(r2).Add(r)
	p := y.Add(c.one)
	k := n.ConvertToInt32()
	k1 := k.ShiftAllRight(1)
	k2 := k.Sub(k1)
	s1 := k1.Add(c.bias).ShiftAllLeft(23).AsFloat32x8()
	s2 := k2.Add(c.bias).ShiftAllLeft(23).AsFloat32x8()
	return c.zero.Merge(p.Mul(s1).Mul(s2), tiny)
}

func expFloat32AVX2(in, out []float32) {
	c := newExpConsts()
	out = out[:len(in)]
	i := 0
	for ; i+8 <= len(in); i += 8 {
		x := archsimd.LoadFloat32x8Slice(in[i:])
		x.Merge(expAVX2(x, &c), x.IsNaN()).StoreSlice(out[i:])
	}
	if i < len(in) {
		x := archsimd.LoadFloat32x8SlicePart(in[i:])
		x.Merge(expAVX2(x, &c), x.IsNaN()).StoreSlicePart(out[i:])
	}
	archsimd.ClearAVXUpperBits()
}

// logisticAVX2 is logisticFloat32 on 8 lanes.
func logisticAVX2(x archsimd.Float32x8, c *expConsts, sign archsimd.Int32x8) archsimd.Float32x8 {
	e := expAVX2(x.AsInt32x8().Or(sign).AsFloat32x8(), c) // exp(-|x|)
	d := e.Add(c.one)
	num := c.one.Merge(e, x.GreaterEqual(c.zero))
	return x.Merge(num.Div(d), x.IsNaN())
}

func logisticFloat32AVX2(in, out []float32) {
	c := newExpConsts()
	sign := archsimd.BroadcastInt32x8(-1 << 31)
	out = out[:len(in)]
	i := 0
	for ; i+8 <= len(in); i += 8 {
		logisticAVX2(archsimd.LoadFloat32x8Slice(in[i:]), &c, sign).StoreSlice(out[i:])
	}
	if i < len(in) {
		logisticAVX2(archsimd.LoadFloat32x8SlicePart(in[i:]), &c, sign).StoreSlicePart(out[i:])
	}
	archsimd.ClearAVXUpperBits()
}
