package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/gomlx/compute/gobackend"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func init() { registerBench(benchTrainerCommand()) }

// maxBenchMatMul bounds --matmul: three N x N float32 matrices of 256 MiB
// each at the limit.
const maxBenchMatMul = 1 << 13

// benchReference is the reference hybrid of bench trainer: 8 slots mixing
// attention, recurrence, long convolution and SwiGLU.
const benchReference = "11111-91111-51111-91111-81111-91111-11111-91111"

func benchTrainerCommand() *cli.Command {
	return &cli.Command{
		Name:  "trainer",
		Usage: "measure training speed: tokens/s and GFLOP/s of a reference hybrid, a matmul roofline, each class alone",
		UsageText: `star-pipeline bench trainer [--batch B] [--steps S] [--class-width W] [--matmul N] [--backend SPEC] [--precision P] [--json]

Trains the reference hybrid ` + benchReference + `
(SA-1, Rec-1, GConv-2 and SA-1, each followed by GMemless) at width 256 and
context 256 on random bytes: one untimed step compiles, then S steps are
timed. Model GFLOP/s counts the matmul FLOPs of arch.FLOPs (forward and
backward = 3x forward). In the same run it times an NxN matrix product
(float32, or bfloat16 with --precision bf16) on the same backend and prints
the model's fraction of it. Then it times each LIV class alone (one slot)
at width W.

With --compare-torch it instead trains the reference hybrid and
transformer++ (depth 8) at the same width, context and batch, on the Go
trainer and on bench/gpu/reference.py (PyTorch on the CPU, float32, eager,
--torch-threads threads, OpenBLAS from --torch-blas), interleaved for
--rounds rounds, and prints the tokens/s of each and Go / PyTorch (median,
min and max over rounds; each round's ratio from that round's runs). The
hybrid is timed in PyTorch with its long convolution by FFT and as a
Toeplitz matmul (the Go trainer's algorithm). Needs python3-torch and
libopenblas0-openmp (README, "Trainer on the CPU").

Examples:
  star-pipeline bench trainer
  star-pipeline bench trainer --compare-torch --rounds 3
  GOMLX_BACKEND=go:parallelism=-1 star-pipeline bench trainer --steps 5 --json`,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "batch", Value: 8, Usage: "sequences per step", EnvVars: []string{"STAR_BATCH"}},
			&cli.IntFlag{Name: "steps", Value: 3, Usage: "timed steps of the reference model", EnvVars: []string{"STAR_STEPS"}},
			&cli.IntFlag{Name: "width", Value: 256, Usage: "reference model width", EnvVars: []string{"STAR_WIDTH"}},
			&cli.IntFlag{Name: "context", Value: 256, Usage: "context length", EnvVars: []string{"STAR_CONTEXT"}},
			&cli.IntFlag{Name: "class-width", Value: 64, Usage: "width of the per-class timings (0 skips them)", EnvVars: []string{"STAR_CLASS_WIDTH"}},
			&cli.IntFlag{Name: "class-steps", Value: 3, Usage: "timed steps per class", EnvVars: []string{"STAR_CLASS_STEPS"}},
			&cli.IntFlag{Name: "matmul", Value: 1024, Usage: "size N of the NxN matrix product", EnvVars: []string{"STAR_MATMUL"}},
			&cli.StringFlag{Name: "backend", Usage: "go, go:<options> or xla:<PJRT plugin path> (default $GOMLX_BACKEND, else go)", EnvVars: []string{"STAR_BACKEND"}},
			precisionFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"STAR_JSON"}},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile (pprof) of the reference model's training to this file"},
			&cli.IntFlag{Name: "op-profile", Usage: "print where the reference model's training spends its time per op type, and the N most costly ops by shapes (Go backend)"},
			&cli.StringFlag{Name: "genome", Usage: "train this genome, or a preset (" + strings.Join(genome.PresetNames(), ", ") + ", depth 8), instead of the reference hybrid", EnvVars: []string{"STAR_GENOME"}},
		}, torchFlags()...),
		Action: benchTrainer,
	}
}

// benchTrainerOutput is what bench trainer prints.
type benchTrainerOutput struct {
	Backend      string             `json:"backend"`
	Precision    string             `json:"precision"`
	Reference    trainer.StepTiming `json:"reference"`
	MatMulN      int                `json:"matmul_n"`
	MatMulGFLOPs float64            `json:"matmul_gflops"`
	Ratio        float64            `json:"ratio"` // reference GFLOP/s over matmul GFLOP/s
	Classes      []benchClassTiming `json:"classes,omitempty"`
}

type benchClassTiming struct {
	Class  string  `json:"class"`
	StepMS float64 `json:"step_ms"`
	trainer.StepTiming
}

func benchTrainer(c *cli.Context) error {
	batch, steps, mm := c.Int("batch"), c.Int("steps"), c.Int("matmul")
	switch {
	case batch < 1 || steps < 1 || c.Int("class-steps") < 1:
		return badInput("--batch, --steps and --class-steps must be >= 1")
	case mm < 1:
		return badInput("--matmul must be >= 1, got %d", mm)
	case c.Int("class-width") < 0:
		return badInput("--class-width must be >= 0")
	}
	err := checkIntFlags(c, intRange{"batch", 1, config.MaxBatchSize}, intRange{"steps", 1, config.MaxSteps},
		intRange{"class-steps", 1, config.MaxSteps}, intRange{"width", 1, arch.MaxWidth},
		intRange{"context", 1, arch.MaxContext}, intRange{"class-width", 0, arch.MaxWidth},
		intRange{"matmul", 1, maxBenchMatMul}, intRange{"op-profile", 0, 1 << 20})
	if err != nil {
		return err
	}
	if n := batch * c.Int("context"); n > config.MaxBatchTokens {
		return badInput("--batch x --context must be <= %d tokens per step (limits: docs/limits.md), got %d", config.MaxBatchTokens, n)
	}
	precision, err := precisionOf(c)
	if err != nil {
		return err
	}
	backend, err := newBackend(c.String("backend"))
	if err != nil {
		return err
	}
	defer backend.Finalize()
	stderr := c.App.ErrWriter
	dims := arch.Config{Width: c.Int("width"), Context: c.Int("context")}
	if c.Bool("compare-torch") {
		return compareTorch(c, backend, dims, batch, steps, precision)
	}
	model, err := benchModel(c.String("genome"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench trainer: reference %s at width %d, context %d, batch %d, %s on %s\n",
		model, dims.Width, dims.Context, batch, precision, backend.Description())
	stopProfile := func() {}
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return badInput("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if c.Int("op-profile") > 0 {
		gobackend.EnableOpProfile(true)
	}
	ref, err := trainer.TimeTraining(c.Context, backend, model, dims, batch, 1, steps, precision)
	stopProfile()
	if err != nil {
		return benchErr(err)
	}
	if n := c.Int("op-profile"); n > 0 {
		gobackend.EnableOpProfile(false)
		gobackend.WriteOpProfile(stderr, n)
	}
	fmt.Fprintf(stderr, "bench trainer: %.2f s/step; timing a %dx%d matmul\n", ref.StepSeconds, mm, mm)
	gf, err := trainer.MatMulGFLOPs(c.Context, backend, mm, 2, precision)
	if err != nil {
		return err
	}
	out := benchTrainerOutput{Backend: backend.Description(), Precision: string(precision), Reference: ref, MatMulN: mm, MatMulGFLOPs: gf, Ratio: ref.GFLOPs / gf}
	if w := c.Int("class-width"); w > 0 {
		classDims := arch.Config{Width: w, Context: dims.Context}.WithDefaults()
		if w/classDims.HeadDim < 4 && w%4 == 0 {
			classDims.HeadDim = w / 4 // grouped-query classes need 4 heads
		}
		for _, cl := range genome.Classes() {
			g := genome.Genome{{Class: cl.ID, FeatGroup: 1, FeatStrategy: genome.FeatNone, ShareGroup: 1, ShareStrategy: genome.ShareNone}}
			fmt.Fprintf(stderr, "bench trainer: class %s alone at width %d\n", cl.Name, w)
			st, err := trainer.TimeTraining(c.Context, backend, g, classDims, batch, 1, c.Int("class-steps"), precision)
			if err != nil {
				return benchErr(fmt.Errorf("class %s: %w", cl.Name, err))
			}
			out.Classes = append(out.Classes, benchClassTiming{Class: cl.Name, StepMS: st.StepSeconds * 1000, StepTiming: st})
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	t := newTable(c.App.Writer, "model", "params", "batch", "context", "step_ms", "tokens_per_s", "gflop_per_step", "gflops")
	t.row("reference w"+fmt.Sprint(ref.Width), ref.Params, ref.Batch, ref.Context, fmt.Sprintf("%.1f", ref.StepSeconds*1000),
		fmt.Sprintf("%.0f", ref.TokensPerS), fmt.Sprintf("%.2f", float64(ref.FLOPsPerStep)/1e9), fmt.Sprintf("%.2f", ref.GFLOPs))
	for _, cl := range out.Classes {
		t.row(cl.Class+" w"+fmt.Sprint(cl.Width), cl.Params, cl.Batch, cl.Context, fmt.Sprintf("%.1f", cl.StepMS),
			fmt.Sprintf("%.0f", cl.TokensPerS), fmt.Sprintf("%.2f", float64(cl.FLOPsPerStep)/1e9), fmt.Sprintf("%.2f", cl.GFLOPs))
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "\nmatmul %dx%d %s: %.2f GFLOP/s; reference model: %.2f GFLOP/s = %.1f%% of matmul (%s)\n",
		mm, mm, precision, gf, ref.GFLOPs, 100*out.Ratio, out.Backend)
	return nil
}

// benchModel returns the model bench trainer times: the reference hybrid,
// a preset at depth 8, or a genome.
func benchModel(s string) (genome.Genome, error) {
	if s == "" {
		s = benchReference
	}
	if slices.Contains(genome.PresetNames(), s) {
		return genome.Preset(s, 8)
	}
	return genomeArg(s)
}

// benchErr maps invalid settings to exit code 2.
func benchErr(err error) error {
	if errors.Is(err, trainer.ErrInvalid) {
		return badInput("%w", err)
	}
	return err
}
