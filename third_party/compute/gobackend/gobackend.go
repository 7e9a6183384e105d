// Package gobackend implements a native Go [compute.Backend]: very portable (including WASM) but not very fast.
//
// It only implements the most popular dtypes and operations.
// But generally, it's easy to add new ops: just open an issue in GoMLX.
//
// This package is simply a thin wrapper around internal/gobackend.
package gobackend

import (
	"io"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/internal/gobackend"

	// Registers all the ops.
	_ "github.com/gomlx/compute/internal/gobackend/defaultpkgs"

	// float32 DotGeneral through OpenBLAS when the library is installed
	// (GOMLX_BLAS=off keeps the Go kernels). Not in defaultpkgs, so that the
	// kernel tests of the internal packages keep testing the Go kernels.
	"github.com/gomlx/compute/internal/gobackend/dot/blas"
)

// BLAS describes the BLAS library that runs float32 DotGeneral ("" when the
// Go kernels do: no OpenBLAS found, no cgo, or GOMLX_BLAS=off).
func BLAS() string { return blas.Info() }

// BLASLoadError says why no BLAS library was loaded ("" when one was, or
// when GOMLX_BLAS=off turned it off).
func BLASLoadError() string { return blas.LoadError() }

// BackendName to be used in GOMLX_BACKEND to specify this backend.
const BackendName = "go"

// GetBackend returns a singleton Go backend, created with the default configuration.
// The backend is only created at the first call of the function.
//
// The singleton is never destroyed.
var GetBackend = sync.OnceValue(func() compute.Backend {
	backend, err := New("")
	if err != nil {
		panic(err)
	}
	return backend
})

// New constructs a new Go Backend.
// There are no configurations, the string is simply ignored.
func New(config string) (compute.Backend, error) {
	return gobackend.New(config)
}

// EnableOpProfile turns the backend's op profile on (timing every node's
// executor, summed per op type and shapes) or off, and clears it.
func EnableOpProfile(on bool) { gobackend.EnableOpProfile(on) }

// WriteOpProfile writes the op profile: the share of each op type, then the
// top entries by op type and shapes.
func WriteOpProfile(w io.Writer, top int) { gobackend.WriteOpProfile(w, top) }
