// Package blas runs float32 DotGeneral through a BLAS library's sgemm
// (OpenBLAS), loaded at run time with dlopen, so that binaries build and run
// without it.
//
// It registers an implementation for the normalized layouts of package dot
// (lhs [B, M, K] against rhs [B, K, N] or [B, N, K]) at a priority above the
// SIMD kernels of package matmul, and for the two layouts only it has (lhs
// [B, K, M], read transposed), which spare the copies of a transpose. When the library is missing, cgo is off or
// the switch says so, nothing is registered and the Go kernels run.
//
// Environment: GOMLX_BLAS=off (or false, 0, go) keeps the Go kernels;
// GOMLX_BLAS=<path> loads that library instead of libopenblas.so.0. The
// library must export cblas_sgemm and openblas_set_num_threads: the
// reference BLAS (libblas.so.3) is several times slower than the Go kernels
// and is never picked up.
//
// Determinism: the library runs single-threaded (openblas_set_num_threads(1)),
// and the product is cut into units of whole matrices or row blocks that
// depend only on the shapes, never on the number of workers; units run in
// parallel on the backend's workers. Each output element is computed by the
// same sgemm call on the same operands whatever the parallelism, so results
// are bit-for-bit identical run to run on one machine and library.
package blas

import (
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
	"k8s.io/klog/v2"
)

// EnvVar is the switch: "off", "false", "0" or "go" disables BLAS; any other
// non-empty value is the path of the library to load.
const EnvVar = "GOMLX_BLAS"

// DefaultLibrary is what is loaded when EnvVar is unset or "on".
const DefaultLibrary = "libopenblas.so.0"

// Priority of the registration: above the AVX-512 and AVX2 kernels.
const Priority = gobackend.PriorityArch + 5

// info describes the loaded library; empty when none is in use.
var info string

// loadError says why no library is in use (empty when one is, or when the
// switch turned it off).
var loadError string

// Info returns a description of the BLAS in use for float32 DotGeneral
// ("OpenBLAS 0.3.21 ... (libopenblas.so.0, 1 thread per call)"), or "" when
// the Go kernels run.
func Info() string { return info }

// LoadError returns why no BLAS library is in use ("" when one is, or when
// it was switched off).
func LoadError() string { return loadError }

// Disabled reports whether the switch value v turns BLAS off.
func Disabled(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "false", "0", "no", "go":
		return true
	}
	return false
}

// libraryFor returns the library path the switch value v asks for.
func libraryFor(v string) string {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "", "on", "true", "1", "yes", "openblas":
		return DefaultLibrary
	}
	return v
}

func register(name string) {
	dot.RegisterImplementation(name, dot.LayoutNonTransposed, dtypes.Float32, dtypes.Float32, execSgemm, Priority, false)
	dot.RegisterImplementation(name, dot.LayoutTransposed, dtypes.Float32, dtypes.Float32, execSgemm, Priority, false)
	// Operands whose contracting axis comes first in the lhs (the gradient
	// of every weight) are read transposed instead of copied.
	dot.RegisterImplementation(name, dot.LayoutLHSTransposed, dtypes.Float32, dtypes.Float32, execSgemm, Priority, false)
	dot.RegisterImplementation(name, dot.LayoutBothTransposed, dtypes.Float32, dtypes.Float32, execSgemm, Priority, false)
	klog.V(1).Infof("DotGeneral float32: %s", info)
}

// minUnitFLOPs is the least work (2·M·N·K per unit) worth a unit of its own.
const minUnitFLOPs = 1 << 21

// maxUnits bounds the number of units one product is cut into.
const maxUnits = 16

// minUnitRows is the fewest rows a unit of a split matrix gets: every unit
// packs the whole other operand again, so thin units cost more in packing
// than they gain (a [256, 2048]ᵀ·[2048, 1024] product ran at 90-110
// GFLOP/s in 16 units of 16 rows and at 130-140 in 2 units of 128 on two
// cores).
const minUnitRows = 128

// unit is a run of whole matrices of the batch, or rows [row0, row0+rows) of
// one matrix.
type unit struct {
	batch0, batches int
	row0, rows      int
}

// plan cuts a product into units from its shapes alone.
func plan(batchSize, m, n, k int) []unit {
	flops := 2 * m * n * k
	total := flops * batchSize
	want := min(maxUnits, max(1, total/minUnitFLOPs))
	if want <= 1 {
		return []unit{{0, batchSize, 0, m}}
	}
	if batchSize >= want {
		per := (batchSize + want - 1) / want
		var us []unit
		for b := 0; b < batchSize; b += per {
			us = append(us, unit{b, min(per, batchSize-b), 0, m})
		}
		return us
	}
	// Fewer matrices than units: split each matrix's rows.
	perMatrix := (want + batchSize - 1) / batchSize
	rows := (m + perMatrix - 1) / perMatrix
	rows = max((rows+15)/16*16, minUnitRows) // whole register blocks
	var us []unit
	for b := range batchSize {
		for r := 0; r < m; r += rows {
			us = append(us, unit{b, 1, r, min(rows, m-r)})
		}
	}
	return us
}

// execSgemm is the dot.DotGeneralExecFn for float32.
func execSgemm(backend *gobackend.Backend, layout dot.Layout, lhs, rhs []float32,
	batchSize, m, n, k int, output []float32) {
	if batchSize == 0 || m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(output[:batchSize*m*n])
		return
	}
	// lhs is [m, k] (lda k), or [k, m] read transposed (lda m); rhs is
	// [k, n] (ldb n), or [n, k] read transposed (ldb k).
	transA := layout == dot.LayoutLHSTransposed || layout == dot.LayoutBothTransposed
	transB := layout == dot.LayoutTransposed || layout == dot.LayoutBothTransposed
	lda, rowStride := k, k
	if transA {
		lda, rowStride = m, 1
	}
	ldb := n
	if transB {
		ldb = k
	}
	units := plan(batchSize, m, n, k)
	run := func(u unit) {
		a := lhs[u.batch0*m*k+u.row0*rowStride:]
		b := rhs[u.batch0*k*n:]
		c := output[u.batch0*m*n+u.row0*n:]
		sgemmBatch(transA, transB, u.batches, u.rows, n, k, a, lda, m*k, b, ldb, k*n, c, m*n)
	}
	gobackend.ParallelChunks(backend, len(units), func(c int) { run(units[c]) })
}
