package trainer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
)

// StepTiming is the measured speed of training steps of one model.
type StepTiming struct {
	Genome       string  `json:"genome"`
	Width        int     `json:"width"`
	Context      int     `json:"context"`
	Batch        int     `json:"batch"`
	Precision    string  `json:"precision"`
	Params       int64   `json:"params"`
	Steps        int     `json:"steps"`          // timed steps
	StepSeconds  float64 `json:"step_seconds"`   // mean over the timed steps
	TokensPerS   float64 `json:"tokens_per_s"`   // training tokens per second
	FLOPsPerStep int64   `json:"flops_per_step"` // arch.FLOPs(...).TrainStep(batch): 3x forward matmul FLOPs
	GFLOPs       float64 `json:"gflops"`         // achieved model GFLOP/s
	// CPUSeconds is the process's CPU time (user + system, all threads)
	// over the timed steps: on a shared machine, tokens per CPU-second
	// depends less on what else runs than tokens/s does.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// TimeTraining trains g at dims (Vocab 256, random byte text) for warmup
// untimed steps, the first of which compiles the graph, then times steps
// more, in precision ("" for FP32). The recipe is the default one.
func TimeTraining(ctx context.Context, backend compute.Backend, g genome.Genome, dims arch.Config, batch, warmup, steps int, precision Precision) (StepTiming, error) {
	dims = dims.WithDefaults()
	if batch < 1 || steps < 1 || warmup < 0 {
		return StepTiming{}, fmt.Errorf("%w: batch and steps must be >= 1, warmup >= 0", ErrInvalid)
	}
	cfg := Config{Steps: warmup + steps, BatchSize: batch, Precision: precision}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return StepTiming{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	text := make([]byte, max(1<<16, 4*(dims.Context+1)))
	for i := range text {
		text[i] = byte(r.IntN(256))
	}
	corpus, err := data.NewCorpus([]string{"random"}, [][]byte{text}, data.CorpusOptions{ValFraction: 0.5})
	if err != nil {
		return StepTiming{}, err
	}
	task, err := data.NewTextTask("random", corpus, dims.Context, dims.Context)
	if err != nil {
		return StepTiming{}, err
	}
	backend, release, err := backendOf(backend)
	if err != nil {
		return StepTiming{}, err
	}
	defer release()
	s, err := newSession(backend, g, dims, task, 1)
	if err != nil {
		return StepTiming{}, err
	}
	defer s.close()
	if err := s.withPrecision(cfg.Precision); err != nil {
		return StepTiming{}, err
	}
	if err := s.withTraining(cfg); err != nil {
		return StepTiming{}, err
	}
	if err := s.initialize(batch); err != nil {
		return StepTiming{}, err
	}
	fl, err := arch.FLOPs(g, s.dims)
	if err != nil {
		return StepTiming{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var timed time.Duration
	var cpu0 float64
	for step := range warmup + steps {
		if ctx.Err() != nil {
			return StepTiming{}, ctx.Err()
		}
		if step == warmup {
			cpu0 = processCPUSeconds()
		}
		t0 := time.Now()
		if _, _, err := s.trainStep(cfg, step); err != nil {
			return StepTiming{}, err
		}
		if step >= warmup {
			timed += time.Since(t0)
		}
	}
	cpu := processCPUSeconds() - cpu0
	st := StepTiming{Genome: genome.Format(g), CPUSeconds: cpu, Width: s.dims.Width, Context: s.dims.Context, Batch: batch,
		Precision: string(cfg.Precision),
		Params:    countModelParams(s), Steps: steps, StepSeconds: timed.Seconds() / float64(steps),
		FLOPsPerStep: fl.TrainStep(batch)}
	st.TokensPerS = float64(batch*s.dims.Context) / st.StepSeconds
	st.GFLOPs = float64(st.FLOPsPerStep) / st.StepSeconds / 1e9
	return st, nil
}

// MatMulGFLOPs times an [n×n]·[n×n] matrix product on backend for about
// seconds (at least 2 products, after one untimed) and returns the achieved
// GFLOP/s (2n³ FLOPs per product). The operands are float32, or bfloat16
// for precision BF16.
func MatMulGFLOPs(ctx context.Context, backend compute.Backend, n int, seconds float64, precision Precision) (float64, error) {
	dt, err := precision.computeDType()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	backend, release, err := backendOf(backend)
	if err != nil {
		return 0, err
	}
	defer release()
	exec, err := graph.NewExec(backend, func(a, b *graph.Node) *graph.Node { return graph.MatMul(a, b) })
	if err != nil {
		return 0, fmt.Errorf("building matmul graph: %w", err)
	}
	defer exec.Finalize()
	r := rand.New(rand.NewPCG(3, 4))
	vals := make([]float32, n*n)
	for i := range vals {
		vals[i] = r.Float32() - 0.5
	}
	operand := func() *tensors.Tensor {
		if dt == dtypes.BFloat16 {
			return tensors.FromFlatDataAndDimensions(bfloat16.FromFloat32s(vals...), n, n)
		}
		return tensors.FromFlatDataAndDimensions(vals, n, n)
	}
	a, b := operand(), operand()
	run := func() error {
		outs, err := call(exec, a, b)
		if err != nil {
			return fmt.Errorf("running matmul: %w", err)
		}
		finalize(outs)
		return nil
	}
	if err := run(); err != nil {
		return 0, err
	}
	start := time.Now()
	calls := 0
	for calls < 2 || time.Since(start).Seconds() < seconds {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := run(); err != nil {
			return 0, err
		}
		calls++
	}
	return 2 * float64(n) * float64(n) * float64(n) * float64(calls) / time.Since(start).Seconds() / 1e9, nil
}

// processCPUSeconds is the user + system CPU time of this process so far
// (0 where getrusage fails).
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
