package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func init() { register(trainCommand()) }

func trainCommand() *cli.Command {
	return &cli.Command{
		Name:      "train",
		Usage:     "train one genome on a MAD task or a text corpus and print its scores",
		ArgsUsage: "[GENOME]",
		UsageText: `star-pipeline train (GENOME | --preset NAME --depth N) --task TASK [flags]

TASK is mad:<task> (` + strings.Join(data.MADTasks, ", ") + `)
or text:<path> (a file, or a directory read recursively in path order; the
last 10% of every file is validation text).

Examples:
  star-pipeline train 11111-11111-91111 --task mad:in-context-recall --context 64 --steps 300 --lr 3e-3
  star-pipeline train --preset transformer++ --depth 4 --task text:data/brown --steps 500 --json
  star-pipeline train 71111-91111 --task mad:selective-copying --checkpoint ckpt/run1   # rerun to resume
  star-pipeline train --preset striped --depth 24 --width 768 --context 2048 --task text:data/brown --backend auto --precision bf16`,
		Flags: []cli.Flag{
			genomePresetFlag(), genomeDepthFlag(),
			&cli.StringFlag{Name: "task", Usage: "mad:<task> or text:<path> (required)", EnvVars: []string{"STAR_TASK"}},
			&cli.IntFlag{Name: "width", Value: 64, Usage: "model width", EnvVars: []string{"STAR_WIDTH"}},
			&cli.IntFlag{Name: "head-dim", Usage: "head dimension (default 16 below width 256, else 64)", EnvVars: []string{"STAR_HEAD_DIM"}},
			&cli.IntFlag{Name: "context", Usage: "sequence length (default: 256 for text, the MAD task's length)", EnvVars: []string{"STAR_CONTEXT"}},
			&cli.IntFlag{Name: "steps", Value: 200, Usage: "optimizer steps", EnvVars: []string{"STAR_STEPS"}},
			&cli.IntFlag{Name: "batch", Value: trainer.DefaultBatchSize, Usage: "sequences per step", EnvVars: []string{"STAR_BATCH"}},
			&cli.Float64Flag{Name: "lr", Value: trainer.DefaultLearningRate, Usage: "peak learning rate", EnvVars: []string{"STAR_LR"}},
			&cli.Float64Flag{Name: "weight-decay", Value: trainer.DefaultWeightDecay, Usage: "AdamW weight decay on matrices", EnvVars: []string{"STAR_WEIGHT_DECAY"}},
			&cli.Float64Flag{Name: "warmup", Value: trainer.DefaultWarmupFraction, Usage: "fraction of steps in linear warmup", EnvVars: []string{"STAR_WARMUP"}},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the initial weights and the batch order", EnvVars: []string{"STAR_SEED"}},
			&cli.Uint64Flag{Name: "data-seed", Usage: "seed of the generated MAD sets", EnvVars: []string{"STAR_DATA_SEED"}},
			&cli.IntFlag{Name: "train-examples", Usage: "MAD training set size (default 12800)", EnvVars: []string{"STAR_TRAIN_EXAMPLES"}},
			&cli.IntFlag{Name: "test-examples", Usage: "MAD test set size (default 1280)", EnvVars: []string{"STAR_TEST_EXAMPLES"}},
			&cli.IntFlag{Name: "eval-tokens", Usage: "validation tokens of a text task (default 65536)", EnvVars: []string{"STAR_EVAL_TOKENS"}},
			&cli.StringFlag{Name: "checkpoint", Usage: "checkpoint directory: resumed when it holds a checkpoint", EnvVars: []string{"STAR_CHECKPOINT"}},
			&cli.IntFlag{Name: "checkpoint-every", Value: 100, Usage: "steps between checkpoints (0: only at the end or when interrupted)", EnvVars: []string{"STAR_CHECKPOINT_EVERY"}},
			&cli.StringFlag{Name: "backend", Usage: "go, go:<options> or xla:<PJRT plugin path> (default $GOMLX_BACKEND, else go)", EnvVars: []string{"STAR_BACKEND"}},
			precisionFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"STAR_JSON"}},
		},
		Action: trainAction,
	}
}

// trainOutput is what train prints.
type trainOutput struct {
	Task              string    `json:"task"`
	Genome            string    `json:"genome"`
	Params            int64     `json:"params"`
	Vocab             int       `json:"vocab"`
	Context           int       `json:"context"`
	Width             int       `json:"width"`
	Precision         string    `json:"precision"`
	Steps             int       `json:"steps"`
	ResumedFrom       int       `json:"resumed_from"`
	FinalLoss         float64   `json:"final_loss"`
	EvalLoss          float64   `json:"eval_loss"`
	ValPerplexity     *float64  `json:"val_perplexity,omitempty"`
	UnigramPerplexity *float64  `json:"unigram_perplexity,omitempty"`
	Accuracy          *float64  `json:"accuracy,omitempty"`
	ForwardTokensPerS float64   `json:"forward_tokens_per_s"` // inference: a batched forward pass of the final weights
	TrainTokensPerS   float64   `json:"train_tokens_per_s"`   // training, compilation excluded
	WallSeconds       float64   `json:"wall_s"`
	Checkpoint        string    `json:"checkpoint,omitempty"`
	Losses            []float64 `json:"losses"`
}

func trainAction(c *cli.Context) error {
	run, err := trainRunOf(c)
	if err != nil {
		return err
	}
	backend, err := newBackend(c.String("backend"))
	if err != nil {
		return err
	}
	defer backend.Finalize()
	run.cfg.Backend = backend

	stderr := c.App.ErrWriter
	prog := newProgress(stderr, "train "+run.task.Name(), run.cfg.Steps)
	res, err := trainer.Train(c.Context, run.genome, run.dims, run.task, run.cfg, prog.step)
	prog.done()
	switch {
	case errors.Is(err, trainer.ErrInvalid):
		return badInput("%w", err)
	case errors.Is(err, context.Canceled) && run.cfg.CheckpointDir != "":
		fmt.Fprintf(stderr, "interrupted after step %d; the checkpoint in %s resumes it: run the same command again\n",
			res.Steps, run.cfg.CheckpointDir)
		return err
	case err != nil:
		return err
	}
	out := trainOutputOf(res, run.task, run.cfg.Precision)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	return printTrainOutput(c.App.Writer, out)
}

// trainRun is what train trains, from its arguments and flags.
type trainRun struct {
	genome genome.Genome
	task   data.Task
	dims   arch.Config
	cfg    trainer.Config
}

// trainRunOf reads and checks train's arguments and flags: every bad
// value is bad usage, found before anything is trained.
func trainRunOf(c *cli.Context) (trainRun, error) {
	g, err := genomeInput(c)
	if err != nil {
		return trainRun{}, err
	}
	if err := genome.Validate(g, genome.Space{}); err != nil {
		return trainRun{}, badInput("checking genome: %w (genome repair makes its sharing legal)", err)
	}
	spec := c.String("task")
	if spec == "" {
		return trainRun{}, badInput("--task is required: mad:<task> or text:<path>")
	}
	if err := checkTrainSizes(c, spec); err != nil {
		return trainRun{}, err
	}
	opts := data.TaskOptions{
		Context:    c.Int("context"),
		EvalTokens: c.Int("eval-tokens"),
		MAD: data.MADConfig{Length: c.Int("context"), TrainExamples: c.Int("train-examples"),
			TestExamples: c.Int("test-examples"), Seed: c.Uint64("data-seed")},
	}
	task, err := data.NewTask(spec, opts)
	if err != nil {
		return trainRun{}, badInput("%w", err)
	}
	precision, err := precisionOf(c)
	if err != nil {
		return trainRun{}, err
	}
	switch {
	case c.Int("batch") < 1:
		return trainRun{}, badInput("--batch must be >= 1, got %d", c.Int("batch"))
	case !(c.Float64("lr") > 0):
		return trainRun{}, badInput("--lr must be > 0, got %v", c.Float64("lr"))
	case c.Float64("weight-decay") < 0:
		return trainRun{}, badInput("--weight-decay must be >= 0, got %v", c.Float64("weight-decay"))
	case c.Float64("warmup") < 0:
		return trainRun{}, badInput("--warmup must be in [0, 1), got %v", c.Float64("warmup"))
	}
	cfg := trainer.Knobs{
		Steps: c.Int("steps"), BatchSize: c.Int("batch"), LearningRate: c.Float64("lr"),
		WeightDecay: c.Float64("weight-decay"), WarmupFraction: c.Float64("warmup"),
		Precision: precision, CheckpointEvery: c.Int("checkpoint-every"),
	}.Config(c.Uint64("seed"))
	cfg.CheckpointDir = c.String("checkpoint")
	if err := cfg.WithDefaults().Validate(); err != nil {
		return trainRun{}, badInput("%w", err)
	}
	return trainRun{genome: g, task: task, dims: arch.Config{Width: c.Int("width"), HeadDim: c.Int("head-dim")}, cfg: cfg}, nil
}

// trainOutputOf is what train prints of a finished run on task.
func trainOutputOf(res trainer.Result, task data.Task, precision trainer.Precision) trainOutput {
	if precision == "" {
		precision = trainer.FP32
	}
	out := trainOutput{Task: res.Task, Genome: res.Genome, Params: res.Params, Vocab: res.Vocab, Context: res.Context,
		Width: res.Width, Precision: string(precision), Steps: res.Steps, ResumedFrom: res.ResumedFrom, FinalLoss: res.FinalLoss, EvalLoss: res.EvalLoss,
		ForwardTokensPerS: res.TokensPerS, TrainTokensPerS: res.TrainTokensPerS, WallSeconds: res.WallTime.Seconds(),
		Checkpoint: res.Checkpoint, Losses: res.Losses}
	if res.Metric == data.Perplexity {
		ppl := res.ValPerplexity
		out.ValPerplexity = &ppl
		if tt, ok := task.(*data.TextTask); ok {
			u := data.UnigramPerplexity(tt.ValTargets(), tt.ValTargets())
			out.UnigramPerplexity = &u
		}
	} else {
		acc := res.Accuracy
		out.Accuracy = &acc
	}
	return out
}

// printTrainOutput prints out as a table of fields.
func printTrainOutput(w io.Writer, out trainOutput) error {
	t := newTable(w, "field", "value")
	t.row("task", out.Task)
	t.row("genome", out.Genome)
	t.row("params", out.Params)
	t.row("vocab", out.Vocab)
	t.row("context", out.Context)
	t.row("width", out.Width)
	t.row("precision", out.Precision)
	t.row("steps", out.Steps)
	if out.ResumedFrom > 0 {
		t.row("resumed_from", out.ResumedFrom)
	}
	t.row("final_loss", fmt.Sprintf("%.4f", out.FinalLoss))
	t.row("eval_loss", fmt.Sprintf("%.4f", out.EvalLoss))
	if out.ValPerplexity != nil {
		t.row("val_perplexity", fmt.Sprintf("%.3f", *out.ValPerplexity))
	}
	if out.UnigramPerplexity != nil {
		t.row("unigram_perplexity", fmt.Sprintf("%.3f", *out.UnigramPerplexity))
	}
	if out.Accuracy != nil {
		t.row("accuracy", fmt.Sprintf("%.4f", *out.Accuracy))
	}
	t.row("forward_tokens_per_s", fmt.Sprintf("%.0f", out.ForwardTokensPerS))
	t.row("train_tokens_per_s", fmt.Sprintf("%.0f", out.TrainTokensPerS))
	t.row("wall_s", fmt.Sprintf("%.1f", out.WallSeconds))
	if out.Checkpoint != "" {
		t.row("checkpoint", out.Checkpoint)
	}
	return t.flush()
}

// checkTrainSizes checks every size flag of train against its limit
// (docs/limits.md) before anything is generated, loaded or allocated for
// it: a MAD task's sets, the batches and the model.
func checkTrainSizes(c *cli.Context, spec string) error {
	err := checkIntFlags(c,
		intRange{"steps", 1, config.MaxSteps}, intRange{"batch", 1, config.MaxBatchSize},
		intRange{"width", 1, arch.MaxWidth}, intRange{"head-dim", 0, arch.MaxWidth},
		intRange{"context", 0, arch.MaxContext},
		intRange{"train-examples", 0, config.MaxMADExamples}, intRange{"test-examples", 0, config.MaxMADExamples},
		intRange{"eval-tokens", 0, config.MaxEvalTokens}, intRange{"checkpoint-every", 0, config.MaxSteps})
	if err != nil {
		return err
	}
	length := c.Int("context")
	if kind, name, _ := strings.Cut(spec, ":"); kind == "mad" {
		m, err := data.MADConfig{Task: name, Length: length, TrainExamples: c.Int("train-examples"),
			TestExamples: c.Int("test-examples")}.WithDefaults()
		if err != nil {
			return badInput("%w", err) // an unknown task
		}
		length = m.Length
		if length > config.MaxMADLength {
			return badInput("--context (the MAD task's sequence length) must be <= %d (limits: docs/limits.md), got %d",
				config.MaxMADLength, length)
		}
		if n := (m.TrainExamples + m.TestExamples) * length; n > config.MaxMADTokens {
			return badInput("(--train-examples + --test-examples) x sequence length must be <= %d tokens (limits: docs/limits.md), "+
				"got (%d + %d) x %d = %d", config.MaxMADTokens, m.TrainExamples, m.TestExamples, length, n)
		}
	} else if length == 0 {
		length = 256 // the text task's default context
	}
	if n := c.Int("batch") * length; n > config.MaxBatchTokens {
		return badInput("--batch x sequence length must be <= %d tokens per step (limits: docs/limits.md), got %d x %d = %d",
			config.MaxBatchTokens, c.Int("batch"), length, n)
	}
	return nil
}

// precisionFlag is --precision of train and bench trainer.
func precisionFlag() cli.Flag {
	return &cli.StringFlag{Name: "precision", Value: string(trainer.FP32),
		Usage: "fp32, or bf16: mixed precision (float32 weights and optimizer, bfloat16 matmuls)", EnvVars: []string{"STAR_PRECISION"}}
}

// precisionOf returns the --precision flag, a bad value as bad usage.
func precisionOf(c *cli.Context) (trainer.Precision, error) {
	p, err := trainer.ParsePrecision(c.String("precision"))
	if err != nil {
		return "", badInput("--precision: %w", err)
	}
	return p, nil
}

// newBackend creates the compute backend named by spec ("" for
// $GOMLX_BACKEND or go). GoMLX's go backend prints its parallelism option
// to stdout; that line goes to stderr so stdout keeps only results.
func newBackend(spec string) (compute.Backend, error) {
	b, err := createBackend(spec)
	if err != nil {
		return nil, badInput("--backend: %w", err)
	}
	return b, nil
}

// createBackend is newBackend without the flag's name in its error: for
// the backends run configs name.
func createBackend(spec string) (compute.Backend, error) {
	spec = resolveBackendSpec(spec, os.Stderr)
	saved := os.Stdout
	os.Stdout = os.Stderr
	b, err := model.NewBackend(spec)
	os.Stdout = saved
	return b, err
}

// progress shows training progress on stderr: one line redrawn with '\r'
// when stderr is a terminal, otherwise a plain line every tenth of the
// run (and at least every 30 seconds).
type progress struct {
	w     io.Writer
	tty   bool
	label string
	steps int
	every int
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, label string, steps int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, label: label, steps: steps, every: max(1, steps/10), last: time.Now()}
}

func (p *progress) step(pr trainer.Progress) {
	if p.tty {
		const width = 30
		filled := width * pr.Step / max(1, pr.Steps)
		bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
		fmt.Fprintf(p.w, "\r%s [%s] %d/%d loss %.4f lr %.2e %.0f tok/s %s ", p.label, bar, pr.Step, pr.Steps,
			pr.Loss, pr.LR, pr.TokensPerS, pr.Elapsed.Round(time.Second))
		p.drawn = true
		return
	}
	if pr.Step%p.every == 0 || pr.Step == pr.Steps || time.Since(p.last) >= 30*time.Second {
		fmt.Fprintf(p.w, "%s: step %d/%d loss %.4f lr %.2e grad_norm %.3f %.0f tok/s elapsed %s\n", p.label,
			pr.Step, pr.Steps, pr.Loss, pr.LR, pr.GradNorm, pr.TokensPerS, pr.Elapsed.Round(time.Millisecond))
		p.last = time.Now()
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
