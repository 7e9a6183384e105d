package ops

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/envutil"
)

// ulpDistance is the number of float32 values between a and b (0 when both
// are NaN, the maximum when only one is).
func ulpDistance(a, b float32) uint32 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxUint32
	}
	// Map the bits to a monotonic integer line: negatives below +0 and -0.
	ord := func(f float32) int64 {
		b := math.Float32bits(f)
		if b&(1<<31) != 0 {
			return -int64(b &^ (1 << 31))
		}
		return int64(b)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return uint32(min(d, math.MaxUint32))
}

func expReference(x float32) float32 { return float32(math.Exp(float64(x))) }

func logisticReference(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// unaryEdgeInputs are the special and boundary operands of both kernels.
func unaryEdgeInputs() []float32 {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	xs := []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		1e-40, -1e-40, 1.1754942e-38, -1.1754942e-38, 1e-30, -1e-30, 1e-8, -1e-8,
		0.34657359, -0.34657359, 0.3465736, -0.3465736, // around ln2/2
		87.3, -87.3, -87.33654, -87.34, 88, -88, 88.7, -88.7, 88.72, 88.722839, 88.72284, 88.7229,
		89, -89, 90, -90, 100, -100, -103, -103.9, -103.97, -103.98, -104, 104, -105, 105, 200, -200,
		math.MaxFloat32, -math.MaxFloat32, inf, -inf, nan, -nan,
		math.Float32frombits(0x7f800001), // signalling NaN
	}
	for n := -150; n <= 128; n++ { // the multiples of ln2 where n changes
		v := float32(float64(n) * math.Ln2)
		xs = append(xs, v, math.Nextafter32(v, inf), math.Nextafter32(v, -inf))
		h := float32((float64(n) + 0.5) * math.Ln2)
		xs = append(xs, h, math.Nextafter32(h, inf), math.Nextafter32(h, -inf))
	}
	return xs
}

// unaryRandomInputs draws n operands: half uniform over [-110, 95], half
// with uniformly random bits of magnitude below 110 (many tiny values).
func unaryRandomInputs(rng *rand.Rand, n int) []float32 {
	xs := make([]float32, n)
	for i := range xs {
		if i%2 == 0 {
			xs[i] = float32(-110 + 205*rng.Float64())
			continue
		}
		for {
			v := math.Float32frombits(rng.Uint32())
			if v == v && v > -110 && v < 110 {
				xs[i] = v
				break
			}
		}
	}
	return xs
}

// TestUnaryFastDispatch checks that GOMLX_SIMD_AVX2=false selects the
// portable kernels and that AVX2 ones are selected otherwise when the CPU
// has them.
func TestUnaryFastDispatch(t *testing.T) {
	_, hasAVX2 := avx2UnaryKernels()
	want := "portable"
	if hasAVX2 && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		want = "avx2"
	}
	if unaryKernels.name != want {
		t.Errorf("dispatched kernels %q, want %q (AVX2+FMA: %v, $%s=%q)", unaryKernels.name, want,
			hasAVX2, envutil.SIMD_AVX2_Env, os.Getenv(envutil.SIMD_AVX2_Env))
	}
	t.Logf("float32 Exp and Logistic use the %s kernels", unaryKernels.name)
}

// unaryKernelCases are the kernel sets this machine has.
func unaryKernelCases() map[string]float32UnaryKernels {
	cases := map[string]float32UnaryKernels{"portable": portableUnaryKernels}
	if k, ok := avx2UnaryKernels(); ok {
		cases["avx2"] = k
	}
	return cases
}

// checkUnaryAccuracy runs kernel over xs and returns the largest ulp error
// against reference, failing for any element above maxULP or any NaN
// mismatch.
func checkUnaryAccuracy(t *testing.T, name string, kernel func(in, out []float32), reference func(float32) float32, xs []float32, maxULP uint32) uint32 {
	t.Helper()
	out := make([]float32, len(xs))
	kernel(xs, out)
	var worst uint32
	var worstX float32
	failures := 0
	for i, x := range xs {
		want := reference(x)
		d := ulpDistance(out[i], want)
		if d > worst {
			worst, worstX = d, x
		}
		if d > maxULP {
			failures++
			if failures <= 10 {
				t.Errorf("%s(%g [%#08x]) = %g [%#08x], want %g [%#08x] (%d ulp)",
					name, x, math.Float32bits(x), out[i], math.Float32bits(out[i]), want, math.Float32bits(want), d)
			}
		}
	}
	if failures > 10 {
		t.Errorf("%s: %d elements above %d ulp", name, failures, maxULP)
	}
	t.Logf("%s: max error %d ulp (at x=%g) over %d operands", name, worst, worstX, len(xs))
	return worst
}

func TestUnaryFastExpAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := append(unaryEdgeInputs(), unaryRandomInputs(rng, 200_000)...)
	for name, k := range unaryKernelCases() {
		checkUnaryAccuracy(t, name+" exp", k.exp, expReference, xs, 1)
	}
}

func TestUnaryFastLogisticAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	xs := append(unaryEdgeInputs(), unaryRandomInputs(rng, 200_000)...)
	for name, k := range unaryKernelCases() {
		checkUnaryAccuracy(t, name+" logistic", k.logistic, logisticReference, xs, 3)
	}
}

// TestUnaryFastPolynomial checks the claim of unary_fast.go on the exp
// polynomial: with its float32 coefficients (evaluated in float64), 1 + r +
// r^2*q(r) is within 3.8e-9 relative of e^r on |r| <= ln2/2+1e-4.
func TestUnaryFastPolynomial(t *testing.T) {
	bound := math.Ln2/2 + 1e-4
	worst := 0.0
	for i := 0; i <= 200_000; i++ {
		r := -bound + 2*bound*float64(i)/200_000
		q := float64(expC6)
		for _, c := range []float32{expC5, expC4, expC3, expC2} {
			q = q*r + float64(c)
		}
		worst = max(worst, math.Abs((1+r+r*r*q)/math.Exp(r)-1))
	}
	t.Logf("polynomial: max relative error %.3g", worst)
	if worst > 3.8e-9 {
		t.Errorf("polynomial max relative error %.3g, want <= 3.8e-9", worst)
	}
}

// TestUnaryFastSpecialValues checks the exact values the kernels must give.
func TestUnaryFastSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		x, exp, logistic float32
	}{
		{0, 1, 0.5},
		{float32(math.Copysign(0, -1)), 1, 0.5},
		{math.SmallestNonzeroFloat32, 1, 0.5},
		{inf, inf, 1},
		{-inf, 0, 0},
		{89, inf, 1},
		{88.7229, inf, 1},
		{1000, inf, 1},
		{-104, 0, 0},
		{-1e30, 0, 0},
		{1e30, inf, 1},
		{-1e30, 0, 0},
		{math.MaxFloat32, inf, 1},
		{-math.MaxFloat32, 0, 0},
		{-103.98, 0, 0},
		{-103.95, math.SmallestNonzeroFloat32, math.SmallestNonzeroFloat32},
		{-100, expReference(-100), expReference(-100)}, // a denormal
		{20, expReference(20), 1},
	}
	for name, k := range unaryKernelCases() {
		xs := make([]float32, 0, len(tests)+2)
		for _, tc := range tests {
			xs = append(xs, tc.x)
		}
		xs = append(xs, nan, -nan)
		gotExp := make([]float32, len(xs))
		gotLogistic := make([]float32, len(xs))
		k.exp(xs, gotExp)
		k.logistic(xs, gotLogistic)
		for i, tc := range tests {
			if math.Float32bits(gotExp[i]) != math.Float32bits(tc.exp) {
				t.Errorf("%s exp(%g) = %g, want %g", name, tc.x, gotExp[i], tc.exp)
			}
			if math.Float32bits(gotLogistic[i]) != math.Float32bits(tc.logistic) {
				t.Errorf("%s logistic(%g) = %g, want %g", name, tc.x, gotLogistic[i], tc.logistic)
			}
		}
		for i := len(tests); i < len(xs); i++ {
			if math.Float32bits(gotExp[i]) != math.Float32bits(xs[i]) || math.Float32bits(gotLogistic[i]) != math.Float32bits(xs[i]) {
				t.Errorf("%s: NaN %#08x gave exp %#08x, logistic %#08x, want the operand back", name,
					math.Float32bits(xs[i]), math.Float32bits(gotExp[i]), math.Float32bits(gotLogistic[i]))
			}
		}
	}
}

// TestUnaryFastAVX2MatchesPortable checks that the AVX2 kernels give the
// portable kernels' bits on every operand, at every length and alignment
// (the tails take the partial loads and stores), and in place.
func TestUnaryFastAVX2MatchesPortable(t *testing.T) {
	avx2, ok := avx2UnaryKernels()
	if !ok {
		t.Skip("no AVX2+FMA on this CPU (or no simd experiment): nothing to compare")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	base := append(unaryEdgeInputs(), unaryRandomInputs(rng, 100_000)...)
	type pair struct {
		name           string
		simd, portable func(in, out []float32)
	}
	for _, p := range []pair{
		{"exp", avx2.exp, expFloat32Portable},
		{"logistic", avx2.logistic, logisticFloat32Portable},
	} {
		compare := func(desc string, xs []float32, inPlace bool) {
			want := make([]float32, len(xs))
			p.portable(xs, want)
			got := make([]float32, len(xs))
			if inPlace {
				copy(got, xs)
				p.simd(got, got)
			} else {
				p.simd(xs, got)
			}
			for i := range xs {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %s: element %d (x=%g [%#08x]): avx2 %#08x, portable %#08x",
						p.name, desc, i, xs[i], math.Float32bits(xs[i]), math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
		compare("all", base, false)
		compare("all in place", base, true)
		for n := range 40 {
			for off := range 3 {
				compare("short", base[off:off+n], n%2 == 1)
			}
		}
	}
}

// TestUnaryFastSweep runs the dispatched kernels over every 4099th float32
// bit pattern (every one with UNARY_FAST_EXHAUSTIVE=1: about 5 minutes on
// 2 cores; exp 1 ulp and logistic 2 ulp at most), against the float64 references and bit for bit against the
// portable kernels.
func TestUnaryFastSweep(t *testing.T) {
	step := uint64(4099)
	if os.Getenv("UNARY_FAST_EXHAUSTIVE") == "1" {
		step = 1
	}
	type result struct {
		worstExp, worstLogistic   uint32
		worstExpX, worstLogisticX float32
		mismatch                  string
	}
	const segments = 256
	results := make([]result, segments)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			const block = 1 << 14
			xs := make([]float32, 0, block)
			got := make([]float32, block)
			want := make([]float32, block)
			for {
				seg := next.Add(1) - 1
				if seg >= segments {
					return
				}
				res := &results[seg]
				check := func() {
					n := len(xs)
					for _, c := range []struct {
						kernel, portable func(in, out []float32)
						reference        func(float32) float32
						worst            *uint32
						worstX           *float32
					}{
						{unaryKernels.exp, expFloat32Portable, expReference, &res.worstExp, &res.worstExpX},
						{unaryKernels.logistic, logisticFloat32Portable, logisticReference, &res.worstLogistic, &res.worstLogisticX},
					} {
						c.kernel(xs, got[:n])
						c.portable(xs, want[:n])
						for i, x := range xs {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) && res.mismatch == "" {
								res.mismatch = fmt.Sprintf("x=%g [%#08x]: dispatched kernel %#08x, portable %#08x",
									x, math.Float32bits(x), math.Float32bits(got[i]), math.Float32bits(want[i]))
							}
							if d := ulpDistance(got[i], c.reference(x)); d > *c.worst {
								*c.worst, *c.worstX = d, x
							}
						}
					}
					xs = xs[:0]
				}
				// Segment seg holds the bit patterns b = seg<<24 + j with b % step == 0.
				first := uint64(seg) << 24
				b := (first + step - 1) / step * step
				for ; b < first+1<<24; b += step {
					xs = append(xs, math.Float32frombits(uint32(b)))
					if len(xs) == block {
						check()
					}
				}
				check()
			}
		}()
	}
	wg.Wait()
	var total result
	for _, r := range results {
		if r.mismatch != "" {
			t.Fatal(r.mismatch)
		}
		if r.worstExp > total.worstExp {
			total.worstExp, total.worstExpX = r.worstExp, r.worstExpX
		}
		if r.worstLogistic > total.worstLogistic {
			total.worstLogistic, total.worstLogisticX = r.worstLogistic, r.worstLogisticX
		}
	}
	t.Logf("float32 bit patterns in steps of %d: exp max error %d ulp (at x=%g); logistic max error %d ulp (at x=%g)",
		step, total.worstExp, total.worstExpX, total.worstLogistic, total.worstLogisticX)
	if total.worstExp > 1 || total.worstLogistic > 3 {
		t.Errorf("max errors %d ulp (exp), %d ulp (logistic): want at most 1 and 3", total.worstExp, total.worstLogistic)
	}
}

// TestUnaryFastChunksDeterministic checks that splitting over the workers
// gives the bits of one kernel call, at any parallelism.
func TestUnaryFastChunksDeterministic(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	defer b.Finalize()
	backend := b.(*gobackend.Backend)
	rng := rand.New(rand.NewPCG(7, 8))
	xs := unaryRandomInputs(rng, 5*unaryChunk+123)
	for name, kernel := range map[string]func(in, out []float32){"exp": unaryKernels.exp, "logistic": unaryKernels.logistic} {
		want := make([]float32, len(xs))
		kernel(xs, want)
		for _, parallelism := range []int{0, 1, 2, 4, -1} {
			backend.Workers.SetMaxParallelism(parallelism)
			for _, n := range []int{unaryParallelMin - 1, unaryParallelMin, len(xs)} {
				got := make([]float32, n)
				runUnaryChunks(backend, kernel, xs[:n], got)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s, parallelism %d, %d elements: element %d differs from one call", name, parallelism, n, i)
					}
				}
			}
		}
	}
}

// runUnaryGraph compiles and runs op on a backend parameter of shape, with
// the operand donated or not, and returns the flat result.
func runUnaryGraph(t *testing.T, backend compute.Backend, op compute.OpType, shape shapes.Shape, flat any, donate bool) any {
	t.Helper()
	builder := backend.Builder("unary_fast_" + op.String())
	f := builder.Main()
	x, err := f.Parameter("x", shape, nil)
	if err != nil {
		t.Fatalf("creating parameter: %+v", err)
	}
	var y compute.Value
	switch op {
	case compute.OpTypeExp:
		y, err = f.Exp(x)
	case compute.OpTypeLogistic:
		y, err = f.Logistic(x)
	}
	if err != nil {
		t.Fatalf("building %s: %+v", op, err)
	}
	if err := f.Return([]compute.Value{y}, nil); err != nil {
		t.Fatalf("returning: %+v", err)
	}
	exec, err := builder.Compile()
	if err != nil {
		t.Fatalf("compiling: %+v", err)
	}
	in, err := backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		t.Fatalf("creating buffer: %+v", err)
	}
	outs, err := exec.Execute([]compute.Buffer{in}, []bool{donate}, 0)
	if err != nil {
		t.Fatalf("executing %s: %+v", op, err)
	}
	result, err := outs[0].Data()
	if err != nil {
		t.Fatalf("reading result: %+v", err)
	}
	return result
}

// TestUnaryFastThroughBackend runs Exp and Logistic graphs: float32 gives
// the fast kernels' bits (and not everywhere the generic executor's, so
// the registration is in effect), whether the operand is donated or not,
// below and above the parallel threshold; float64 keeps the generic
// executor's values.
func TestUnaryFastThroughBackend(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	defer b.Finalize()
	rng := rand.New(rand.NewPCG(9, 10))
	for _, op := range []compute.OpType{compute.OpTypeExp, compute.OpTypeLogistic} {
		scalar, generic := expFloat32, expReference
		if op == compute.OpTypeLogistic {
			scalar, generic = logisticFloat32, logisticReference
		}
		for _, dims := range [][]int{{7}, {3, 5, 11}, {4, 3, 2 * unaryChunk / 3}} {
			shape := shapes.Make(dtypes.Float32, dims...)
			xs := unaryRandomInputs(rng, shape.Size())
			for _, donate := range []bool{false, true} {
				got := runUnaryGraph(t, b, op, shape, slices.Clone(xs), donate).([]float32)
				differsFromGeneric := false
				for i, x := range xs {
					if math.Float32bits(got[i]) != math.Float32bits(scalar(x)) {
						t.Fatalf("%s %v donate=%v: element %d (x=%g) = %g, want %g", op, dims, donate, i, x, got[i], scalar(x))
					}
					differsFromGeneric = differsFromGeneric || math.Float32bits(got[i]) != math.Float32bits(generic(x))
				}
				if !differsFromGeneric && len(xs) > 1000 {
					t.Errorf("%s %v: every element equals the generic executor's: is the fast path registered?", op, dims)
				}
			}
		}
		xs := make([]float64, 1000)
		for i := range xs {
			xs[i] = -100 + 200*rng.Float64()
		}
		got := runUnaryGraph(t, b, op, shapes.Make(dtypes.Float64, len(xs)), xs, false).([]float64)
		for i, x := range xs {
			want := math.Exp(x)
			if op == compute.OpTypeLogistic {
				want = 1 / (1 + math.Exp(-x))
				if x < 0 {
					want = math.Exp(x) / (1 + math.Exp(x))
				}
			}
			if got[i] != want {
				t.Fatalf("float64 %s(%g) = %g, want the generic %g", op, x, got[i], want)
			}
		}
	}
}

// BenchmarkUnaryFast times the kernels on one chunk of operands in [-10, 10]
// (as the model's activations), against the generic executors' loops.
func BenchmarkUnaryFast(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	xs := make([]float32, unaryChunk)
	for i := range xs {
		xs[i] = float32(-10 + 20*rng.Float64())
	}
	out := make([]float32, len(xs))
	kernels := map[string]func(in, out []float32){
		"exp/generic":      execExpGeneric[float32],
		"logistic/generic": execLogisticGeneric[float32],
	}
	for name, k := range unaryKernelCases() {
		kernels["exp/"+name] = k.exp
		kernels["logistic/"+name] = k.logistic
	}
	for _, name := range slices.Sorted(maps.Keys(kernels)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(xs)))
			for b.Loop() {
				kernels[name](xs, out)
			}
		})
	}
}
