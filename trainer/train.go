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
	r := &run{cfg: cfg, s: s, start: start,
		res: Result{Task: task.Name(), Genome: genome.Format(g), Vocab: s.dims.Vocab, Context: s.dims.Context, Width: s.dims.Width}}
	r.hdr = Checkpoint{Genome: r.res.Genome, Dims: s.dims, Task: task.Name(), Recipe: recipeOf(cfg)}
	if err := r.resume(); err != nil {
		return r.res, err
	}
	if r.res.ResumedFrom == 0 {
		if err := s.initialize(cfg.BatchSize); err != nil {
			return r.res, err
		}
	}
	if err := r.train(ctx, onStep); err != nil {
		r.finish()
		return r.res, err
	}
	r.finish()
	r.res.Params = countModelParams(s)
	ev, err := s.evaluate(ctx, cfg.EvalBatchSize, cfg.ThroughputSeconds)
	r.res.Eval = ev
	r.res.WallTime = time.Since(start)
	return r.res, err
}

// run is one call of Train: its session, the checkpoint header it
// advances step by step, and the result it fills in.
type run struct {
	cfg   Config
	s     *session
	hdr   Checkpoint
	res   Result
	start time.Time

	tokens int           // trained this call, past the first step
	timed  time.Duration // the time those steps took
}

// resume restores the checkpoint in cfg.CheckpointDir, if there is one,
// after checking it was written by this same run.
func (r *run) resume() error {
	dir := r.cfg.CheckpointDir
	if dir == "" {
		return nil
	}
	old, payload, err := readCheckpoint(dir, true)
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		return nil
	case err != nil:
		return err
	}
	if err := sameRun(old, &r.hdr); err != nil {
		return fmt.Errorf("%w: checkpoint in %s: %w; use another checkpoint directory or delete it", ErrInvalid, dir, err)
	}
	if err := r.s.restore(old, payload); err != nil {
		return err
	}
	r.hdr.Step, r.hdr.Losses, r.hdr.TrainSeconds = old.Step, old.Losses, old.TrainSeconds
	r.res.ResumedFrom = old.Step
	r.res.Checkpoint = dir + "/" + CheckpointFile
	r.cfg.Logger.Info("resuming training", "dir", dir, "step", old.Step, "steps", r.cfg.Steps)
	return nil
}

// train runs steps up to the call's target, checkpointing every
// CheckpointEvery steps, when cancelled, and at the end.
func (r *run) train(ctx context.Context, onStep func(Progress)) error {
	target := r.cfg.Target()
	for r.hdr.Step < target {
		if ctx.Err() != nil {
			r.finish()
			if err := r.save(); err != nil {
				return fmt.Errorf("checkpointing after cancellation: %w (%w)", err, ctx.Err())
			}
			return ctx.Err()
		}
		if err := r.step(target, onStep); err != nil {
			return err
		}
		if r.cfg.CheckpointEvery > 0 && r.hdr.Step%r.cfg.CheckpointEvery == 0 && r.hdr.Step < target {
			if err := r.save(); err != nil {
				return err
			}
		}
	}
	if r.hdr.Step > r.res.ResumedFrom || r.res.Checkpoint == "" {
		return r.save()
	}
	return nil
}

// step trains one step: a non-finite loss or gradient norm, or a
// StopWhen verdict, ends the run.
func (r *run) step(target int, onStep func(Progress)) error {
	step := r.hdr.Step
	t0 := time.Now()
	loss, gnorm, err := r.s.trainStep(r.cfg, step)
	if err != nil {
		return err
	}
	dt := time.Since(t0)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gnorm) || math.IsInf(gnorm, 0) {
		return &NonFiniteError{Step: step, Loss: loss, GradNorm: gnorm}
	}
	r.hdr.Step++
	r.hdr.Losses = append(r.hdr.Losses, loss)
	r.hdr.TrainSeconds += dt.Seconds()
	// The first step of a call compiles the graph: it is left out of the
	// throughput.
	if step > r.res.ResumedFrom {
		r.tokens += r.cfg.BatchSize * r.s.dims.Context
		r.timed += dt
	}
	if r.timed > 0 {
		r.res.TrainTokensPerS = float64(r.tokens) / r.timed.Seconds()
	}
	if r.cfg.StopWhen != nil {
		if err := r.cfg.StopWhen(r.hdr.Losses); err != nil {
			return err
		}
	}
	if onStep != nil {
		onStep(Progress{Step: r.hdr.Step, Steps: target, Loss: loss, LR: r.cfg.LR(step), GradNorm: gnorm,
			TokensPerS: r.res.TrainTokensPerS, Elapsed: time.Since(r.start)})
	}
	return nil
}

// save writes the checkpoint, when the run has a checkpoint directory.
func (r *run) save() error {
	if r.cfg.CheckpointDir == "" {
		return nil
	}
	path, err := r.s.saveCheckpoint(r.cfg.CheckpointDir, r.hdr)
	if err != nil {
		return err
	}
	r.res.Checkpoint = path
	r.cfg.Logger.Debug("checkpoint written", "path", path, "step", r.hdr.Step)
	return nil
}

// finish copies the run's progress into its result.
func (r *run) finish() {
	r.res.Steps = r.hdr.Step
	r.res.Losses = r.hdr.Losses
	if n := len(r.hdr.Losses); n > 0 {
		r.res.FinalLoss = r.hdr.Losses[n-1]
	}
	r.res.WallTime = time.Since(r.start)
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
