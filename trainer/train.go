package trainer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

// Progress is reported after every training step.
type Progress struct {
	Step       int           // steps completed
	Steps      int           // steps of the run
	Loss       float64       // this step's loss (cross-entropy plus auxiliary)
	LR         float64       // this step's learning rate
	GradNorm   float64       // global gradient norm before clipping
	TokensPerS float64       // training tokens per second in this call, first step (compilation) excluded
	Elapsed    time.Duration // since Train was called
}

// Result is the outcome of a training run and of the evaluation of its
// final weights.
type Result struct {
	Task    string // task name ("text:<path>", "mad:<task>")
	Genome  string // genome text
	Params  int64  // trainable model parameters (a compression decoder excluded)
	Vocab   int    // model vocabulary
	Context int    // sequence length
	Width   int    // model width

	Steps       int       // steps completed in total
	ResumedFrom int       // step the run resumed from (0 for a fresh run)
	Losses      []float64 // training loss of every step, resumed steps included
	FinalLoss   float64   // training loss of the last step

	Eval // evaluation of the final weights

	TrainTokensPerS float64       // training tokens per second in this call
	WallTime        time.Duration // of this call
	Checkpoint      string        // path of the last checkpoint written or read ("" without a directory)
}

// Train trains the model g stands for at dims (Context and Vocab are set by
// the task, see ModelDims) on task, then evaluates it. onStep, when not
// nil, is called after every step.
//
// With cfg.CheckpointDir set, a checkpoint found there is resumed (it must
// come from the same genome, dimensions, task and recipe), one is written
// every cfg.CheckpointEvery steps, when ctx is cancelled and at the end. A
// finished checkpoint is only evaluated. cfg.StopAt ends the call at a
// rung before cfg.Steps, with a checkpoint that a later call with a larger
// StopAt continues exactly (see Config.StopAt).
//
// Errors: wrapping ErrInvalid for a bad genome, dimensions or recipe;
// *NonFiniteError (wrapping ErrNonFinite) when a loss or gradient is NaN or
// infinite; ctx.Err() when cancelled, with the partial result.
func Train(ctx context.Context, g genome.Genome, dims arch.Config, task data.Task, cfg Config, onStep func(Progress)) (res Result, err error) {
	start := time.Now()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	backend, release, err := backendOf(cfg.Backend)
	if err != nil {
		return Result{}, err
	}
	defer release()
	s, err := newSession(backend, g, dims, task, cfg.Seed)
	if err != nil {
		return Result{}, err
	}
	defer s.close()
	if err := s.withPrecision(cfg.Precision); err != nil {
		return Result{}, err
	}
	if err := s.withTraining(cfg); err != nil {
		return Result{}, err
	}
	res = Result{Task: task.Name(), Genome: genome.Format(g), Vocab: s.dims.Vocab, Context: s.dims.Context,
		Width: s.dims.Width}
	hdr := Checkpoint{Genome: res.Genome, Dims: s.dims, Task: task.Name(), Recipe: recipeOf(cfg)}

	if cfg.CheckpointDir != "" {
		old, payload, err := readCheckpoint(cfg.CheckpointDir, true)
		switch {
		case errors.Is(err, ErrNoCheckpoint):
		case err != nil:
			return res, err
		default:
			if err := sameRun(old, &hdr); err != nil {
				return res, fmt.Errorf("%w: checkpoint in %s: %w; use another checkpoint directory or delete it", ErrInvalid, cfg.CheckpointDir, err)
			}
			if err := s.restore(old, payload); err != nil {
				return res, err
			}
			hdr.Step, hdr.Losses, hdr.TrainSeconds = old.Step, old.Losses, old.TrainSeconds
			res.ResumedFrom = old.Step
			res.Checkpoint = cfg.CheckpointDir + "/" + CheckpointFile
			cfg.Logger.Info("resuming training", "dir", cfg.CheckpointDir, "step", old.Step, "steps", cfg.Steps)
		}
	}

	if res.ResumedFrom == 0 {
		if err := s.initialize(cfg.BatchSize); err != nil {
			return res, err
		}
	}

	save := func() error {
		if cfg.CheckpointDir == "" {
			return nil
		}
		path, err := s.saveCheckpoint(cfg.CheckpointDir, hdr)
		if err != nil {
			return err
		}
		res.Checkpoint = path
		cfg.Logger.Debug("checkpoint written", "path", path, "step", hdr.Step)
		return nil
	}
	finish := func() {
		res.Steps = hdr.Step
		res.Losses = hdr.Losses
		if n := len(hdr.Losses); n > 0 {
			res.FinalLoss = hdr.Losses[n-1]
		}
		res.WallTime = time.Since(start)
	}

	tokens := 0
	var timed time.Duration
	target := cfg.Target()
	for hdr.Step < target {
		if ctx.Err() != nil {
			finish()
			if err := save(); err != nil {
				return res, fmt.Errorf("checkpointing after cancellation: %w (%w)", err, ctx.Err())
			}
			return res, ctx.Err()
		}
		step := hdr.Step
		t0 := time.Now()
		loss, gnorm, err := s.trainStep(cfg, step)
		if err != nil {
			finish()
			return res, err
		}
		dt := time.Since(t0)
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gnorm) || math.IsInf(gnorm, 0) {
			finish()
			return res, &NonFiniteError{Step: step, Loss: loss, GradNorm: gnorm}
		}
		hdr.Step++
		hdr.Losses = append(hdr.Losses, loss)
		hdr.TrainSeconds += dt.Seconds()
		if step > res.ResumedFrom {
			tokens += cfg.BatchSize * s.dims.Context
			timed += dt
		}
		if timed > 0 {
			res.TrainTokensPerS = float64(tokens) / timed.Seconds()
		}
		if cfg.StopWhen != nil {
			if err := cfg.StopWhen(hdr.Losses); err != nil {
				finish()
				return res, err
			}
		}
		if onStep != nil {
			onStep(Progress{Step: hdr.Step, Steps: target, Loss: loss, LR: cfg.LR(step), GradNorm: gnorm,
				TokensPerS: res.TrainTokensPerS, Elapsed: time.Since(start)})
		}
		if cfg.CheckpointEvery > 0 && hdr.Step%cfg.CheckpointEvery == 0 && hdr.Step < target {
			if err := save(); err != nil {
				finish()
				return res, err
			}
		}
	}
	if hdr.Step > res.ResumedFrom || res.Checkpoint == "" {
		if err := save(); err != nil {
			finish()
			return res, err
		}
	}
	finish()
	res.Params = countModelParams(s)

	ev, err := s.evaluate(ctx, cfg.EvalBatchSize, cfg.ThroughputSeconds)
	res.Eval = ev
	res.WallTime = time.Since(start)
	return res, err
}

// sameRun explains the first difference between the run a checkpoint was
// written by and this one.
func sameRun(old, cur *Checkpoint) error {
	switch {
	case old.Genome != cur.Genome:
		return fmt.Errorf("written for genome %s, not %s", old.Genome, cur.Genome)
	case old.Task != cur.Task:
		return fmt.Errorf("written for task %s, not %s", old.Task, cur.Task)
	case old.Dims != cur.Dims:
		return fmt.Errorf("written at dimensions %+v, not %+v", old.Dims, cur.Dims)
	case old.Recipe.Precision != cur.Recipe.Precision:
		return fmt.Errorf("written in precision %s, not %s", precisionName(old.Recipe.Precision), precisionName(cur.Recipe.Precision))
	case old.Recipe != cur.Recipe:
		return fmt.Errorf("written with recipe %+v, not %+v", old.Recipe, cur.Recipe)
	}
	return nil
}

// initialize builds the training graph for batches of size rows and
// initializes every variable (weights from the seeded RNG, moments at
// zero), so that a checkpoint can be written before the first step.
func (s *session) initialize(size int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("building the model: %v", r)
		}
	}()
	tok := shapes.Make(dtypes.Int32, size, s.dims.Context)
	scalar := shapes.Make(dtypes.Float32)
	if _, err := s.trainExec.Compile(tok, tok, scalar, scalar, scalar); err != nil {
		return fmt.Errorf("building the training graph: %w", err)
	}
	if err := s.store.InitializeVariables(s.backend, nil); err != nil {
		return fmt.Errorf("initializing variables: %w", err)
	}
	return nil
}

// trainStep runs one optimizer step and returns its loss and gradient
// norm.
func (s *session) trainStep(cfg Config, step int) (loss, gnorm float64, err error) {
	b := s.task.TrainBatch(cfg.Seed, step, cfg.BatchSize)
	in, tg := batchTensors(b)
	t := float64(step + 1)
	bc1 := 1 - math.Pow(cfg.Beta1, t)
	bc2 := 1 - math.Pow(cfg.Beta2, t)
	outs, err := call(s.trainExec, in, tg, float32(cfg.LR(step)), float32(bc1), float32(bc2))
	if err != nil {
		return 0, 0, fmt.Errorf("training step %d: %w", step, err)
	}
	defer finalize(outs)
	return scalar(outs[0]), scalar(outs[2]), nil
}

// call runs an Exec, turning a panic of graph building into an error.
func call(e interface {
	Call(args ...any) ([]*tensors.Tensor, error)
}, args ...any) (outs []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return e.Call(args...)
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.FinalizeAll()
	}
}

// backendOf returns cfg's backend, or a new default one and a function
// that releases it.
func backendOf(b compute.Backend) (compute.Backend, func(), error) {
	if b != nil {
		return b, func() {}, nil
	}
	nb, err := model.NewBackend("")
	if err != nil {
		return nil, nil, err
	}
	return nb, nb.Finalize, nil
}

// countModelParams counts the trainable model variables (not the decoder,
// not optimizer state).
func countModelParams(s *session) int64 { return model.CountParams(s.store.Scope(modelScope)) }
