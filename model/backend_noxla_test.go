//go:build !xla

package model

import (
	"errors"
	"testing"
)

func TestNewBackendWithoutXLA(t *testing.T) {
	t.Parallel()
	if _, err := NewBackend("xla:/opt/pjrt_plugin.so"); !errors.Is(err, ErrNoXLA) {
		t.Errorf("NewBackend(xla:...) error = %v, want ErrNoXLA", err)
	}
}
