//go:build !xla

package model

import (
	"errors"

	"github.com/gomlx/compute"
)

// ErrNoXLA is returned for an "xla:" backend in a build without the xla tag.
var ErrNoXLA = errors.New("the xla backend is not compiled in: rebuild with -tags xla (needs cgo and a PJRT plugin)")

func newXLABackend(string) (compute.Backend, error) { return nil, ErrNoXLA }
