package tasks

import (
	"fmt"
	"path/filepath"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// Recipe is how one candidate of a run is trained and scored: the models
// it trains (each MAD task at each point of the run's lr x weight-decay
// sweep, and the text corpus when perplexity is an objective), each with
// its data task and trainer config, and what the run's multi-fidelity and
// latency settings ask of them. (The rungs' steps are the coordinator's,
// config.RungSteps: a train task carries its rung's in TrainPayload.Steps.) NewRecipe builds it from a run config, in
// this one place; the worker's Train and Evaluate follow it, for the
// search's generations, their rungs and the final stage's retrainings
// alike (the final stage's run config is config.FinalTraining's).
//
// It lives in tasks, not trainer, because it reads the run config
// (config) and the data tasks (data), and trainer depends on neither
// config nor the run's notion of a candidate; the knobs of one training
// map onto a trainer.Config through trainer.Knobs, which the train
// command shares.
type Recipe struct {
	// Seed is the candidate's seed: of its weights, its batch order and
	// its MAD data.
	Seed uint64
	// Dims are the dimensions every model is built at (their vocabulary
	// and sequence length are their task's).
	Dims arch.Config
	// Backend is the run config's backend spec.
	Backend string
	// Models are the models the candidate trains, in order.
	Models []Model
	// MADScore: the mad_score objective is scored from the MAD models.
	MADScore bool
	// Latency is how the latency objective is measured, on the first
	// model: "" (not an objective), config.LatencyThroughput or
	// config.LatencyDecode.
	Latency string
	// HopelessAfter is the step from which the unigram check stops a
	// hopeless training (config.HopelessStep), -1 when it is off.
	HopelessAfter int
	// FailEarly: a training stopped at once (a NaN or infinite loss, or
	// the unigram check) fails the candidate early, with its loss curve,
	// instead of failing the task: a multi-fidelity run.
	FailEarly bool
}

// Model is one model a candidate trains: a task at one sweep point.
type Model struct {
	// Name is its directory under the candidate's checkpoint directory.
	Name string
	// Spec and Opts make its data task (data.NewTask).
	Spec string
	Opts data.TaskOptions
	// MADTask is the MAD task it is scored on, "" for the text corpus.
	MADTask string
	// Train is its trainer config, seeded; the worker sets where and how
	// it runs.
	Train trainer.Config
}

// NewRecipe is the recipe of a candidate of run config c trained with
// seed.
func NewRecipe(c config.Config, seed uint64) Recipe {
	r := Recipe{Seed: seed, Dims: c.Search.Dims.WithDefaults(), Backend: c.Backend,
		MADScore: c.HasObjective(config.MADScore), HopelessAfter: c.HopelessStep(),
		FailEarly: c.Fidelity != nil}
	if c.HasObjective(config.Latency) {
		r.Latency = c.Quality.Latency
		if r.Latency != config.LatencyDecode {
			r.Latency = config.LatencyThroughput
		}
	}
	t := c.Training
	knobs := func(lr, wd float64) trainer.Config {
		return trainer.Knobs{Steps: t.Steps, BatchSize: t.BatchSize, LearningRate: lr, WeightDecay: wd,
			WarmupFraction: t.WarmupFraction, Beta1: t.Beta1, Beta2: t.Beta2, GradClip: t.GradClip,
			Precision: trainer.Precision(t.Precision), CheckpointEvery: t.CheckpointEvery}.Config(seed)
	}
	if r.MADScore {
		for _, m := range c.Quality.MAD {
			for _, lr := range c.LearningRates() {
				for _, wd := range c.WeightDecays() {
					r.Models = append(r.Models, Model{
						Name:    fmt.Sprintf("mad-%s-lr%g-wd%g", m.Name, lr, wd),
						Spec:    "mad:" + m.Name,
						Opts:    data.TaskOptions{MAD: m.Data(seed)},
						MADTask: m.Name,
						Train:   knobs(lr, wd),
					})
				}
			}
		}
	}
	if c.HasObjective(config.Perplexity) || (r.Latency != "" && len(r.Models) == 0) {
		corpus := c.Quality.Corpus
		if corpus == "" {
			corpus = filepath.Join("data", "brown")
		}
		ctxLen := r.Dims.Context
		r.Models = append(r.Models, Model{
			Name: "text", Spec: "text:" + corpus,
			// Validation perplexity is measured on eval_batches batches
			// of the training batch size.
			Opts: data.TaskOptions{Context: ctxLen, EvalTokens: t.EvalBatches * t.BatchSize * ctxLen,
				Corpus: data.CorpusOptions{ValFraction: c.Quality.ValidationFraction}},
			Train: knobs(t.LearningRate, t.WeightDecay),
		})
	}
	return r
}

// task makes model m's data task; a spec it cannot make is permanent.
func (m Model) task() (data.Task, error) {
	t, err := data.NewTask(m.Spec, m.Opts)
	if err != nil {
		return nil, permanent(fmt.Errorf("task %s: %w", m.Spec, err))
	}
	return t, nil
}
