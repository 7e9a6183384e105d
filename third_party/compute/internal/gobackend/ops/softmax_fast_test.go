package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/fastmath"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/compute/support/envutil"
)

// softmaxMask is the value of a masked attention score.
const softmaxMask = float32(-1e9)

// softmaxKernelCases are the row kernels this machine has.
func softmaxKernelCases() map[string]float32SoftmaxKernel {
	cases := map[string]float32SoftmaxKernel{"portable": portableSoftmaxKernel}
	if k, ok := avx2SoftmaxKernel(); ok {
		cases["avx2"] = k
	}
	return cases
}

// softmaxRandomRows draws rows of n scores: normal with a random scale up
// to 30, a random fraction of each row masked (-1e9), one row in eight
// fully masked and, where n > 1, one in eight with all but one element
// masked.
func softmaxRandomRows(rng *rand.Rand, rows, n int) []float32 {
	xs := make([]float32, rows*n)
	for r := range rows {
		row := xs[r*n : (r+1)*n]
		scale := 30 * rng.Float64()
		offset := 20 * rng.NormFloat64()
		masked := rng.Float64() * 0.7
		kind := rng.IntN(8)
		for i := range row {
			row[i] = float32(offset + scale*rng.NormFloat64())
			if rng.Float64() < masked || kind == 0 || (kind == 1 && i != n/2) {
				row[i] = softmaxMask
			}
		}
	}
	return xs
}

// softmaxReference is the float64 softmax of each row of n elements.
func softmaxReference(xs []float32, n int) []float64 {
	want := make([]float64, len(xs))
	for start := 0; start < len(xs); start += n {
		m := math.Inf(-1)
		for _, v := range xs[start : start+n] {
			m = max(m, float64(v))
		}
		s := 0.0
		for i, v := range xs[start : start+n] {
			want[start+i] = math.Exp(float64(v) - m)
			s += want[start+i]
		}
		for i := range n {
			want[start+i] /= s
		}
	}
	return want
}

// fusedopsSoftmaxReference is the fusedops executor's algorithm
// (fusedops/softmax.go) on a row-major shape, with its exp: the bits the
// fallback must give.
func fusedopsSoftmaxReference[T float32 | float64](in []T, dims []int, axis int, exp func(T) T) []T {
	outer, n, inner := 1, dims[axis], 1
	for _, d := range dims[:axis] {
		outer *= d
	}
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	out := make([]T, len(in))
	for o := range outer {
		for j := range inner {
			base := o*n*inner + j
			m := T(math.Inf(-1))
			for i := range n {
				if in[base+i*inner] > m {
					m = in[base+i*inner]
				}
			}
			var s T
			for i := range n {
				out[base+i*inner] = exp(in[base+i*inner] - m)
				s += out[base+i*inner]
			}
			inv := 1 / s
			for i := range n {
				out[base+i*inner] *= inv
			}
		}
	}
	return out
}

var softmaxTestLengths = []int{1, 2, 7, 8, 9, 15, 16, 17, 100, 256, 1000, 4096}

// TestSoftmaxFastDispatch checks that GOMLX_SIMD_AVX2=false selects the
// portable kernel and that the AVX2 one is selected otherwise when the CPU
// has it.
func TestSoftmaxFastDispatch(t *testing.T) {
	_, hasAVX2 := avx2SoftmaxKernel()
	want := "portable"
	if hasAVX2 && envutil.MustReadBool(envutil.SIMD_AVX2_Env, true) {
		want = "avx2"
	}
	if softmaxKernel.name != want {
		t.Errorf("dispatched kernel %q, want %q (AVX2+FMA: %v, $%s=%q)", softmaxKernel.name, want,
			hasAVX2, envutil.SIMD_AVX2_Env, os.Getenv(envutil.SIMD_AVX2_Env))
	}
	if softmaxKernel.name != unaryKernels.name {
		t.Errorf("softmax kernel %q, unary kernels %q: they must follow the same dispatch", softmaxKernel.name, unaryKernels.name)
	}
}

// TestSoftmaxFastAccuracy checks each kernel against the float64 softmax:
// relative error within 4e-7 (1.5e-6 for rows over 1000) beyond the rounding
// of x - max to float32, which no float32 softmax avoids; masked entries
// exactly 0, a row's only unmasked element exactly 1, and every row's sum
// within a few float32 ulp of 1.
func TestSoftmaxFastAccuracy(t *testing.T) {
	for name, k := range softmaxKernelCases() {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, n := range softmaxTestLengths {
			rows := max(64, 20_000/n)
			xs := softmaxRandomRows(rng, rows, n)
			got := make([]float32, len(xs))
			k.rows(xs, got, n)
			want := softmaxReference(xs, n)
			m := make([]float64, rows)
			for r := range rows {
				m[r] = float64(slices.Max(xs[r*n : (r+1)*n]))
			}
			relTol := 4e-7
			if n > 1000 {
				relTol = 1.5e-6
			}
			worstRel, worstSum := 0.0, 0.0
			for r := range rows {
				row := got[r*n : (r+1)*n]
				x := xs[r*n : (r+1)*n]
				fullyMasked := !slices.ContainsFunc(x, func(v float32) bool { return v != softmaxMask })
				unmasked := 0
				sum := 0.0
				for i, v := range row {
					sum += float64(v)
					w := want[r*n+i]
					rel := math.Abs(float64(v)-w) / w
					if w < 1e-30 { // through the denormals: an absolute bound
						rel = math.Abs(float64(v)-w) / 1e-30
					}
					// x - max is rounded to float32 (half an ulp of it), an
					// error exp turns into a relative one of the same size.
					tol := relTol + math.Abs(float64(x[i])-m[r])*0x1p-24
					worstRel = max(worstRel, rel-(tol-relTol))
					if rel > tol || v != v {
						t.Fatalf("%s n=%d row %d element %d: %g, want %g (relative error %.3g, tolerance %.3g)", name, n, r, i, v, w, rel, tol)
					}
					if x[i] == softmaxMask && !fullyMasked && v != 0 {
						t.Fatalf("%s n=%d row %d element %d: masked score gives %g, want exactly 0", name, n, r, i, v)
					}
					if x[i] != softmaxMask {
						unmasked++
					}
				}
				if unmasked == 1 {
					if only := slices.IndexFunc(x, func(v float32) bool { return v != softmaxMask }); row[only] != 1 {
						t.Fatalf("%s n=%d row %d: the only unmasked element gives %g, want exactly 1", name, n, r, row[only])
					}
				}
				worstSum = max(worstSum, math.Abs(sum-1))
			}
			// ulp(1) is 2^-23 above 1 and 2^-24 below: the sum of the
			// rounded quotients stays within a few of them.
			sumTol := 4.0 / (1 << 23)
			if n > 1000 {
				sumTol = 12.0 / (1 << 23)
			}
			if worstSum > sumTol {
				t.Errorf("%s n=%d: a row sums to 1 ± %.3g (%.1f ulp of 1), want within %.1f ulp", name, n, worstSum, worstSum*(1<<23), sumTol*(1<<23))
			}
			t.Logf("%s n=%d: max relative error %.3g, max |sum-1| %.2f ulp", name, n, worstRel, worstSum*(1<<23))
		}
	}
}

// TestSoftmaxFastExactValues checks values that come out exact: equal
// scores give 1/n (n a power of two), a row's only unmasked score gives 1,
// a fully masked row is uniform, and a row holding NaN or +Inf (or only
// -Inf) is NaN throughout, as in the fusedops executor.
func TestSoftmaxFastExactValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for name, k := range softmaxKernelCases() {
		for _, n := range []int{1, 2, 4, 8, 16, 64, 256, 1024} {
			for _, v := range []float32{0, -3.5, 1e9, softmaxMask} {
				xs := slices.Repeat([]float32{v}, n)
				got := make([]float32, n)
				k.rows(xs, got, n)
				for i, g := range got {
					if g != 1/float32(n) {
						t.Fatalf("%s: %d equal scores %g: element %d = %g, want %g", name, n, v, i, g, 1/float32(n))
					}
				}
			}
		}
		for _, n := range []int{1, 5, 8, 13, 300} {
			for pos := range min(n, 10) {
				xs := slices.Repeat([]float32{softmaxMask}, n)
				xs[pos] = 2.5
				got := make([]float32, n)
				k.rows(xs, got, n)
				for i, g := range got {
					if i == pos && g != 1 || i != pos && g != 0 {
						t.Fatalf("%s n=%d, unmasked at %d: element %d = %g", name, n, pos, i, g)
					}
				}
				for _, bad := range []float32{nan, inf} {
					xs[(pos+3)%n] = bad
					k.rows(xs, got, n)
					for i, g := range got {
						if g == g {
							t.Fatalf("%s n=%d, %g at %d: element %d = %g, want NaN", name, n, bad, (pos+3)%n, i, g)
						}
					}
					xs[(pos+3)%n] = softmaxMask
				}
			}
			xs := slices.Repeat([]float32{-inf}, n)
			got := make([]float32, n)
			k.rows(xs, got, n)
			for i, g := range got {
				if g == g {
					t.Fatalf("%s n=%d, all -Inf: element %d = %g, want NaN", name, n, i, g)
				}
			}
		}
	}
}

// TestSoftmaxFastAVX2MatchesPortable checks that the AVX2 kernel gives the
// portable kernel's bits for every row length up to 70 and some longer
// ones, at offsets that move the alignment, and in place.
func TestSoftmaxFastAVX2MatchesPortable(t *testing.T) {
	avx2, ok := avx2SoftmaxKernel()
	if !ok {
		t.Skip("no AVX2+FMA on this CPU (or no simd experiment): nothing to compare")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	lengths := []int{100, 255, 256, 257, 1000, 4096}
	for n := 1; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		rows := max(8, 4096/n)
		base := append(softmaxRandomRows(rng, rows, n), 1, 2, 3)
		for off := range 3 {
			xs := base[off : off+rows*n]
			want := make([]float32, len(xs))
			softmaxRowsPortable(xs, want, n)
			got := make([]float32, len(xs))
			inPlace := off == 1
			if inPlace {
				copy(got, xs)
				avx2.rows(got, got, n)
			} else {
				avx2.rows(xs, got, n)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d offset %d in place %v: element %d (row %d, x=%g): avx2 %g [%#08x], portable %g [%#08x]",
						n, off, inPlace, i, i/n, xs[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

// TestSoftmaxFastChunksDeterministic checks that splitting rows over the
// workers gives the bits of one kernel call, at any parallelism.
func TestSoftmaxFastChunksDeterministic(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	defer b.Finalize()
	backend := b.(*gobackend.Backend)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{7, 256, 1000, softmaxChunk + 3} {
		rows := 5*max(1, softmaxChunk/n) + 3
		xs := softmaxRandomRows(rng, rows, n)
		want := make([]float32, len(xs))
		softmaxKernel.rows(xs, want, n)
		for _, parallelism := range []int{0, 1, 2, 4, -1} {
			backend.Workers.SetMaxParallelism(parallelism)
			got := make([]float32, len(xs))
			runSoftmaxRows(backend, softmaxKernel.rows, xs, got, n)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d, parallelism %d: element %d differs from one call", n, parallelism, i)
				}
			}
		}
	}
}

// runSoftmaxGraph compiles and runs FusedSoftmax over axis on a backend
// parameter of shape, with the operand donated or not, and returns the flat
// result.
func runSoftmaxGraph(t testing.TB, backend compute.Backend, shape shapes.Shape, axis int, flat any, donate bool) any {
	t.Helper()
	exec := compileSoftmaxGraph(t, backend, shape, axis, false)
	in, err := backend.BufferFromFlatData(0, flat, shape)
	if err != nil {
		t.Fatalf("creating buffer: %+v", err)
	}
	outs, err := exec.Execute([]compute.Buffer{in}, []bool{donate}, 0)
	if err != nil {
		t.Fatalf("executing FusedSoftmax: %+v", err)
	}
	result, err := outs[0].Data()
	if err != nil {
		t.Fatalf("reading result: %+v", err)
	}
	return result
}

// compileSoftmaxGraph builds softmax over axis of a parameter of shape: one
// FusedSoftmax node, or (unfused) the ops a model writes without it:
// ReduceMax, Sub, Exp, ReduceSum, Div, the reductions broadcast back
// through size-1 axes.
func compileSoftmaxGraph(t testing.TB, backend compute.Backend, shape shapes.Shape, axis int, unfused bool) compute.Executable {
	t.Helper()
	builder := backend.Builder(fmt.Sprintf("softmax_fast_%v_%d", shape, axis))
	f := builder.Main()
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("building softmax of %s over axis %d: %+v", shape, axis, err)
		}
	}
	x, err := f.Parameter("x", shape, nil)
	check(err)
	var y compute.Value
	if !unfused {
		y, err = f.FusedSoftmax(x, axis)
		check(err)
	} else {
		kept := slices.Clone(shape.Dimensions)
		kept[axis] = 1
		broadcast := func(v compute.Value) compute.Value {
			r, err := f.Reshape(v, kept...)
			check(err)
			b, err := f.BroadcastInDim(r, shape, slices.Collect(func(yield func(int) bool) {
				for i := range shape.Rank() {
					if !yield(i) {
						return
					}
				}
			}))
			check(err)
			return b
		}
		m, err := f.ReduceMax(x, axis)
		check(err)
		d, err := f.Sub(x, broadcast(m))
		check(err)
		e, err := f.Exp(d)
		check(err)
		s, err := f.ReduceSum(e, axis)
		check(err)
		y, err = f.Div(e, broadcast(s))
		check(err)
	}
	check(f.Return([]compute.Value{y}, nil))
	exec, err := builder.Compile()
	check(err)
	return exec
}

// TestSoftmaxFastThroughBackend runs FusedSoftmax graphs: float32 over the
// last axis (or one followed by size-1 axes) gives the fast kernel's bits
// (and not everywhere the fusedops executor's, so the registration is in
// effect), donated or not, below and above the parallel threshold; other
// axes and float64 give the fusedops executor's bits.
func TestSoftmaxFastThroughBackend(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	defer b.Finalize()
	rng := rand.New(rand.NewPCG(17, 18))
	for _, tc := range []struct {
		dims []int
		axis int
	}{
		{[]int{1}, 0}, {[]int{7}, 0}, {[]int{3, 5, 11}, 2}, {[]int{2, 3, 1, 9}, 3}, {[]int{4, 1}, 1},
		{[]int{4, 9, 1}, 1}, {[]int{2, 3, 17, 1, 1}, 2}, {[]int{3, 4, 64, 1, 64}, 4}, {[]int{2, 4, 64, 256}, 3},
	} {
		shape := shapes.Make(dtypes.Float32, tc.dims...)
		n := tc.dims[tc.axis]
		xs := softmaxRandomRows(rng, shape.Size()/n, n)
		want := make([]float32, len(xs))
		softmaxKernel.rows(xs, want, n)
		generic := fusedopsSoftmaxReference(xs, tc.dims, tc.axis, fastmath.Exp32)
		for _, donate := range []bool{false, true} {
			got := runSoftmaxGraph(t, b, shape, tc.axis, slices.Clone(xs), donate).([]float32)
			differsFromGeneric := false
			for i := range xs {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v axis %d donate=%v: element %d = %g, want the fast kernel's %g", tc.dims, tc.axis, donate, i, got[i], want[i])
				}
				differsFromGeneric = differsFromGeneric || math.Float32bits(got[i]) != math.Float32bits(generic[i])
			}
			if !differsFromGeneric && len(xs) > 1000 {
				t.Errorf("%v axis %d: every element equals the fusedops executor's: is the fast path registered?", tc.dims, tc.axis)
			}
		}
	}

	// The fusedops executor's cases: an axis with a larger one after it, and float64.
	for _, tc := range []struct {
		dims []int
		axis int
	}{
		{[]int{5, 3}, 0}, {[]int{3, 5, 7}, 1}, {[]int{4, 6, 2, 1}, 1}, {[]int{2, 3, 256}, 1},
	} {
		shape := shapes.Make(dtypes.Float32, tc.dims...)
		xs := softmaxRandomRows(rng, 1, shape.Size())
		want := fusedopsSoftmaxReference(xs, tc.dims, tc.axis, fastmath.Exp32)
		got := runSoftmaxGraph(t, b, shape, tc.axis, xs, false).([]float32)
		for i := range xs {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("float32 %v axis %d: element %d = %g, want the fusedops executor's %g", tc.dims, tc.axis, i, got[i], want[i])
			}
		}
	}
	for _, tc := range []struct {
		dims []int
		axis int
	}{
		{[]int{3, 5, 11}, 2}, {[]int{3, 5, 7}, 1}, {[]int{4, 9, 1}, 1},
	} {
		shape := shapes.Make(dtypes.Float64, tc.dims...)
		xs := make([]float64, shape.Size())
		for i := range xs {
			xs[i] = 20 * rng.NormFloat64()
		}
		want := fusedopsSoftmaxReference(xs, tc.dims, tc.axis, math.Exp)
		got := runSoftmaxGraph(t, b, shape, tc.axis, xs, false).([]float64)
		for i := range xs {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("float64 %v axis %d: element %d = %g, want the fusedops executor's %g", tc.dims, tc.axis, i, got[i], want[i])
			}
		}
	}
}

// TestSoftmaxFastBackendParallelism runs one large FusedSoftmax graph at
// several parallelisms: identical bits each time.
func TestSoftmaxFastBackendParallelism(t *testing.T) {
	b, err := gobackend.New("")
	if err != nil {
		t.Fatalf("creating backend: %+v", err)
	}
	defer b.Finalize()
	backend := b.(*gobackend.Backend)
	rng := rand.New(rand.NewPCG(19, 20))
	shape := shapes.Make(dtypes.Float32, 2, 4, 128, 1, 128)
	xs := softmaxRandomRows(rng, shape.Size()/128, 128)
	var want []float32
	for _, parallelism := range []int{1, 0, 2, 4, -1} {
		backend.Workers.SetMaxParallelism(parallelism)
		got := runSoftmaxGraph(t, b, shape, 4, slices.Clone(xs), false).([]float32)
		if want == nil {
			want = got
			continue
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("parallelism %d: element %d = %g, at parallelism 1 %g", parallelism, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkSoftmaxFast times softmax over the last axis of attention-sized
// operands through the backend: the fast path, the fusedops executor, and
// the unfused ops (ReduceMax, Sub, Exp, ReduceSum, Div).
func BenchmarkSoftmaxFast(b *testing.B) {
	backend, err := gobackend.New("")
	if err != nil {
		b.Fatalf("creating backend: %+v", err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(21, 22))
	for _, dims := range [][]int{{8, 4, 256, 256}, {8, 4, 256, 1, 256}, {2, 4, 1024, 1024}} {
		shape := shapes.Make(dtypes.Float32, dims...)
		axis := len(dims) - 1
		n := dims[axis]
		xs := softmaxRandomRows(rng, shape.Size()/n, n)
		in, err := backend.BufferFromFlatData(0, xs, shape)
		if err != nil {
			b.Fatalf("creating buffer: %+v", err)
		}
		for _, variant := range []string{"fast", "fusedops", "unfused"} {
			b.Run(fmt.Sprintf("%s/%v", variant, dims), func(b *testing.B) {
				exec := compileSoftmaxGraph(b, backend, shape, axis, variant == "unfused")
				if variant == "fusedops" {
					gobackend.SetNodeExecutor(compute.OpTypeFusedSoftmax, softmaxFastPriority, fusedSoftmaxGeneric)
					defer gobackend.SetNodeExecutor(compute.OpTypeFusedSoftmax, softmaxFastPriority, execFusedSoftmaxFast)
				}
				b.SetBytes(int64(4 * shape.Size()))
				for b.Loop() {
					outs, err := exec.Execute([]compute.Buffer{in}, nil, 0)
					if err != nil {
						b.Fatalf("executing: %+v", err)
					}
					for _, o := range outs {
						if err := o.Finalize(); err != nil {
							b.Fatalf("finalizing: %+v", err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkSoftmaxFastKernel times each row kernel on one goroutine over
// 64K scores in rows of 256 and 4096.
func BenchmarkSoftmaxFastKernel(b *testing.B) {
	rng := rand.New(rand.NewPCG(23, 24))
	for name, k := range softmaxKernelCases() {
		for _, n := range []int{256, 4096} {
			xs := softmaxRandomRows(rng, (64<<10)/n, n)
			out := make([]float32, len(xs))
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.SetBytes(int64(4 * len(xs)))
				for b.Loop() {
					k.rows(xs, out, n)
				}
			})
		}
	}
}
