package trainer

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

// Eval is the evaluation of a model on its task's fixed evaluation set.
type Eval struct {
	Metric data.Metric // what the task reports
	// EvalLoss is the mean cross-entropy (nats) over the scored targets.
	EvalLoss float64
	// ValPerplexity is exp(EvalLoss): the validation perplexity of a text
	// task (also set for MAD tasks).
	ValPerplexity float64
	// Accuracy is the fraction of scored targets whose most likely token
	// is right: the MAD score's input (also set for text).
	Accuracy float64
	// Scored is the number of targets evaluated.
	Scored int
	// TokensPerS is the measured forward throughput of the model (tokens
	// per second, batch of EvalBatchSize sequences); 0 when not measured.
	TokensPerS float64
}

// evaluate runs the evaluation set and measures forward throughput for
// about seconds (not when seconds <= 0).
func (s *session) evaluate(ctx context.Context, batchSize int, seconds float64) (Eval, error) {
	ev := Eval{Metric: s.task.Metric()}
	var nll, count, correct float64
	batches := s.task.EvalBatches(batchSize)
	for _, b := range batches {
		if ctx.Err() != nil {
			return ev, ctx.Err()
		}
		in, tg := batchTensors(b)
		outs, err := call(s.evalExec, in, tg)
		if err != nil {
			return ev, fmt.Errorf("evaluating: %w", err)
		}
		nll += scalar(outs[0])
		count += scalar(outs[1])
		correct += scalar(outs[2])
		finalize(outs)
	}
	if count == 0 {
		return ev, fmt.Errorf("evaluation set of %s has no scored targets", s.task.Name())
	}
	ev.EvalLoss = nll / count
	ev.ValPerplexity = math.Exp(ev.EvalLoss)
	ev.Accuracy = correct / count
	ev.Scored = int(count)
	if seconds > 0 && len(batches) > 0 {
		tps, err := s.throughput(ctx, batches[0], seconds)
		if err != nil {
			return ev, err
		}
		ev.TokensPerS = tps
	}
	return ev, nil
}

// throughput times forward passes on b for about seconds, after one
// untimed pass that compiles the graph, and returns tokens per second.
func (s *session) throughput(ctx context.Context, b data.Batch, seconds float64) (float64, error) {
	in, _ := batchTensors(b)
	outs, err := call(s.fwdExec, in)
	if err != nil {
		return 0, fmt.Errorf("measuring throughput: %w", err)
	}
	finalize(outs)
	start := time.Now()
	n := 0
	for n < 2 || time.Since(start).Seconds() < seconds {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		outs, err := call(s.fwdExec, in)
		if err != nil {
			return 0, fmt.Errorf("measuring throughput: %w", err)
		}
		finalize(outs)
		n++
	}
	return float64(n*b.Size*b.Length) / time.Since(start).Seconds(), nil
}

// EvalOptions configures Evaluate. Zero fields take their defaults.
type EvalOptions struct {
	// BatchSize of evaluation and throughput; default the checkpoint's
	// training batch size.
	BatchSize int
	// ThroughputSeconds bounds the throughput measurement; default 1,
	// negative to skip it.
	ThroughputSeconds float64
	// Backend runs the graphs; default model.NewBackend("").
	Backend compute.Backend
}

// Evaluate loads the checkpoint in dir and evaluates its weights on task
// (which must be the task it was trained on), in the precision it was
// trained in. The error wraps
// ErrNoCheckpoint when dir holds none.
func Evaluate(ctx context.Context, dir string, task data.Task, opts EvalOptions) (Eval, error) {
	hdr, payload, err := readCheckpoint(dir, true)
	if err != nil {
		return Eval{}, err
	}
	if hdr.Task != task.Name() {
		return Eval{}, fmt.Errorf("%w: checkpoint in %s was trained on %s, not %s", ErrInvalid, dir, hdr.Task, task.Name())
	}
	g, err := genome.Parse(hdr.Genome)
	if err != nil {
		return Eval{}, fmt.Errorf("checkpoint in %s: genome: %w", dir, err)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = hdr.Recipe.BatchSize
	}
	if opts.ThroughputSeconds == 0 {
		opts.ThroughputSeconds = 1
	}
	backend, release, err := backendOf(opts.Backend)
	if err != nil {
		return Eval{}, err
	}
	defer release()
	s, err := newSession(backend, g, hdr.Dims, task, hdr.Recipe.Seed)
	if err != nil {
		return Eval{}, err
	}
	defer s.close()
	if s.dims != hdr.Dims {
		return Eval{}, fmt.Errorf("%w: checkpoint in %s has dimensions %+v, task %s needs %+v", ErrInvalid, dir, hdr.Dims, task.Name(), s.dims)
	}
	if err := s.withPrecision(hdr.Recipe.Precision); err != nil {
		return Eval{}, fmt.Errorf("checkpoint in %s: %w", dir, err)
	}
	if err := s.restore(hdr, payload); err != nil {
		return Eval{}, err
	}
	return s.evaluate(ctx, opts.BatchSize, opts.ThroughputSeconds)
}

// CountParams returns the trainable parameters of the model g stands for
// at dims, counted from the variables the trainer builds (the same count
// arch.Params computes statically).
func CountParams(g genome.Genome, dims arch.Config, task data.Task, backend compute.Backend) (int64, error) {
	backend, release, err := backendOf(backend)
	if err != nil {
		return 0, err
	}
	defer release()
	s, err := newSession(backend, g, dims, task, 0)
	if err != nil {
		return 0, err
	}
	defer s.close()
	b := task.EvalBatches(1)[0]
	in, _ := batchTensors(b)
	if _, err := s.fwdExec.Compile(in.Shape()); err != nil {
		return 0, fmt.Errorf("building model: %w", err)
	}
	return model.CountParams(s.store.Scope(modelScope)), nil
}
