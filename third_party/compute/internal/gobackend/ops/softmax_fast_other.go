//go:build !(amd64 && goexperiment.simd)

package ops

// avx2SoftmaxKernel: without the simd experiment on amd64 there is no AVX2
// kernel, and the float32 FusedSoftmax fast path uses the portable one
// (softmax_fast.go).
func avx2SoftmaxKernel() (float32SoftmaxKernel, bool) {
	return float32SoftmaxKernel{}, false
}
