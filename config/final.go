package config

import (
	"fmt"
	"strings"

	"github.com/star-pipeline/star-pipeline/genome"
)

// Final is the final stage of a run: after the last generation, the best
// architectures of its non-dominated set are retrained from scratch with a
// larger budget and several training seeds, beside the baselines, with one
// recipe for all, so that the search's result can be compared with the
// baselines on equal terms (the protocol of the STAR paper: evolve with
// short training, retrain the top candidates with about 4x the tokens).
type Final struct {
	// TopK is how many candidates are taken from the last generation's
	// non-dominated set (by crowding distance, extremes first; fewer when
	// the set is smaller), >= 1. Default 8.
	TopK int `yaml:"top_k" json:"top_k"`

	// Steps is the number of optimizer steps of every retraining, >= 1.
	// Default 4 x training.steps.
	Steps int `yaml:"steps" json:"steps"`

	// Seeds is the number of training seeds each architecture is
	// retrained with, >= 1; the report gives mean and standard deviation
	// over them. Default 3.
	Seeds int `yaml:"seeds" json:"seeds"`

	// Baselines are extra architectures retrained beside the candidates:
	// preset names or genome text of search.depth slots. Every preset
	// named in seeds is a baseline already. Default none.
	Baselines []string `yaml:"baselines,omitempty" json:"baselines,omitempty"`
}

// Final stage defaults.
const (
	DefaultFinalTopK  = 8
	DefaultFinalSeeds = 3
	// FinalStepsFactor times training.steps is the default final budget.
	FinalStepsFactor = 4
)

// applyDefaults fills the zero fields of a final section of a run whose
// training recipe is t.
func (f *Final) applyDefaults(t Training) {
	if f.TopK == 0 {
		f.TopK = DefaultFinalTopK
	}
	if f.Steps == 0 {
		f.Steps = FinalStepsFactor * t.Steps
	}
	if f.Seeds == 0 {
		f.Seeds = DefaultFinalSeeds
	}
	f.Baselines = nilIfEmpty(f.Baselines)
}

func (c Config) validateFinal(v *validator) {
	f := c.Final
	if f == nil {
		return
	}
	v.intRange("final.top_k", f.TopK, 1, MaxPopulation)
	v.intRange("final.steps", f.Steps, 1, MaxSteps)
	v.intRange("final.seeds", f.Seeds, 1, MaxFinalSeeds)
	if !v.maxInt("final.baselines", len(f.Baselines), MaxFinalBaselines) {
		return
	}
	if c.Search.Depth < 2 || c.Search.Depth > MaxDepth {
		return // reported under search.depth
	}
	for i, s := range f.Baselines {
		if _, err := ParseGenomeSpec(s, c.Search.Depth); err != nil {
			v.add(fmt.Sprintf("final.baselines[%d]", i), "%v", err)
		}
	}
}

// ParseGenomeSpec reads a seed or baseline entry: a preset name built at
// depth, or genome text of depth slots with every gene in range. The result
// is not repaired.
func ParseGenomeSpec(s string, depth int) (genome.Genome, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, fmt.Errorf("must be a preset name (%s) or genome text, got an empty string",
			strings.Join(genome.PresetNames(), ", "))
	}
	g, perr := genome.Preset(t, depth)
	if perr == nil {
		return g, nil
	}
	if t[0] < '0' || t[0] > '9' {
		return nil, perr
	}
	g, err := genome.Parse(t)
	if err == nil {
		err = genome.CheckRanges(g, genome.Space{Depth: depth})
	}
	if err != nil {
		return nil, fmt.Errorf("genome %q: %w", t, err)
	}
	return g, nil
}

// IsPreset reports whether s names a preset.
func IsPreset(s string) bool {
	t := strings.TrimSpace(s)
	for _, n := range genome.PresetNames() {
		if t == n {
			return true
		}
	}
	return false
}

// FinalTraining returns the run config that every architecture of the
// final stage is trained and evaluated with: c with training.steps set to
// final.steps and no final section. Its Hash differs from c's whenever the
// budgets differ, so short-budget and final-budget results never share
// evaluation-cache entries. c must have a final section.
func (c Config) FinalTraining() Config {
	out := c
	out.Training.Steps = c.Final.Steps
	out.Final = nil
	out.Fidelity = nil // every retraining trains the final budget at once
	return out
}
