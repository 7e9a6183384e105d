//go:build amd64 && goexperiment.simd

package matmul

import (
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

// TestAVX2HalfKernelsMatchReference checks the AVX2 bfloat16 and float16
// kernels (small in both layouts, large) against a float32 reference on random
// shapes, including contracting sizes that are not multiples of the vector
// width. The small transposed kernel once converted 16 half values per load
// and used only the low 8 (results off by 10x on AVX2-only CPUs).
func TestAVX2HalfKernelsMatchReference(t *testing.T) {
	if !archsimd.X86.AVX2() {
		t.Skip("AVX2 is not supported on this CPU")
	}
	be, err := gobackend.New("")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	backend := be.(*gobackend.Backend)

	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][4]int{ // batch, lhsCross, rhsCross, contracting
		{1, 1, 1, 1}, {1, 4, 4, 8}, {1, 5, 7, 3}, {2, 16, 16, 16}, {1, 4, 9, 17},
		{1, 33, 17, 40}, {3, 64, 64, 64}, {1, 100, 130, 70}, {2, 7, 24, 129},
	}
	for _, sz := range shapes {
		b, m, n, k := sz[0], sz[1], sz[2], sz[3]
		a32 := randomFloats(r, b*m*k)
		b32 := randomFloats(r, b*k*n)
		for _, layout := range []dot.Layout{dot.LayoutNonTransposed, dot.LayoutTransposed} {
			aBF, bBF := toBF16(a32), toBF16(b32)
			aF16, bF16 := toF16(a32), toF16(b32)
			wantBF := referenceMatMul(bf16Values(aBF), bf16Values(bBF), layout, b, m, n, k)
			wantF16 := referenceMatMul(f16Values(aF16), f16Values(bF16), layout, b, m, n, k)

			got := make([]float32, b*m*n)
			if layout == dot.LayoutNonTransposed {
				avx2SmallBFloat16(aBF, bBF, 0, b, m, n, k, got)
			} else {
				avx2SmallBFloat16Transposed(aBF, bBF, 0, b, m, n, k, got)
			}
			compareHalf(t, "bf16 small", sz, layout, got, wantBF)

			got = make([]float32, b*m*n)
			if layout == dot.LayoutNonTransposed {
				avx2SmallFloat16(aF16, bF16, 0, b, m, n, k, got)
			} else {
				avx2SmallFloat16Transposed(aF16, bF16, 0, b, m, n, k, got)
			}
			compareHalf(t, "f16 small", sz, layout, got, wantF16)

			if layout == dot.LayoutNonTransposed {
				got = make([]float32, b*m*n)
				avx2LargeBFloat16(backend, layout, aBF, bBF, b, m, n, k, got)
				compareHalf(t, "bf16 large", sz, layout, got, wantBF)
				got = make([]float32, b*m*n)
				avx2LargeFloat16(backend, layout, aF16, bF16, b, m, n, k, got)
				compareHalf(t, "f16 large", sz, layout, got, wantF16)
			}
		}
	}
}

func randomFloats(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

func toBF16(xs []float32) []bfloat16.BFloat16 {
	out := make([]bfloat16.BFloat16, len(xs))
	for i, x := range xs {
		out[i] = bfloat16.FromFloat32(x)
	}
	return out
}

func toF16(xs []float32) []float16.Float16 {
	out := make([]float16.Float16, len(xs))
	for i, x := range xs {
		out[i] = float16.FromFloat32(x)
	}
	return out
}

func bf16Values(xs []bfloat16.BFloat16) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = x.Float32()
	}
	return out
}

func f16Values(xs []float16.Float16) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = x.Float32()
	}
	return out
}

// referenceMatMul multiplies in float64: lhs is [b, m, k]; rhs is [b, k, n]
// (non-transposed) or [b, n, k] (transposed).
func referenceMatMul(lhs, rhs []float32, layout dot.Layout, b, m, n, k int) []float32 {
	out := make([]float32, b*m*n)
	for bi := range b {
		for i := range m {
			for j := range n {
				var s float64
				for c := range k {
					rv := rhs[bi*k*n+c*n+j]
					if layout == dot.LayoutTransposed {
						rv = rhs[bi*k*n+j*k+c]
					}
					s += float64(lhs[bi*m*k+i*k+c]) * float64(rv)
				}
				out[bi*m*n+i*n+j] = float32(s)
			}
		}
	}
	return out
}

func compareHalf(t *testing.T, kernel string, shape [4]int, layout dot.Layout, got, want []float32) {
	t.Helper()
	tol := 1e-4 * math.Sqrt(float64(shape[3])) // float32 accumulation of exact half-precision products
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Errorf("%s %v %v: output %d = %g, want %g", kernel, shape, layout, i, got[i], want[i])
			return
		}
	}
}
