package config

import "fmt"

// Fidelity makes a run multi-fidelity: successive halving inside every
// generation. Every new candidate of a generation trains to Rungs[0]
// steps and is evaluated; once the rung is complete, the best
// ceil(n/eta) of its n candidates (non-dominated rank, then crowding
// distance) continue from their checkpoints to the next rung, and so on
// up to the last rung, the full budget (training.steps). The learning-rate
// schedule of every candidate is defined over the full budget, so a
// candidate continued to the last rung has trained exactly as one trained
// there at once (docs/design.md, "Multi-fidelity evaluation").
type Fidelity struct {
	// Rungs are the train-step budgets, strictly increasing; the last
	// must equal training.steps. At least one, at most MaxRungs.
	Rungs []int `yaml:"rungs" json:"rungs"`

	// Eta keeps the best 1/eta of a rung's candidates for the next; >= 2.
	// Default 3.
	Eta int `yaml:"eta" json:"eta"`

	// HopelessAfter is the step from which a candidate whose training
	// loss (mean of the last 5 steps) is still above the unigram loss of
	// its training data is stopped at once and recorded as failed early,
	// loss curve kept; a NaN or infinite loss stops it at any step.
	// Default 0: the first rung's budget (docs/design.md says why); -1
	// turns the unigram check off.
	HopelessAfter int `yaml:"hopeless_after" json:"hopeless_after"`

	// MinCorrelation is the proxy check's threshold: a run warns when the
	// Spearman rank correlation of the first objective between two
	// consecutive rungs (over the candidates that reached both) falls
	// below it, since the cheap rung is then not predicting the next.
	// In [-1, 1]; default 0.5.
	MinCorrelation *float64 `yaml:"min_correlation" json:"min_correlation"`
}

// Fidelity defaults.
const (
	DefaultEta            = 3
	DefaultMinCorrelation = 0.5
)

// applyDefaults fills the zero fields of a fidelity section.
func (f *Fidelity) applyDefaults() {
	if f.Eta == 0 {
		f.Eta = DefaultEta
	}
	if f.MinCorrelation == nil {
		v := DefaultMinCorrelation
		f.MinCorrelation = &v
	}
	f.Rungs = nilIfEmpty(f.Rungs)
}

func (c Config) validateFidelity(v *validator) {
	f := c.Fidelity
	if f == nil {
		return
	}
	if len(f.Rungs) == 0 {
		v.add("fidelity.rungs", "must list at least one train-step budget (the last one training.steps)")
	}
	if !v.maxInt("fidelity.rungs", len(f.Rungs), MaxRungs) {
		return
	}
	for i, r := range f.Rungs {
		p := fmt.Sprintf("fidelity.rungs[%d]", i)
		if !v.intRange(p, r, 1, MaxSteps) {
			continue
		}
		if i > 0 && r <= f.Rungs[i-1] {
			v.add(p, "must be larger than the rung before (%d): rungs increase", f.Rungs[i-1])
		}
	}
	if n := len(f.Rungs); n > 0 && f.Rungs[n-1] != c.Training.Steps {
		v.add(fmt.Sprintf("fidelity.rungs[%d]", n-1), "the last rung is the full budget and must equal training.steps (%d), got %d",
			c.Training.Steps, f.Rungs[n-1])
	}
	v.intRange("fidelity.eta", f.Eta, 2, MaxEta)
	if f.HopelessAfter < -1 {
		v.add("fidelity.hopeless_after", "must be -1 (off), 0 (the first rung's budget) or a step, got %d", f.HopelessAfter)
	} else {
		v.maxInt("fidelity.hopeless_after", f.HopelessAfter, MaxSteps)
	}
	if f.MinCorrelation != nil {
		v.rangeFloat("fidelity.min_correlation", *f.MinCorrelation, -1, 1, false, false)
	}
}

// RungSteps returns the train-step budget of every rung: the fidelity
// section's rungs, or the one budget training.steps without one.
func (c Config) RungSteps() []int {
	if c.Fidelity == nil || len(c.Fidelity.Rungs) == 0 {
		return []int{c.Training.Steps}
	}
	return c.Fidelity.Rungs
}

// HopelessStep returns the step from which the unigram check stops a
// hopeless candidate, or -1 when it is off (no fidelity section, or
// hopeless_after -1).
func (c Config) HopelessStep() int {
	if c.Fidelity == nil || c.Fidelity.HopelessAfter < 0 {
		return -1
	}
	if c.Fidelity.HopelessAfter > 0 {
		return c.Fidelity.HopelessAfter
	}
	return max(c.RungSteps()[0], 1)
}
