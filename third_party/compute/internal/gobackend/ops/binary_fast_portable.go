//go:build !(amd64 && goexperiment.simd)

package ops

// Without the simd experiment (or off amd64) the rows run as the plain
// loops of binary_fast.go.

func binaryBoth(kind binaryKind, a, b, out []float32) { binaryBothScalar(kind, a, b, out) }

func binaryLHS(kind binaryKind, a []float32, c float32, out []float32) {
	binaryLHSScalar(kind, a, c, out)
}

func binaryRHS(kind binaryKind, c float32, b, out []float32) { binaryRHSScalar(kind, c, b, out) }
