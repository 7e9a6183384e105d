//go:build xla

package model

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/go-xla/compute/xla" // registers the "xla" backend
)

func newXLABackend(plugin string) (compute.Backend, error) {
	if !slices.Contains(compute.List(), "xla") {
		return nil, fmt.Errorf("the xla backend did not register")
	}
	b, err := compute.NewWithConfig("xla:" + plugin)
	if err != nil {
		return nil, fmt.Errorf("creating xla backend %q: %w", plugin, err)
	}
	return b, nil
}
