//go:build !cgo || !linux

package blas

func init() {
	loadError = "built without cgo on linux: no BLAS"
}

func sgemmBatch(transA, transB bool, count, m, n, k int, a []float32, lda, strideA int, b []float32, ldb, strideB int, c []float32, strideC int) {
	panic("blas: sgemmBatch without cgo")
}
