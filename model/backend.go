package model

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// NewBackend returns the compute backend named by spec:
//
//   - "" : $GOMLX_BACKEND when set, else "go";
//   - "go" or "go:<options>": the pure-Go CPU backend (options as in
//     GoMLX, e.g. "go:parallelism=4"); without a parallelism option it
//     picks one that is safe for the machine: on runtime.NumCPU() <= 2 the
//     equivalent of "parallelism=-1" (GoMLX's unbounded worker pool; its
//     default bounded pool can deadlock there, and 0 runs ops inline,
//     which GoMLX documents as deadlock-prone), GoMLX's default otherwise;
//   - "xla:<plugin>": the XLA/PJRT backend, only in binaries built with
//     -tags xla.
func NewBackend(spec string) (compute.Backend, error) {
	if spec == "" {
		spec = os.Getenv(compute.ConfigEnvVar)
	}
	name, opts, _ := strings.Cut(spec, ":")
	switch name {
	case "", gobackend.BackendName:
		return newGoBackend(opts)
	case "xla":
		return newXLABackend(opts)
	}
	return nil, fmt.Errorf("unknown backend %q: use \"go\", \"go:<options>\" or \"xla:<plugin>\" (xla needs -tags xla)", spec)
}

func newGoBackend(opts string) (compute.Backend, error) {
	safe := runtime.NumCPU() <= 2 && !strings.Contains(opts, "parallelism")
	b, err := gobackend.New(opts)
	if err != nil {
		return nil, fmt.Errorf("creating go backend %q: %w", opts, err)
	}
	if safe {
		if err := setUnlimitedParallelism(b); err != nil {
			b.Finalize()
			b, err = gobackend.New(strings.Trim(opts+",parallelism=-1", ","))
			if err != nil {
				return nil, fmt.Errorf("creating go backend: %w", err)
			}
		}
	}
	return b, nil
}

// setUnlimitedParallelism sets the Go backend's worker pool to -1
// (unlimited goroutines). It does so directly rather than through the
// "parallelism=" option, which prints to stdout.
func setUnlimitedParallelism(b compute.Backend) error {
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("unexpected go backend type %T", b)
	}
	workers := v.Elem().FieldByName("Workers")
	if !workers.IsValid() {
		return fmt.Errorf("go backend %T has no Workers field", b)
	}
	set := workers.MethodByName("SetMaxParallelism")
	if !set.IsValid() {
		return fmt.Errorf("go backend workers %s have no SetMaxParallelism", workers.Type())
	}
	set.Call([]reflect.Value{reflect.ValueOf(-1)})
	return nil
}
