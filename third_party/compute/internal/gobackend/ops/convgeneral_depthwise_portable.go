//go:build !(amd64 && goexperiment.simd)

package ops

// Without the simd experiment (or off amd64) the depthwise ConvGeneral
// fast path runs its portable loops (convgeneral_depthwise.go).

// dwconvAVX2 is the portable set: there are no AVX2 kernels in this build.
var dwconvAVX2 = dwconvPortable

// dwconvAVX2Available reports that this build has no AVX2 kernels.
func dwconvAVX2Available() bool { return false }
