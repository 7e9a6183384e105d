package trainer

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a genome, dimensions, task or recipe the trainer cannot
// train: fix the input, retrying will not help.
var ErrInvalid = errors.New("invalid training input")

// ErrNonFinite is wrapped by *NonFiniteError.
var ErrNonFinite = errors.New("non-finite loss or gradient")

// NonFiniteError reports a step whose loss or gradient norm was NaN or
// infinite. The weights of that step are discarded (no checkpoint is
// written after it).
type NonFiniteError struct {
	Step     int     // 0-based step that diverged
	Loss     float64 // its loss
	GradNorm float64 // its global gradient norm before clipping
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("step %d: loss %v, gradient norm %v: training diverged; lower the learning rate",
		e.Step, e.Loss, e.GradNorm)
}

// Unwrap returns ErrNonFinite.
func (e *NonFiniteError) Unwrap() error { return ErrNonFinite }
