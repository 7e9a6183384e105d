// Fast float32 Exp and Logistic (star-pipeline patch, see
// third_party/README.md). The generic executors compute math.Exp in float64
// per element on one goroutine; these evaluate a float32 kernel (range
// reduction, a degree-6 polynomial, scaling by exponent bits), with AVX2 and
// FMA 8 lanes at a time (unary_fast_amd64.go) or element by element
// elsewhere, the two giving the same bits. Large operands are cut into
// fixed-size chunks spread over the backend's workers. Fused elementwise
// trees (fusion.go) call the same kernels. Other dtypes keep the generic
// executors.

package ops

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/support/envutil"
)

func init() {
	gobackend.SetNodeExecutor(compute.OpTypeExp, gobackend.PriorityTyped,
		fastFloat32UnaryExecutor(func() func(in, out []float32) { return unaryKernels.exp }, execExp))
	gobackend.SetNodeExecutor(compute.OpTypeLogistic, gobackend.PriorityTyped,
		fastFloat32UnaryExecutor(func() func(in, out []float32) { return unaryKernels.logistic }, execLogistic))
}

// float32UnaryKernels holds slice kernels for one instruction set. in and
// out have the same length and may be the same slice.
type float32UnaryKernels struct {
	name          string // "avx2" or "portable"
	exp, logistic func(in, out []float32)
}

// unaryKernels are the kernels the executors use: AVX2 ones when the CPU
// has AVX2 and FMA and GOMLX_SIMD_AVX2 does not turn them off, else the
// portable ones.
var unaryKernels = selectUnaryKernels()

func selectUnaryKernels() float32UnaryKernels {
	if k, ok := avx2UnaryKernels(); ok && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		return k
	}
	return portableUnaryKernels
}

var portableUnaryKernels = float32UnaryKernels{name: "portable", exp: expFloat32Portable, logistic: logisticFloat32Portable}

const (
	// unaryChunk is the number of elements one worker takes at a time.
	unaryChunk = 16 << 10
	// unaryParallelMin is the smallest operand split over workers.
	unaryParallelMin = 2 * unaryChunk
)

// fastFloat32UnaryExecutor runs float32 operands through the kernel that
// kernel returns (read at execution, so tests can switch it); every other
// dtype goes to generic.
func fastFloat32UnaryExecutor(kernel func() func(in, out []float32), generic gobackend.NodeExecutor) gobackend.NodeExecutor {
	return func(backend *gobackend.Backend, node *gobackend.Node, inputs []*gobackend.Buffer, inputsOwned []bool) (*gobackend.Buffer, error) {
		if inputs[0].RawShape.DType != dtypes.Float32 {
			return generic(backend, node, inputs, inputsOwned)
		}
		input, output, err := unaryOperandAndOutput(backend, inputs, inputsOwned)
		if err != nil {
			return nil, err
		}
		in := input.Flat.([]float32)
		runUnaryChunks(backend, kernel(), in, output.Flat.([]float32)[:len(in)])
		return output, nil
	}
}

// runUnaryChunks applies the elementwise kernel to in, writing out. From
// unaryParallelMin elements on, the operand is cut into unaryChunk-sized
// pieces (boundaries from the length alone); each element is computed by the
// same code whichever goroutine takes its chunk, so the result does not
// depend on the parallelism (gobackend.ParallelChunks).
func runUnaryChunks(backend *gobackend.Backend, kernel func(in, out []float32), in, out []float32) {
	n := len(in)
	if n < unaryParallelMin {
		kernel(in, out)
		return
	}
	gobackend.ParallelChunks(backend, (n+unaryChunk-1)/unaryChunk, func(c int) {
		start, end := c*unaryChunk, min((c+1)*unaryChunk, n)
		kernel(in[start:end], out[start:end])
	})
}

// Constants of the float32 exp kernel, shared by the portable and the AVX2
// code.
//
// exp(x) = 2^n * e^r with n = round(x*log2(e)) and r = x - n*ln2, |r| <=
// ln2/2 (plus rounding). ln2 is split in ln2Hi = float32(ln2) and ln2Lo, the
// float32 nearest the remainder. e^r = 1 + r + r^2*q(r), q of degree 4: the
// coefficients minimise the maximum relative error of e^r on |r| <=
// ln2/2+1e-4 (a Lawson-weighted least-squares iteration in float64); rounded
// to float32 that error is 3.7e-9 (relative), under 0.07 ulp.
const (
	expLog2E   = float32(math.Log2E)
	expLn2Hi   = float32(math.Ln2)                              // 0x3f317218
	expLn2Lo   = float32(math.Ln2 - float64(float32(math.Ln2))) // -1.9046542e-09
	expC2      = float32(0.49999993440361962)
	expC3      = float32(0.1666652052145787)
	expC4      = float32(0.041668389344643411)
	expC5      = float32(0.0083687302568368153)
	expC6      = float32(0.0013814570873576012)
	expMaxArg  = float32(89)   // above 88.7228 exp overflows: clamped here it still gives +Inf
	expZeroArg = float32(-104) // exp(x) < 2^-150 (rounds to 0) from -103.973 down: 0 at and below this
)

// expFloat32 is the portable exp kernel on one element, written so that it
// computes the same bits as the AVX2 kernel (expAVX2 in
// unary_fast_amd64.go), operation for operation:
//
//   - NaN gives the operand back, x <= expZeroArg gives +0, and x is clamped
//     at expMaxArg (a larger x, +Inf included, overflows to +Inf below).
//   - n = roundToEven(float32(x*log2e)), |n| <= 150.
//   - r = fma(n, -ln2Hi, x) then r = fma(n, -ln2Lo, r). The AVX2 kernel fuses
//     these in float32; here math.FMA computes them in float64 and the result
//     is rounded to float32. That is the same value because both exact
//     results fit float64: n*ln2Hi needs 32 bits and, when n != 0 (|x| >
//     0.34), x and n*ln2Hi are multiples of 2^-25, so x - n*ln2Hi (|.| <
//     0.35) is a float32 itself; the second sum lies below 2^-1 and is a
//     multiple of 2^-52 (ulp of ln2Lo), 51 bits. The float64 result is thus
//     exact and rounding it to float32 is the one rounding the fused
//     instruction makes.
//   - q(r) by Horner and y = r + r^2*q, each product and sum rounded to
//     float32 (unfused in both kernels: a float64 FMA rounded to float32
//     could round twice here).
//   - p = 1 + y; 2^n = 2^(n>>1) * 2^(n-(n>>1)), each factor built from
//     exponent bits and normal for |n| <= 150, and p*2^(n>>1) is exact, so
//     (p*2^(n>>1))*2^(n-(n>>1)) rounds once, to a denormal or 0 as well.
func expFloat32(x float32) float32 {
	if x != x {
		return x
	}
	if x <= expZeroArg {
		return 0
	}
	x = min(x, expMaxArg)
	n := float32(math.RoundToEven(float64(float32(x * expLog2E))))
	r := float32(math.FMA(float64(n), -float64(expLn2Hi), float64(x)))
	r = float32(math.FMA(float64(n), -float64(expLn2Lo), float64(r)))
	q := float32(float32(expC6*r) + expC5)
	q = float32(float32(q*r) + expC4)
	q = float32(float32(q*r) + expC3)
	q = float32(float32(q*r) + expC2)
	r2 := float32(r * r)
	y := float32(float32(q*r2) + r)
	p := float32(y + 1)
	k := int32(n)
	k1 := k >> 1
	k2 := k - k1
	s1 := math.Float32frombits(uint32(k1+127) << 23)
	s2 := math.Float32frombits(uint32(k2+127) << 23)
	return float32(float32(p*s1) * s2)
}

// logisticFloat32 is the portable logistic kernel on one element, the same
// operations as logisticAVX2 in unary_fast_amd64.go: e = exp(-|x|) (never
// overflows), then 1/(1+e) for x >= 0 and e/(1+e) for x < 0, so large |x|
// give 1 and 0 (through the denormals) and no NaN. NaN gives the operand
// back.
func logisticFloat32(x float32) float32 {
	if x != x {
		return x
	}
	e := expFloat32(math.Float32frombits(math.Float32bits(x) | 1<<31))
	d := float32(e + 1)
	if x < 0 {
		return e / d
	}
	return 1 / d
}

func expFloat32Portable(in, out []float32) {
	out = out[:len(in)]
	for i, x := range in {
		out[i] = expFloat32(x)
	}
}

func logisticFloat32Portable(in, out []float32) {
	out = out[:len(in)]
	for i, x := range in {
		out[i] = logisticFloat32(x)
	}
}
