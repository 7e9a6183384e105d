package trainer

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"

	"github.com/star-pipeline/star-pipeline/model"
)

// Precision is the arithmetic a model trains, evaluates and runs in.
type Precision string

// Precisions of Config.Precision.
const (
	// FP32 runs everything in float32 (the default). On the XLA backend
	// float32 matmuls run as TF32 unless the backend says tf32=false.
	FP32 Precision = "fp32"
	// BF16 is mixed precision: the variables (master weights), the Adam
	// moments and checkpoints stay float32; the projections, attention and
	// recurrence contractions, convolutions, SwiGLU and MoE experts run in
	// bfloat16; normalisation, softmax, the recurrence's decay scan, MoE
	// routing and the loss stay in float32 (model.WithComputeDType).
	BF16 Precision = "bf16"
)

// Precisions lists the accepted precisions, the default first.
var Precisions = []Precision{FP32, BF16}

// ParsePrecision returns the precision named s ("" is FP32).
func ParsePrecision(s string) (Precision, error) {
	p := Precision(s)
	if p == "" {
		return FP32, nil
	}
	if _, err := p.computeDType(); err != nil {
		return "", err
	}
	return p, nil
}

// precisionName names p, "" as FP32 (a recipe's float32 precision).
func precisionName(p Precision) Precision {
	if p == "" {
		return FP32
	}
	return p
}

// computeDType returns the model compute dtype of p.
func (p Precision) computeDType() (dtypes.DType, error) {
	switch p {
	case FP32, "":
		return dtypes.Float32, nil
	case BF16:
		return dtypes.BFloat16, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("precision must be %q or %q, got %q", FP32, BF16, string(p))
}

// withPrecision rebuilds the session's model to compute in p. Call it
// before any of the session's graphs is built.
func (s *session) withPrecision(p Precision) error {
	dt, err := p.computeDType()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if dt == s.model.ComputeDType() {
		return nil
	}
	m, err := model.New(s.genome, s.dims, model.WithComputeDType(dt))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s.model = m
	return nil
}
