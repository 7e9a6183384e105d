package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// TrainerEvaluator trains candidates with the native GoMLX trainer and
// scores them from their checkpoints: one model per quality task (each MAD
// task at each point of the run's lr x weight-decay sweep, and the text
// corpus when perplexity is an objective).
//
// A worker serves many runs, each of which names a backend (the run
// config's backend, default go). The worker's own choice wins: with
// Backend set, every task runs on it; without, each task runs on its run
// config's backend.
type TrainerEvaluator struct {
	// Backend, when set, runs every task's graphs whatever the run config
	// says: the worker's --backend or $GOMLX_BACKEND. Nil: each run's
	// config.Backend. The caller keeps ownership.
	Backend compute.Backend
	// NewBackend creates the backend a run config names ("go", "xla",
	// "xla:<plugin>"), once per spec; Close finalizes them. Default
	// model.NewBackend.
	NewBackend func(spec string) (compute.Backend, error)
	// Logger; default discards. A run whose backend the worker's
	// overrides is warned about once.
	Logger *slog.Logger

	mu       sync.Mutex
	backends map[string]compute.Backend // created for run configs, by spec
	warned   map[string]bool            // run backends overridden and warned about
}

var _ Evaluator = (*TrainerEvaluator)(nil)

// runRecipe reads the recipe and genome a task's payload carries, and the
// backend it runs on.
func (e *TrainerEvaluator) runRecipe(configYAML, genomeText string, seed uint64) (Recipe, genome.Genome, compute.Backend, error) {
	c, err := config.Parse([]byte(configYAML))
	if err != nil {
		return Recipe{}, nil, nil, permanent(err)
	}
	g, err := genome.Parse(genomeText)
	if err != nil {
		return Recipe{}, nil, nil, permanent(err)
	}
	r := NewRecipe(c, seed)
	backend, err := e.backendFor(r.Backend)
	if err != nil {
		return Recipe{}, nil, nil, err
	}
	return r, g, backend, nil
}

// Train trains every model of the candidate, each resuming from its own
// checkpoint, so a task interrupted on one worker continues on another.
func (e *TrainerEvaluator) Train(ctx context.Context, p TrainPayload) (TrainResult, error) {
	r, g, backend, err := e.runRecipe(p.Config, p.Genome, p.Seed)
	if err != nil {
		return TrainResult{}, err
	}
	start := time.Now()
	out := candmetrics.Train{Backend: backendName(backend)}
	for _, m := range r.Models {
		task, err := m.task()
		if err != nil {
			return TrainResult{}, err
		}
		cfg := m.Train
		cfg.CheckpointDir = filepath.Join(p.Checkpoint, m.Name)
		cfg.ThroughputSeconds = -1
		cfg.Backend = backend
		cfg.StopAt = p.Steps
		var limit float64
		if r.HopelessAfter >= 0 {
			limit = UnigramLoss(task, r.Seed, cfg.BatchSize)
			cfg.StopWhen = hopeless(r.HopelessAfter, limit)
		}
		if p.From != "" {
			if err := continueFrom(filepath.Join(p.From, m.Name), cfg.CheckpointDir, cfg.Target()); err != nil {
				return TrainResult{}, fmt.Errorf("%s: %w", m.Name, err)
			}
		}
		res, err := trainer.Train(ctx, g, r.Dims, task, cfg, nil)
		if err != nil {
			if ctx.Err() != nil {
				return TrainResult{}, ctx.Err()
			}
			var stop hopelessError
			if r.FailEarly && (errors.Is(err, trainer.ErrNonFinite) || errors.As(err, &stop)) {
				// Stopped at once: the candidate fails early, its loss
				// curve kept.
				metrics, _ := json.Marshal(candmetrics.EarlyStop{Backend: out.Backend, Job: m.Name, Losses: res.Losses,
					Steps: res.Steps, UnigramLoss: limit, Jobs: out.Jobs})
				return TrainResult{Checkpoint: p.Checkpoint, TrainSeconds: time.Since(start).Seconds(), Metrics: metrics,
					FailedEarly: fmt.Sprintf("%s: %v", m.Name, err)}, nil
			}
			if errors.Is(err, trainer.ErrNonFinite) || errors.Is(err, trainer.ErrInvalid) {
				return TrainResult{}, permanent(fmt.Errorf("%s: %w", m.Name, err))
			}
			return TrainResult{}, fmt.Errorf("%s: %w", m.Name, err)
		}
		if out.Losses == nil {
			out.Losses = res.Losses
		}
		out.Jobs = append(out.Jobs, candmetrics.TrainJob{Job: m.Name, Steps: res.Steps, FinalLoss: res.FinalLoss,
			TrainTokensS: res.TrainTokensPerS, TrainedParam: res.Params, TrainedVocab: res.Vocab, Seconds: res.WallTime.Seconds()})
	}
	for _, j := range out.Jobs {
		out.TrainTokensPerS += j.TrainTokensS / float64(len(out.Jobs))
	}
	metrics, _ := json.Marshal(out)
	return TrainResult{Checkpoint: p.Checkpoint, TrainSeconds: time.Since(start).Seconds(), Metrics: metrics}, nil
}

// hopelessWindow is how many of the last steps' losses the hopeless check
// averages, so that one noisy batch does not stop a candidate.
const hopelessWindow = 5

// hopelessError is the early stop of a candidate whose training loss is
// still above the unigram loss of its data after warm-up.
type hopelessError struct {
	Step        int
	Loss, Limit float64
}

func (e hopelessError) Error() string {
	return fmt.Sprintf("hopeless: mean training loss %.4f of the last %d steps at step %d is above the unigram loss %.4f of the data",
		e.Loss, hopelessWindow, e.Step, e.Limit)
}

// hopeless returns the trainer's StopWhen of the unigram check: from step
// after on, the mean loss of the last hopelessWindow steps must be below
// limit. It reads only the losses, so a resumed training decides alike.
func hopeless(after int, limit float64) func([]float64) error {
	return func(losses []float64) error {
		n := len(losses)
		if n < after || n == 0 || math.IsNaN(limit) {
			return nil
		}
		w := losses[max(0, n-hopelessWindow):]
		sum := 0.0
		for _, l := range w {
			sum += l
		}
		if mean := sum / float64(len(w)); mean > limit {
			return hopelessError{Step: n, Loss: mean, Limit: limit}
		}
		return nil
	}
}

// UnigramLoss is the cross-entropy (nats per token) of the best
// context-free model of a task's training targets: the byte unigram of a
// text corpus's training split, or for other tasks the target distribution
// of the first 16 training batches of the candidate's seed. A model whose
// loss stays above it has learnt less than token frequencies.
func UnigramLoss(task data.Task, seed uint64, batchSize int) float64 {
	if t, ok := task.(*data.TextTask); ok {
		train := t.Corpus().Train
		return math.Log(data.UnigramPerplexity(train, train))
	}
	counts := map[int32]float64{}
	total := 0.0
	for step := range 16 {
		for _, y := range task.TrainBatch(seed, step, batchSize).Targets {
			if y != data.Ignore {
				counts[y]++
				total++
			}
		}
	}
	if total == 0 {
		return math.NaN()
	}
	// Summed in token order: a map's order would change the last bits
	// from call to call, and with them a borderline hopeless decision.
	tokens := slices.Sorted(maps.Keys(counts))
	h := 0.0
	for _, y := range tokens {
		c := counts[y]
		h -= c / total * math.Log(c/total)
	}
	return h
}

// continueFrom copies the checkpoint in from into dir when dir has none
// yet and from's has not passed target steps, so that a candidate
// completed from another's cached evaluation continues that training
// instead of starting over (the same genome, seed and recipe train alike,
// so either gives the same result). Anything else leaves dir alone.
func continueFrom(from, dir string, target int) error {
	if _, err := trainer.ReadCheckpoint(dir); !errors.Is(err, trainer.ErrNoCheckpoint) {
		return nil
	}
	hdr, err := trainer.ReadCheckpoint(from)
	if err != nil || hdr.Step > target {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(from, trainer.CheckpointFile))
	if err != nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+trainer.CheckpointFile+".copy")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, trainer.CheckpointFile))
}

// Evaluate scores the trained candidate from its checkpoints: MAD score
// (1 - mean over tasks of the best accuracy over the sweep), validation
// perplexity, measured latency (seconds per token of a batched forward
// pass, or of one cached decoding step with quality.latency: decode) and
// the static costs at the run's dims.
func (e *TrainerEvaluator) Evaluate(ctx context.Context, p EvaluatePayload) (EvaluateResult, error) {
	r, g, backend, err := e.runRecipe(p.Config, p.Genome, p.Seed)
	if err != nil {
		return EvaluateResult{}, err
	}
	s := newScores()
	out := candmetrics.Eval{Backend: backendName(backend)}
	for i, m := range r.Models {
		latency := ""
		if i == 0 {
			latency = r.Latency
		}
		ev, job, err := evaluateModel(ctx, p.Checkpoint, m, latency, backend)
		if err != nil {
			return EvaluateResult{}, err
		}
		out.Jobs = append(out.Jobs, job)
		if err := s.add(m, ev, job, latency); err != nil {
			return EvaluateResult{}, err
		}
	}
	obj, err := s.objectives(r, g)
	if err != nil {
		return EvaluateResult{}, err
	}
	out.MADAccuracy = s.best
	metrics, _ := json.Marshal(out)
	return EvaluateResult{Objectives: obj, Metrics: metrics}, nil
}

// evaluateModel evaluates model m from its checkpoint under the
// candidate's checkpoint directory, and measures its latency in the form
// latency asks ("" for none).
func evaluateModel(ctx context.Context, checkpoint string, m Model, latency string, backend compute.Backend) (trainer.Eval, candmetrics.EvalJob, error) {
	dir := filepath.Join(checkpoint, m.Name)
	task, err := m.task()
	if err != nil {
		return trainer.Eval{}, candmetrics.EvalJob{}, err
	}
	opts := trainer.EvalOptions{Backend: backend, ThroughputSeconds: -1}
	if latency == config.LatencyThroughput {
		opts.ThroughputSeconds = 1
	}
	ev, err := trainer.Evaluate(ctx, dir, task, opts)
	if err != nil {
		if ctx.Err() != nil {
			return ev, candmetrics.EvalJob{}, ctx.Err()
		}
		if errors.Is(err, trainer.ErrNoCheckpoint) {
			return ev, candmetrics.EvalJob{}, permanent(fmt.Errorf("%s: %s/%s: %w", CheckpointMissingText, checkpoint, m.Name, err))
		}
		return ev, candmetrics.EvalJob{}, fmt.Errorf("%s: %w", m.Name, err)
	}
	job := candmetrics.EvalJob{Job: m.Name, Accuracy: ev.Accuracy, ValPerplexity: ev.ValPerplexity,
		EvalLoss: ev.EvalLoss, ForwardTokensS: ev.TokensPerS}
	if latency == config.LatencyDecode {
		dt, err := trainer.DecodeLatency(ctx, dir, backend)
		if err != nil {
			if ctx.Err() != nil {
				return ev, job, ctx.Err()
			}
			return ev, job, fmt.Errorf("%s: measuring decode latency: %w", m.Name, err)
		}
		job.DecodeMsPerToken, job.DecodeContext = dt.MsPerToken, dt.Position
	}
	return ev, job, nil
}

// scores gathers the objectives of a candidate's models as they are
// evaluated.
type scores struct {
	obj   map[string]float64
	best  map[string]float64 // best accuracy over the sweep, by MAD task
	order []string           // MAD tasks, in the order first seen
}

func newScores() *scores {
	return &scores{obj: map[string]float64{}, best: map[string]float64{}}
}

// add counts the evaluation of model m, whose latency was measured in the
// form latency ("" for none).
func (s *scores) add(m Model, ev trainer.Eval, job candmetrics.EvalJob, latency string) error {
	if m.MADTask != "" {
		if _, seen := s.best[m.MADTask]; !seen {
			s.order = append(s.order, m.MADTask)
		}
		s.best[m.MADTask] = math.Max(s.best[m.MADTask], ev.Accuracy)
	} else {
		s.obj[config.Perplexity] = ev.ValPerplexity
	}
	switch latency {
	case config.LatencyDecode:
		if job.DecodeMsPerToken <= 0 {
			return fmt.Errorf("%s: no decode latency measured", m.Name)
		}
		s.obj[config.Latency] = job.DecodeMsPerToken / 1000
	case config.LatencyThroughput:
		if ev.TokensPerS <= 0 {
			return fmt.Errorf("%s: no throughput measured", m.Name)
		}
		s.obj[config.Latency] = 1 / ev.TokensPerS
	}
	return nil
}

// objectives completes the objectives of recipe r's candidate g: its MAD
// score and its static costs at the run's dims. A NaN or infinite one is
// a permanent failure.
func (s *scores) objectives(r Recipe, g genome.Genome) (map[string]float64, error) {
	if r.MADScore {
		sum := 0.0
		for _, n := range s.order {
			sum += s.best[n]
		}
		s.obj[config.MADScore] = 1 - sum/float64(len(s.order))
	}
	costs, err := arch.Costs(g, r.Dims)
	if err != nil {
		return nil, permanent(err)
	}
	s.obj[config.Params] = float64(costs.Params)
	s.obj[config.CacheBytes] = float64(costs.CacheBytes)
	for k, v := range s.obj {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, permanent(fmt.Errorf("objective %s is %v", k, v))
		}
	}
	return s.obj, nil
}
