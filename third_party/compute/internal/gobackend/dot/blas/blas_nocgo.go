//go:build !cgo || !linux

package blas

func init() {
	loadError = "built without cgo on linux: no BLAS"
}

func sgemmBatch(transposed bool, count, m, n, k int, a []float32, strideA int, b []float32, strideB int, c []float32, strideC int) {
	panic("blas: sgemmBatch without cgo")
}
