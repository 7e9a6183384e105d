package config

import (
	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// Limits of a run config: the largest size each field may ask for. They
// are generous for real searches (the paper: population 16, 18
// generations, 48 LIVs at width 2048 and context 4096) and small enough
// that a config that passes Validate cannot make the coordinator, or the
// config code itself, allocate without bound. Validate checks every limit
// before anything proportional to the value is allocated and names the
// field (exit code 2). docs/limits.md lists them with their reasons.
//
// The depth and dimension limits belong to the packages that enforce them
// on their own inputs (genome.MaxDepth, arch.Max*); they are restated here
// so that this block is the one table of every limit.
const (
	// MaxPopulation bounds population (candidates per generation).
	MaxPopulation = 4096
	// MaxGenerations bounds generations.
	MaxGenerations = 10000
	// MaxDepth bounds search.depth (LIV slots per backbone).
	MaxDepth = genome.MaxDepth
	// MaxPopulationSlots bounds population x search.depth: the slots of a
	// whole population, which the coordinator holds and every breeding
	// task carries (4096 x 64, or 256 x 1024, ...).
	MaxPopulationSlots = 1 << 18

	// Model dimensions (search.*).
	MaxWidth          = arch.MaxWidth          // search.width, and search.head_dim
	MaxVocab          = arch.MaxVocab          // search.vocab
	MaxContext        = arch.MaxContext        // search.context
	MaxExpansion      = arch.MaxExpansion      // search.ffn_expansion, search.moe_expansion
	MaxShortKernel    = arch.MaxKernel         // search.short_kernel
	MaxFilterFeatures = arch.MaxFilterFeatures // search.filter_features
	MaxFilterHidden   = arch.MaxFilterHidden   // search.filter_hidden
	MaxExperts        = arch.MaxExperts        // search.experts (and search.top_k)

	// MaxSteps bounds training.steps and training.checkpoint_every.
	MaxSteps = 1_000_000
	// MaxFinalSeeds bounds final.seeds and MaxFinalBaselines the length
	// of final.baselines; final.top_k is bounded by MaxPopulation and
	// final.steps by MaxSteps.
	MaxFinalSeeds     = 64
	MaxFinalBaselines = 64
	// MaxRungs bounds the entries of fidelity.rungs and MaxEta
	// fidelity.eta; each rung is bounded by MaxSteps.
	MaxRungs = 16
	MaxEta   = 1024
	// MaxBatchSize bounds training.batch_size.
	MaxBatchSize = 1 << 14
	// MaxBatchTokens bounds the tokens of one training step:
	// training.batch_size x the sequence length (search.context for
	// perplexity, each MAD task's length for mad_score). Large-model
	// training uses about 4M tokens per step.
	MaxBatchTokens = 1 << 24
	// MaxEvalBatches bounds training.eval_batches.
	MaxEvalBatches = 1 << 14

	// MaxSweep bounds the entries of quality.sweep.learning_rates and of
	// quality.sweep.weight_decays: every MAD task trains once per pair.
	MaxSweep = 8
	// MaxMADVocab bounds quality.mad[].vocab and noise_vocab.
	MaxMADVocab = 1 << 16
	// MaxMADLength bounds quality.mad[].length.
	MaxMADLength = 1 << 16
	// MaxMADExamples bounds quality.mad[].train_examples and test_examples.
	MaxMADExamples = 1 << 20
	// MaxMADTokens bounds (train_examples + test_examples) x length: the
	// tokens a worker generates for one MAD task (inputs and targets as
	// int32: 256 MiB at the limit).
	MaxMADTokens = 1 << 25

	// MaxEvalTokens bounds the validation tokens of a text task where a
	// command takes them (train --eval-tokens).
	MaxEvalTokens = 1 << 24
)
