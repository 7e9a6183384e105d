//go:build !(amd64 && goexperiment.simd)

package ops

// avx2UnaryKernels: without the simd experiment on amd64 there are no AVX2
// kernels, and the float32 Exp and Logistic fast paths use the portable
// ones (unary_fast.go).
func avx2UnaryKernels() (float32UnaryKernels, bool) {
	return float32UnaryKernels{}, false
}
