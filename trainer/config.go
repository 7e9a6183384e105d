package trainer

import (
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/gomlx/compute"
)

// Config is the training recipe of one run. A zero field takes the
// default written next to it; where zero is itself a useful setting
// (no weight decay, no warmup, no clipping), a negative value selects it.
type Config struct {
	// Steps is the number of optimizer steps; required, >= 1. The
	// learning-rate schedule is defined over Steps.
	Steps int
	// StopAt, when in [1, Steps), ends this call after that many steps
	// (in total, resumed ones included) instead of Steps: a rung of a
	// multi-fidelity search. It is not part of the recipe, and the
	// schedule stays defined over Steps, so a run stopped at StopAt and
	// resumed from its checkpoint with a larger StopAt (or none) makes
	// exactly the steps and losses of one run trained that far at once.
	// 0 (or >= Steps): train to Steps.
	StopAt int
	// StopWhen, when set, is called after every step with the losses of
	// every step so far (resumed ones included); a non-nil error ends
	// training at once and is returned with the partial result, without a
	// checkpoint or an evaluation: an early stop of a hopeless run.
	StopWhen func(losses []float64) error
	// BatchSize is the number of sequences per step; default 16.
	BatchSize int
	// LearningRate is the peak learning rate; default 8e-4.
	LearningRate float64
	// MinLRFraction is the floor of the cosine decay as a fraction of the
	// peak; default 0.1, negative for 0.
	MinLRFraction float64
	// WarmupFraction is the fraction of Steps of linear warmup; default
	// 0.1, negative for none.
	WarmupFraction float64
	// Beta1 and Beta2 are AdamW's moment decays; default 0.9 and 0.95.
	Beta1, Beta2 float64
	// Epsilon is AdamW's denominator term; default 1e-8.
	Epsilon float64
	// WeightDecay is AdamW's decoupled weight decay, applied to variables
	// of rank >= 2 only (not to norms, biases or scalars); default 0.1,
	// negative for none.
	WeightDecay float64
	// GradClip is the global gradient-norm clip; default 1.0, negative for
	// no clipping.
	GradClip float64
	// Seed seeds the initial weights and the order of training batches;
	// 0 is a valid seed.
	Seed uint64
	// Precision is the arithmetic of training, of the evaluation and of
	// the throughput measurement: FP32 (default) or BF16, mixed precision
	// with float32 variables, moments and checkpoints.
	Precision Precision

	// CheckpointDir, when set, is where the run keeps its checkpoint; a
	// checkpoint found there is resumed. Default "": no checkpoints.
	CheckpointDir string
	// CheckpointEvery is the number of steps between checkpoints; 0 writes
	// one only when cancelled and at the end.
	CheckpointEvery int

	// EvalBatchSize is the batch size of evaluation and of the throughput
	// measurement; default BatchSize.
	EvalBatchSize int
	// ThroughputSeconds bounds the forward-throughput measurement after
	// training; default 1, negative to skip it.
	ThroughputSeconds float64

	// Backend runs the graphs; default model.NewBackend("") (the CPU
	// backend unless $GOMLX_BACKEND says otherwise).
	Backend compute.Backend
	// Logger receives run events (resume, checkpoints); default discards.
	Logger *slog.Logger
}

// ZeroMeansNone maps a setting a user gave as 0 (no weight decay, no
// warmup) to Config's "none", a negative value: in a Config, 0 means the
// default. Run configs and the train command's flags both say 0 for none.
func ZeroMeansNone(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// Defaults of Config.
const (
	DefaultBatchSize      = 16
	DefaultLearningRate   = 8e-4
	DefaultMinLRFraction  = 0.1
	DefaultWarmupFraction = 0.1
	DefaultBeta1          = 0.9
	DefaultBeta2          = 0.95
	DefaultEpsilon        = 1e-8
	DefaultWeightDecay    = 0.1
	DefaultGradClip       = 1.0
)

// WithDefaults returns c with zero fields set to their defaults and
// negative "none" settings resolved to 0.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.LearningRate == 0 {
		c.LearningRate = DefaultLearningRate
	}
	def(&c.MinLRFraction, DefaultMinLRFraction)
	def(&c.WarmupFraction, DefaultWarmupFraction)
	if c.Beta1 == 0 {
		c.Beta1 = DefaultBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultBeta2
	}
	if c.Epsilon == 0 {
		c.Epsilon = DefaultEpsilon
	}
	def(&c.WeightDecay, DefaultWeightDecay)
	def(&c.GradClip, DefaultGradClip)
	if c.Precision == "" {
		c.Precision = FP32
	}
	if c.EvalBatchSize == 0 {
		c.EvalBatchSize = c.BatchSize
	}
	if c.ThroughputSeconds == 0 {
		c.ThroughputSeconds = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if c.Steps < 1 {
		bad("steps must be >= 1, got %d", c.Steps)
	}
	if c.BatchSize < 1 {
		bad("batch size must be >= 1, got %d", c.BatchSize)
	}
	if c.EvalBatchSize < 1 {
		bad("eval batch size must be >= 1, got %d", c.EvalBatchSize)
	}
	if !(c.LearningRate > 0) || !finite(c.LearningRate) {
		bad("learning rate must be > 0 and finite, got %v", c.LearningRate)
	}
	if !(c.MinLRFraction >= 0 && c.MinLRFraction <= 1) {
		bad("min lr fraction must be in [0, 1], got %v", c.MinLRFraction)
	}
	if !(c.WarmupFraction >= 0 && c.WarmupFraction < 1) {
		bad("warmup fraction must be in [0, 1), got %v", c.WarmupFraction)
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1) {
		bad("betas must be in [0, 1), got %v and %v", c.Beta1, c.Beta2)
	}
	if !(c.Epsilon > 0) || !finite(c.Epsilon) {
		bad("epsilon must be > 0, got %v", c.Epsilon)
	}
	if !(c.WeightDecay >= 0) || !finite(c.WeightDecay) {
		bad("weight decay must be >= 0, got %v", c.WeightDecay)
	}
	if !(c.GradClip >= 0) || !finite(c.GradClip) {
		bad("gradient clip must be >= 0, got %v", c.GradClip)
	}
	if _, err := c.Precision.computeDType(); err != nil {
		errs = append(errs, err)
	}
	if c.StopAt < 0 {
		bad("stop step must be >= 0, got %d", c.StopAt)
	}
	if c.CheckpointEvery < 0 {
		bad("checkpoint interval must be >= 0, got %d", c.CheckpointEvery)
	}
	return errors.Join(errs...)
}

// Target returns the step count this call trains to: StopAt when it is in
// [1, Steps), else Steps.
func (c Config) Target() int {
	if c.StopAt >= 1 && c.StopAt < c.Steps {
		return c.StopAt
	}
	return c.Steps
}

// WarmupSteps returns the number of warmup steps: WarmupFraction of Steps,
// rounded.
func (c Config) WarmupSteps() int {
	return int(math.Round(c.WarmupFraction * float64(c.Steps)))
}

// LR returns the learning rate of step (0-based): linear warmup from
// LearningRate/W to LearningRate over the W warmup steps, then a cosine
// decay from LearningRate to MinLRFraction*LearningRate at the last step.
func (c Config) LR(step int) float64 {
	w := c.WarmupSteps()
	if step < w {
		return c.LearningRate * float64(step+1) / float64(w)
	}
	lo := c.MinLRFraction * c.LearningRate
	span := c.Steps - w - 1
	if span <= 0 {
		return c.LearningRate
	}
	p := math.Min(1, float64(step-w)/float64(span))
	return lo + (c.LearningRate-lo)*0.5*(1+math.Cos(math.Pi*p))
}
