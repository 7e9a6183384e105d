//go:build cgo && linux

package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

typedef void (*star_sgemm_fn)(int order, int transa, int transb, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*star_set_threads_fn)(int);
typedef char *(*star_get_config_fn)(void);

static star_sgemm_fn star_sgemm;

// star_blas_open loads path and resolves the symbols; it returns NULL on
// success, else the reason. *config receives openblas_get_config() when the
// library has it.
static const char *star_blas_open(const char *path, const char **config) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		return e ? e : "dlopen failed";
	}
	star_sgemm_fn gemm = (star_sgemm_fn)dlsym(h, "cblas_sgemm");
	star_set_threads_fn threads = (star_set_threads_fn)dlsym(h, "openblas_set_num_threads");
	if (gemm == NULL || threads == NULL) {
		dlclose(h);
		return "library lacks cblas_sgemm or openblas_set_num_threads (not OpenBLAS)";
	}
	threads(1);
	star_get_config_fn cfg = (star_get_config_fn)dlsym(h, "openblas_get_config");
	*config = cfg ? cfg() : NULL;
	star_sgemm = gemm;
	return NULL;
}

// star_sgemm_batch runs count row-major products C_i = op(A_i) · op(B_i)
// with the CBLAS transpose flags and leading dimensions given; C_i is [m, n]
// with leading dimension n.
static void star_sgemm_batch(int transa, int transb, int count, int m, int n, int k,
		const float *a, int lda, long stride_a, const float *b, int ldb, long stride_b, float *c, long stride_c) {
	for (int i = 0; i < count; i++) {
		star_sgemm(101, transa ? 112 : 111, transb ? 112 : 111, m, n, k, 1.0f,
			a + i * stride_a, lda, b + i * stride_b, ldb, 0.0f, c + i * stride_c, n);
	}
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/gomlx/compute/internal/gobackend"
	"k8s.io/klog/v2"
)

func init() {
	v := os.Getenv(EnvVar)
	if Disabled(v) {
		return
	}
	path := libraryFor(v)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var config *C.char
	if e := C.star_blas_open(cpath, &config); e != nil {
		loadError = C.GoString(e)
		if !strings.Contains(loadError, path) {
			loadError = path + ": " + loadError
		}
		if strings.TrimSpace(v) != "" { // asked for explicitly: say why the Go kernels run
			klog.Warningf("%s=%s: no BLAS, the Go kernels run: %s", EnvVar, v, loadError)
		}
		return
	}
	name := "OpenBLAS"
	if config != nil {
		name = strings.TrimSpace(C.GoString(config))
	}
	info = fmt.Sprintf("%s (%s, 1 thread per call)", name, path)
	register("blas:" + path)
	gobackend.DotGeneralLibrary = info
}

// sgemmBatch runs count products (see star_sgemm_batch); strides in values.
func sgemmBatch(transA, transB bool, count, m, n, k int, a []float32, lda, strideA int, b []float32, ldb, strideB int, c []float32, strideC int) {
	ta, tb := C.int(0), C.int(0)
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	C.star_sgemm_batch(ta, tb, C.int(count), C.int(m), C.int(n), C.int(k),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda), C.long(strideA),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb), C.long(strideB),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(strideC))
}
