// Package config is the run configuration of a search: which algorithm,
// how large a population for how many generations, which objectives, the
// search space, the seed genomes, the training recipe, the quality tasks and
// where artifacts go. It is pure: it reads YAML and validates, nothing more.
//
// Every field has a default: a file may set any subset of fields and the rest
// keep the values of Default. example.yaml lists every field with its default
// and is embedded as Example.
package config

import (
	"slices"
	"time"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
)

// Algorithm names.
const (
	NSGA2   = "nsga2"
	GA      = "ga"
	Firefly = "firefly"
)

// Objective names. Every objective is minimised.
const (
	Perplexity = "perplexity"  // validation perplexity on the text corpus
	MADScore   = "mad_score"   // 1 - mean accuracy over the MAD tasks
	Params     = "params"      // parameter count, shared weights counted once
	CacheBytes = "cache_bytes" // inference cache in bytes at the context length
	Latency    = "latency"     // measured forward latency in seconds
)

// Objectives lists every known objective name in a fixed order.
var Objectives = []string{Perplexity, MADScore, Params, CacheBytes, Latency}

// MAD task names as run configs spell them (docs/design.md, section 4):
// data's names (data.MADTasks) with underscores for dashes, in the same
// order.
const (
	InContextRecall  = "in_context_recall"
	NoisyRecall      = "noisy_recall"
	FuzzyRecall      = "fuzzy_recall"
	SelectiveCopying = "selective_copying"
	Compression      = "compression"
	Memorization     = "memorization"
)

// MADTasks lists every MAD task name in a fixed order.
var MADTasks = []string{InContextRecall, NoisyRecall, FuzzyRecall, SelectiveCopying, Compression, Memorization}

// Config is one run's configuration. The YAML keys are the snake_case names
// in the struct tags; a key not listed here is an error.
type Config struct {
	// Seed seeds every random choice of the run together with the
	// generation, stage and index. Default 1.
	Seed uint64 `yaml:"seed" json:"seed"`

	// Algorithm is the evolutionary algorithm and its settings.
	Algorithm Algorithm `yaml:"algorithm" json:"algorithm"`

	// Population is the number of candidates per generation. Default 16.
	Population int `yaml:"population" json:"population"`

	// Generations is the number of generations after the seed population.
	// Default 18.
	Generations int `yaml:"generations" json:"generations"`

	// Objectives are minimised together: any non-empty subset of
	// perplexity, mad_score, params, cache_bytes and latency, without
	// repeats. Default [mad_score, params].
	Objectives []string `yaml:"objectives" json:"objectives"`

	// Search is the search space: depth, allowed classes and model dims.
	Search Search `yaml:"search" json:"search"`

	// Seeds are the genomes of the first population: preset names
	// (genome.PresetNames: "transformer++", "striped"; they need an even
	// depth) or genome text of search.depth slots ("11111-91111-...").
	// Slots left over in the first population are filled with random
	// genomes. Default [transformer++, striped].
	Seeds []string `yaml:"seeds" json:"seeds"`

	// Training is the recipe every candidate is trained with.
	Training Training `yaml:"training" json:"training"`

	// Quality says what the quality objectives are measured on.
	Quality Quality `yaml:"quality" json:"quality"`

	// Artifacts is where checkpoints and other artifacts are written: a
	// directory path or a file:// URL; every worker must reach it at the
	// same path. Default "artifacts". submit resolves a relative path
	// against its --artifact-root ($STAR_ARTIFACT_ROOT), else its working
	// directory, and the run stores the absolute path.
	Artifacts string `yaml:"artifacts" json:"artifacts"`

	// Final, when set, adds a final stage after the last generation: the
	// best candidates and the baselines are retrained with a larger budget
	// and several seeds (see Final). Default absent: no final stage. An
	// empty mapping ("final: {}") turns it on with every default.
	Final *Final `yaml:"final,omitempty" json:"final,omitempty"`

	// Fidelity, when set, trains every generation's candidates by
	// successive halving over train-step rungs (see Fidelity). Default
	// absent: every candidate trains for training.steps. Not part of the
	// training hash: the last rung is trained exactly as a single-budget
	// run trains.
	Fidelity *Fidelity `yaml:"fidelity,omitempty" json:"fidelity,omitempty"`

	// Backend is the GoMLX backend the run's candidates are trained and
	// evaluated on: "go" (pure Go, any machine), "xla" or
	// "xla:<plugin path>" (GPU workers), optionally with options after a
	// colon, as in GOMLX_BACKEND, or "auto" (each worker takes the GPU
	// when it finds the JAX CUDA plugin, else go). A worker started with
	// --backend (or $GOMLX_BACKEND) trains every run on its own backend
	// instead: the worker's explicit choice wins. Not part of the
	// training hash. Default "go".
	Backend string `yaml:"backend" json:"backend"`
}

// Algorithm selects the evolutionary algorithm and holds its settings.
type Algorithm struct {
	// Name is nsga2, ga or firefly. Default nsga2.
	Name string `yaml:"name" json:"name"`

	// MutationRate is the per-gene mutation probability, in [0, 1].
	// Default 0.1.
	MutationRate float64 `yaml:"mutation_rate" json:"mutation_rate"`

	// CrossoverPoints is k of the k-point crossover over slots, >= 1.
	// Default 2.
	CrossoverPoints int `yaml:"crossover_points" json:"crossover_points"`

	// TournamentSize is the number of candidates drawn per parent
	// selection, >= 2 and <= population. Default 2 (binary tournament).
	TournamentSize int `yaml:"tournament_size" json:"tournament_size"`

	// GA holds the settings used only when Name is ga.
	GA GASettings `yaml:"ga" json:"ga"`

	// Firefly holds the settings used only when Name is firefly.
	Firefly FireflySettings `yaml:"firefly" json:"firefly"`
}

// GASettings are the settings of the scalarised genetic algorithm.
type GASettings struct {
	// Weights maps an objective name to its weight in the scalarised
	// objective (a weighted sum of normalised objectives). Every key must
	// be one of Config.Objectives; weights are >= 0 and not all zero.
	// Default empty: weight 1 for every objective.
	Weights map[string]float64 `yaml:"weights,omitempty" json:"weights,omitempty"`

	// Elitism is how many best candidates survive unchanged, in
	// [0, population). Default 2.
	Elitism int `yaml:"elitism" json:"elitism"`
}

// FireflySettings are the settings of the multi-objective firefly algorithm.
type FireflySettings struct {
	// Beta0 is the attraction at distance 0, > 0. Default 1.0.
	Beta0 float64 `yaml:"beta0" json:"beta0"`

	// Gamma is the light absorption in beta0*exp(-gamma r^2), >= 0.
	// Default 1.0.
	Gamma float64 `yaml:"gamma" json:"gamma"`

	// Alpha is the size of the random step, >= 0. Default 0.2.
	Alpha float64 `yaml:"alpha" json:"alpha"`

	// AlphaDecay multiplies Alpha after every generation, in (0, 1].
	// Default 0.97.
	AlphaDecay float64 `yaml:"alpha_decay" json:"alpha_decay"`
}

// Search is the search space. The model dimensions are arch.Config's
// fields, written inline (search.width, search.context, ...).
type Search struct {
	// Depth is the number of LIV slots of every backbone, >= 2. Default 8.
	Depth int `yaml:"depth" json:"depth"`

	// Classes are the LIV class ids mutation and random genomes may use,
	// each in 1..18, without repeats. Default all of 1..18.
	Classes []int `yaml:"classes" json:"classes"`

	// Dims are the model dimensions every genome is built at; a zero
	// field takes arch.Config's default (width 64, vocab 256, context
	// 256, head_dim 16 below width 256 else 64, ...).
	Dims arch.Config `yaml:",inline" json:"dims"`
}

// Training is the recipe every candidate is trained with: AdamW, a cosine
// schedule with linear warmup, gradient clipping.
type Training struct {
	// Steps is the number of optimizer steps per candidate, >= 1.
	// Default 200.
	Steps int `yaml:"steps" json:"steps"`

	// BatchSize is the number of sequences per step, >= 1. Default 16.
	BatchSize int `yaml:"batch_size" json:"batch_size"`

	// LearningRate is the peak learning rate, > 0. Default 8e-4.
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate"`

	// Beta1 is AdamW's first-moment decay, in [0, 1). Default 0.9.
	Beta1 float64 `yaml:"beta1" json:"beta1"`

	// Beta2 is AdamW's second-moment decay, in [0, 1). Default 0.95.
	Beta2 float64 `yaml:"beta2" json:"beta2"`

	// WeightDecay is AdamW's decoupled weight decay, >= 0. Default 0.1.
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`

	// WarmupFraction is the fraction of Steps spent in linear warmup, in
	// [0, 1). Default 0.1.
	WarmupFraction float64 `yaml:"warmup_fraction" json:"warmup_fraction"`

	// GradClip is the global gradient-norm clip, > 0. Default 1.0.
	GradClip float64 `yaml:"grad_clip" json:"grad_clip"`

	// EvalBatches is the number of validation batches (of BatchSize
	// sequences) perplexity is measured on, >= 1; MAD tasks score their
	// whole test set. Default 8.
	EvalBatches int `yaml:"eval_batches" json:"eval_batches"`

	// CheckpointEvery is how many steps pass between checkpoints, so an
	// interrupted training resumes; 0 checkpoints only when interrupted
	// and at the end. Default 100.
	CheckpointEvery int `yaml:"checkpoint_every" json:"checkpoint_every"`

	// Timeout bounds one training task (a Go duration such as "30m");
	// a task past it is cancelled and retried. Default 1h.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`

	// Precision is the training arithmetic: fp32, or bf16 mixed precision
	// (float32 master weights, bfloat16 matmuls; for GPU workers, slower
	// on the CPU backend). Default fp32.
	Precision string `yaml:"precision" json:"precision"`
}

// Quality says what the quality objectives are measured on: the MAD tasks
// for mad_score, the text corpus for perplexity.
type Quality struct {
	// MAD lists the MAD proxy tasks scored for mad_score, each with
	// optional knobs, without repeated names. Default all six tasks at
	// their baseline knobs. Must not be empty when objectives include
	// mad_score.
	MAD []MADTask `yaml:"mad" json:"mad"`

	// Corpus is the text file perplexity is measured on (byte-level
	// tokens). Default "" (the Brown corpus under data/brown).
	Corpus string `yaml:"corpus" json:"corpus"`

	// ValidationFraction is the tail fraction of the corpus held out for
	// validation, in (0, 1). Default 0.05.
	ValidationFraction float64 `yaml:"validation_fraction" json:"validation_fraction"`

	// Sweep is the learning-rate x weight-decay grid each MAD task is
	// trained over; a task's score is its best test accuracy.
	Sweep Sweep `yaml:"sweep" json:"sweep"`

	// Latency is how the latency objective is measured, both in seconds
	// per token: LatencyThroughput (1 over the tokens/s of a batched
	// forward pass) or LatencyDecode (the wall time of one cached decoding
	// step at batch 1 at the end of the run's context). Default
	// throughput.
	Latency string `yaml:"latency" json:"latency"`
}

// The forms of the latency objective (Quality.Latency).
const (
	LatencyThroughput = "throughput"
	LatencyDecode     = "decode"
)

// Sweep is the grid of a MAD task's hyperparameter sweep.
type Sweep struct {
	// LearningRates, each > 0. Default empty: training.learning_rate only.
	LearningRates []float64 `yaml:"learning_rates,omitempty" json:"learning_rates,omitempty"`

	// WeightDecays, each >= 0. Default empty: training.weight_decay only.
	WeightDecays []float64 `yaml:"weight_decays,omitempty" json:"weight_decays,omitempty"`
}

// MADTask is one MAD proxy task. A zero knob takes the task's baseline
// value (see MADDefaults); knobs a task does not use must stay zero.
type MADTask struct {
	// Name is one of MADTasks.
	Name string `yaml:"name" json:"name"`

	// Vocab is the task's vocabulary size, >= 4.
	Vocab int `yaml:"vocab,omitempty" json:"vocab,omitempty"`

	// Length is the sequence length, >= 8.
	Length int `yaml:"length,omitempty" json:"length,omitempty"`

	// Noise is the probability of inserting a noise token (noisy_recall
	// only), in (0, 1).
	Noise float64 `yaml:"noise,omitempty" json:"noise,omitempty"`

	// NoiseVocab is the size of the extra noise vocabulary (noisy_recall
	// only), >= 1.
	NoiseVocab int `yaml:"noise_vocab,omitempty" json:"noise_vocab,omitempty"`

	// MaxKeyLen is the longest key or value tuple (fuzzy_recall only),
	// >= 1.
	MaxKeyLen int `yaml:"max_key_len,omitempty" json:"max_key_len,omitempty"`

	// Tokens is the number of content tokens to copy (selective_copying
	// only), >= 1 and < length.
	Tokens int `yaml:"tokens,omitempty" json:"tokens,omitempty"`

	// TrainExamples is the number of generated training sequences, >= 1.
	TrainExamples int `yaml:"train_examples,omitempty" json:"train_examples,omitempty"`

	// TestExamples is the number of generated test sequences, >= 1.
	TestExamples int `yaml:"test_examples,omitempty" json:"test_examples,omitempty"`
}

// A search's MAD sets are smaller than the MAD paper's (data's
// DefaultTrainExamples and DefaultTestExamples): every candidate trains
// on every task at every sweep point (docs/design.md, section 4).
const (
	SearchTrainExamples = 4096
	SearchTestExamples  = 256
)

// MADDefaults returns the baseline knobs of the named task, or false if the
// name is unknown. The knobs are data's table (data.MADDefaults), the one
// place they are written; the set sizes are a search's.
func MADDefaults(name string) (MADTask, bool) {
	if !slices.Contains(MADTasks, name) {
		return MADTask{}, false
	}
	d, err := data.MADDefaults(name)
	if err != nil {
		return MADTask{}, false
	}
	return MADTask{Name: name, Vocab: d.Vocab, Length: d.Length, Noise: d.Noise, NoiseVocab: d.NoiseVocab,
		MaxKeyLen: d.MaxKeyLen, Tokens: d.Tokens,
		TrainExamples: SearchTrainExamples, TestExamples: SearchTestExamples}, true
}

// withDefaults fills every zero knob with the task's baseline value.
func (t MADTask) withDefaults() MADTask {
	d, ok := MADDefaults(t.Name)
	if !ok {
		return t
	}
	def := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	def(&t.Vocab, d.Vocab)
	def(&t.Length, d.Length)
	def(&t.NoiseVocab, d.NoiseVocab)
	def(&t.MaxKeyLen, d.MaxKeyLen)
	def(&t.Tokens, d.Tokens)
	def(&t.TrainExamples, d.TrainExamples)
	def(&t.TestExamples, d.TestExamples)
	if t.Noise == 0 {
		t.Noise = d.Noise
	}
	return t
}

// Default returns the configuration of a file that sets nothing.
func Default() Config {
	c := base()
	c.applyDefaults()
	return c
}

// base is Default before derived defaults: zero fields whose default
// depends on other fields, so that a file's values are decoded on top of it.
func base() Config {
	classes := make([]int, 18)
	for i := range classes {
		classes[i] = i + 1
	}
	mad := make([]MADTask, len(MADTasks))
	for i, n := range MADTasks {
		mad[i] = MADTask{Name: n}
	}
	return Config{
		Seed: 1,
		Algorithm: Algorithm{
			Name:            NSGA2,
			MutationRate:    0.1,
			CrossoverPoints: 2,
			TournamentSize:  2,
			GA:              GASettings{Elitism: 2},
			Firefly:         FireflySettings{Beta0: 1.0, Gamma: 1.0, Alpha: 0.2, AlphaDecay: 0.97},
		},
		Population:  16,
		Generations: 18,
		Objectives:  []string{MADScore, Params},
		Search:      Search{Depth: 8, Classes: classes},
		Seeds:       []string{"transformer++", "striped"},
		Training: Training{
			Steps:           200,
			BatchSize:       16,
			LearningRate:    8e-4,
			Beta1:           0.9,
			Beta2:           0.95,
			WeightDecay:     0.1,
			WarmupFraction:  0.1,
			GradClip:        1.0,
			EvalBatches:     8,
			CheckpointEvery: 100,
			Timeout:         time.Hour,
			Precision:       "fp32",
		},
		Quality: Quality{
			MAD:                mad,
			ValidationFraction: 0.05,
			Latency:            LatencyThroughput,
		},
		Artifacts: "artifacts",
		Backend:   "go",
	}
}

// applyDefaults fills the defaults that depend on other fields.
func (c *Config) applyDefaults() {
	if len(c.Algorithm.GA.Weights) == 0 {
		c.Algorithm.GA.Weights = nil
	}
	// An empty list and a null both mean "none": keep one form.
	c.Objectives = nilIfEmpty(c.Objectives)
	c.Search.Classes = nilIfEmpty(c.Search.Classes)
	c.Seeds = nilIfEmpty(c.Seeds)
	c.Quality.MAD = nilIfEmpty(c.Quality.MAD)
	c.Quality.Sweep.LearningRates = nilIfEmpty(c.Quality.Sweep.LearningRates)
	c.Quality.Sweep.WeightDecays = nilIfEmpty(c.Quality.Sweep.WeightDecays)
	c.Search.Dims = c.Search.Dims.WithDefaults()
	for i := range c.Quality.MAD {
		c.Quality.MAD[i] = c.Quality.MAD[i].withDefaults()
	}
	if c.Final != nil {
		f := *c.Final // never write through a pointer a copy of c shares
		f.applyDefaults(c.Training)
		c.Final = &f
	}
	if c.Fidelity != nil {
		f := *c.Fidelity
		f.Rungs = append([]int(nil), f.Rungs...)
		f.applyDefaults()
		c.Fidelity = &f
	}
}

// HasObjective reports whether name is one of c's objectives.
func (c *Config) HasObjective(name string) bool {
	for _, o := range c.Objectives {
		if o == name {
			return true
		}
	}
	return false
}

// LearningRates returns the MAD sweep's learning rates, or the training
// learning rate when the sweep sets none.
func (c *Config) LearningRates() []float64 {
	if len(c.Quality.Sweep.LearningRates) > 0 {
		return c.Quality.Sweep.LearningRates
	}
	return []float64{c.Training.LearningRate}
}

// WeightDecays returns the MAD sweep's weight decays, or the training weight
// decay when the sweep sets none.
func (c *Config) WeightDecays() []float64 {
	if len(c.Quality.Sweep.WeightDecays) > 0 {
		return c.Quality.Sweep.WeightDecays
	}
	return []float64{c.Training.WeightDecay}
}

// GAWeight returns the GA weight of an objective: its entry in
// Algorithm.GA.Weights, or 1 when the map is empty.
func (c *Config) GAWeight(objective string) float64 {
	if len(c.Algorithm.GA.Weights) == 0 {
		return 1
	}
	return c.Algorithm.GA.Weights[objective]
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}
