package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/arch"
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

// job is one model a candidate trains: a task at one sweep point.
type job struct {
	Name string // directory name under the candidate's checkpoint dir
	Spec string // data.NewTask spec
	Opts data.TaskOptions
	LR   float64
	WD   float64
	MAD  bool
}

// jobs lists the models a candidate of run config c trains.
func jobs(c config.Config, seed uint64) []job {
	var out []job
	if c.HasObjective(config.MADScore) {
		for _, t := range c.Quality.MAD {
			for _, lr := range c.LearningRates() {
				for _, wd := range c.WeightDecays() {
					out = append(out, job{
						Name: fmt.Sprintf("mad-%s-lr%g-wd%g", t.Name, lr, wd),
						Spec: "mad:" + t.Name,
						Opts: data.TaskOptions{MAD: data.MADConfig{
							Vocab: t.Vocab, Length: t.Length, Noise: t.Noise, NoiseVocab: t.NoiseVocab,
							MaxKeyLen: t.MaxKeyLen, Tokens: t.Tokens, TrainExamples: t.TrainExamples,
							TestExamples: t.TestExamples, Seed: seed,
						}},
						LR: lr, WD: wd, MAD: true,
					})
				}
			}
		}
	}
	if c.HasObjective(config.Perplexity) || (c.HasObjective(config.Latency) && len(out) == 0) {
		corpus := c.Quality.Corpus
		if corpus == "" {
			corpus = filepath.Join("data", "brown")
		}
		ctxLen := c.Search.Dims.WithDefaults().Context
		out = append(out, job{
			Name: "text", Spec: "text:" + corpus,
			// Validation perplexity is measured on eval_batches batches
			// of the training batch size.
			Opts: data.TaskOptions{Context: ctxLen, EvalTokens: c.Training.EvalBatches * c.Training.BatchSize * ctxLen,
				Corpus: data.CorpusOptions{ValFraction: c.Quality.ValidationFraction}},
			LR: c.Training.LearningRate, WD: c.Training.WeightDecay,
		})
	}
	return out
}

// trainMetrics is what training reports per model. The model is built at
// its task's vocabulary and sequence length, not the run's dims, so its
// parameter count (trained_params, at trained_vocab) differs from the
// params objective (at search.vocab): docs/design.md, section 2.
type trainMetrics struct {
	Job          string  `json:"job"`
	Steps        int     `json:"steps"`
	FinalLoss    float64 `json:"final_loss"`
	TrainTokensS float64 `json:"train_tokens_per_s"` // training throughput, compilation excluded
	TrainedParam int64   `json:"trained_params"`     // this model's parameters, at TrainedVocab
	TrainedVocab int     `json:"trained_vocab"`      // this model's vocabulary: its task's
	Seconds      float64 `json:"seconds"`
}

func (e *TrainerEvaluator) task(j job) (data.Task, error) {
	t, err := data.NewTask(j.Spec, j.Opts)
	if err != nil {
		return nil, permanent(fmt.Errorf("task %s: %w", j.Spec, err))
	}
	return t, nil
}

// Train trains every model of the candidate, each resuming from its own
// checkpoint, so a task interrupted on one worker continues on another.
func (e *TrainerEvaluator) Train(ctx context.Context, p TrainPayload) (TrainResult, error) {
	c, err := config.Parse([]byte(p.Config))
	if err != nil {
		return TrainResult{}, permanent(err)
	}
	g, err := genome.Parse(p.Genome)
	if err != nil {
		return TrainResult{}, permanent(err)
	}
	backend, err := e.backendFor(c.Backend)
	if err != nil {
		return TrainResult{}, err
	}
	start := time.Now()
	var ms []trainMetrics
	var losses []float64
	multi := c.Fidelity != nil
	for _, j := range jobs(c, p.Seed) {
		task, err := e.task(j)
		if err != nil {
			return TrainResult{}, err
		}
		cfg := recipe(c, p.Seed, j)
		cfg.CheckpointDir = filepath.Join(p.Checkpoint, j.Name)
		cfg.ThroughputSeconds = -1
		cfg.Backend = backend
		cfg.StopAt = p.Steps
		var limit float64
		if after := c.HopelessStep(); after >= 0 {
			limit = UnigramLoss(task, p.Seed, cfg.BatchSize)
			cfg.StopWhen = hopeless(after, limit)
		}
		if p.From != "" {
			if err := continueFrom(filepath.Join(p.From, j.Name), cfg.CheckpointDir, cfg.Target()); err != nil {
				return TrainResult{}, fmt.Errorf("%s: %w", j.Name, err)
			}
		}
		res, err := trainer.Train(ctx, g, c.Search.Dims.WithDefaults(), task, cfg, nil)
		if err != nil {
			if ctx.Err() != nil {
				return TrainResult{}, ctx.Err()
			}
			var stop hopelessError
			if multi && (errors.Is(err, trainer.ErrNonFinite) || errors.As(err, &stop)) {
				// Stopped at once: the candidate fails early, its loss
				// curve kept.
				metrics, _ := json.Marshal(map[string]any{"losses": res.Losses, "job": j.Name, "steps": res.Steps,
					"unigram_loss": limit, "backend": backendName(backend)})
				return TrainResult{Checkpoint: p.Checkpoint, TrainSeconds: time.Since(start).Seconds(), Metrics: metrics,
					FailedEarly: fmt.Sprintf("%s: %v", j.Name, err)}, nil
			}
			if errors.Is(err, trainer.ErrNonFinite) || errors.Is(err, trainer.ErrInvalid) {
				return TrainResult{}, permanent(fmt.Errorf("%s: %w", j.Name, err))
			}
			return TrainResult{}, fmt.Errorf("%s: %w", j.Name, err)
		}
		m := trainMetrics{Job: j.Name, Steps: res.Steps, FinalLoss: res.FinalLoss, TrainTokensS: res.TrainTokensPerS,
			TrainedParam: res.Params, TrainedVocab: res.Vocab, Seconds: res.WallTime.Seconds()}
		if losses == nil {
			losses = res.Losses
		}
		ms = append(ms, m)
	}
	tps := 0.0
	for _, m := range ms {
		tps += m.TrainTokensS / float64(len(ms))
	}
	metrics, _ := json.Marshal(map[string]any{"jobs": ms, "losses": losses, "train_tokens_per_s": tps,
		"backend": backendName(backend)})
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
	h := 0.0
	for _, c := range counts {
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

// recipe maps the run's training recipe onto the trainer's config.
func recipe(c config.Config, seed uint64, j job) trainer.Config {
	t := c.Training
	return trainer.Config{
		Steps: t.Steps, BatchSize: t.BatchSize, LearningRate: j.LR,
		WarmupFraction: trainer.ZeroMeansNone(t.WarmupFraction), Beta1: t.Beta1, Beta2: t.Beta2,
		WeightDecay: trainer.ZeroMeansNone(j.WD), GradClip: t.GradClip, Seed: seed,
		CheckpointEvery: t.CheckpointEvery, Precision: trainer.Precision(t.Precision),
	}
}

// evalMetrics is what evaluation reports per model.
type evalMetrics struct {
	Job           string  `json:"job"`
	Accuracy      float64 `json:"accuracy"`
	ValPerplexity float64 `json:"val_perplexity"`
	EvalLoss      float64 `json:"eval_loss"`
	// ForwardTokensS is the measured forward (inference) throughput the
	// latency objective is 1 over; absent when latency is not measured.
	ForwardTokensS float64 `json:"forward_tokens_per_s,omitempty"`
	// DecodeMsPerToken is the cached decoding step at batch 1 at the end
	// of the context (DecodeContext) the decode form of latency is; absent
	// otherwise.
	DecodeMsPerToken float64 `json:"decode_ms_per_token,omitempty"`
	DecodeContext    int     `json:"decode_context,omitempty"`
}

// Evaluate scores the trained candidate from its checkpoints: MAD score
// (1 - mean over tasks of the best accuracy over the sweep), validation
// perplexity, measured latency (seconds per token of a batched forward
// pass, or of one cached decoding step with quality.latency: decode) and
// the static costs at the run's dims.
func (e *TrainerEvaluator) Evaluate(ctx context.Context, p EvaluatePayload) (EvaluateResult, error) {
	c, err := config.Parse([]byte(p.Config))
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	g, err := genome.Parse(p.Genome)
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	backend, err := e.backendFor(c.Backend)
	if err != nil {
		return EvaluateResult{}, err
	}
	obj := map[string]float64{}
	best := map[string]float64{}
	var order []string
	var ms []evalMetrics
	for i, j := range jobs(c, p.Seed) {
		task, err := e.task(j)
		if err != nil {
			return EvaluateResult{}, err
		}
		opts := trainer.EvalOptions{Backend: backend, ThroughputSeconds: -1}
		measure := c.HasObjective(config.Latency) && i == 0
		decode := measure && c.Quality.Latency == config.LatencyDecode
		if measure && !decode {
			opts.ThroughputSeconds = 1
		}
		ev, err := trainer.Evaluate(ctx, filepath.Join(p.Checkpoint, j.Name), task, opts)
		if err != nil {
			if ctx.Err() != nil {
				return EvaluateResult{}, ctx.Err()
			}
			if errors.Is(err, trainer.ErrNoCheckpoint) {
				return EvaluateResult{}, permanent(fmt.Errorf("%s: %s/%s: %w", CheckpointMissingText, p.Checkpoint, j.Name, err))
			}
			return EvaluateResult{}, fmt.Errorf("%s: %w", j.Name, err)
		}
		em := evalMetrics{Job: j.Name, Accuracy: ev.Accuracy, ValPerplexity: ev.ValPerplexity,
			EvalLoss: ev.EvalLoss, ForwardTokensS: ev.TokensPerS}
		if decode {
			dt, err := trainer.DecodeLatency(ctx, filepath.Join(p.Checkpoint, j.Name), backend)
			if err != nil {
				if ctx.Err() != nil {
					return EvaluateResult{}, ctx.Err()
				}
				return EvaluateResult{}, fmt.Errorf("%s: measuring decode latency: %w", j.Name, err)
			}
			em.DecodeMsPerToken, em.DecodeContext = dt.MsPerToken, dt.Position
		}
		ms = append(ms, em)
		if j.MAD {
			name := strings.TrimPrefix(j.Spec, "mad:")
			if _, seen := best[name]; !seen {
				order = append(order, name)
			}
			best[name] = math.Max(best[name], ev.Accuracy)
		} else {
			obj[config.Perplexity] = ev.ValPerplexity
		}
		if decode {
			if em.DecodeMsPerToken <= 0 {
				return EvaluateResult{}, fmt.Errorf("%s: no decode latency measured", j.Name)
			}
			obj[config.Latency] = em.DecodeMsPerToken / 1000
		} else if measure {
			if ev.TokensPerS <= 0 {
				return EvaluateResult{}, fmt.Errorf("%s: no throughput measured", j.Name)
			}
			obj[config.Latency] = 1 / ev.TokensPerS
		}
	}
	if c.HasObjective(config.MADScore) {
		sum := 0.0
		for _, n := range order {
			sum += best[n]
		}
		obj[config.MADScore] = 1 - sum/float64(len(order))
	}
	costs, err := arch.Costs(g, c.Search.Dims.WithDefaults())
	if err != nil {
		return EvaluateResult{}, permanent(err)
	}
	obj[config.Params] = float64(costs.Params)
	obj[config.CacheBytes] = float64(costs.CacheBytes)
	for k, v := range obj {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return EvaluateResult{}, permanent(fmt.Errorf("objective %s is %v", k, v))
		}
	}
	metrics, _ := json.Marshal(map[string]any{"jobs": ms, "mad_accuracy": best, "backend": backendName(backend)})
	return EvaluateResult{Objectives: obj, Metrics: metrics}, nil
}
