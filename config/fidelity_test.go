package config

import (
	"slices"
	"testing"
)

func TestFidelityDefaultsAndRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "training: {steps: 90}")
	if c.Fidelity != nil || !slices.Equal(c.RungSteps(), []int{90}) || c.HopelessStep() != -1 {
		t.Fatalf("no fidelity section: %+v, rungs %v, hopeless %d", c.Fidelity, c.RungSteps(), c.HopelessStep())
	}
	c = mustParse(t, "training: {steps: 90}\nfidelity: {rungs: [10, 30, 90]}")
	f := c.Fidelity
	if f == nil || f.Eta != DefaultEta || f.MinCorrelation == nil || *f.MinCorrelation != DefaultMinCorrelation {
		t.Fatalf("fidelity defaults: %+v", f)
	}
	if !slices.Equal(c.RungSteps(), []int{10, 30, 90}) || c.HopelessStep() != 10 {
		t.Fatalf("rungs %v, hopeless step %d (want 10: the first rung)", c.RungSteps(), c.HopelessStep())
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(y)
	if err != nil || back.Fidelity == nil || !slices.Equal(back.Fidelity.Rungs, f.Rungs) || back.Hash() != c.Hash() {
		t.Fatalf("round trip: %+v, %v", back.Fidelity, err)
	}
	// The fidelity section is not part of the training hash: the last
	// rung trains as a single-budget run does.
	if single := mustParse(t, "training: {steps: 90}"); single.Hash() != c.Hash() {
		t.Fatal("a fidelity section changed the training hash")
	}
	// The final stage trains its budget at once.
	c = mustParse(t, "training: {steps: 90}\nfidelity: {rungs: [10, 90], hopeless_after: -1}\nfinal: {steps: 200}")
	if ft := c.FinalTraining(); ft.Fidelity != nil || ft.Validate() != nil {
		t.Fatalf("final training keeps fidelity %+v: %v", ft.Fidelity, ft.Validate())
	}
	if c.HopelessStep() != -1 {
		t.Fatalf("hopeless_after -1: step %d", c.HopelessStep())
	}
}

func TestFidelityValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, path string }{
		{"training: {steps: 90}\nfidelity: {rungs: []}", "fidelity.rungs"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 10, 90]}", "fidelity.rungs[1]"},
		{"training: {steps: 90}\nfidelity: {rungs: [0, 90]}", "fidelity.rungs[0]"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 30]}", "fidelity.rungs[1]"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 90], eta: 1}", "fidelity.eta"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 90], eta: 2000}", "fidelity.eta"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 90], hopeless_after: -2}", "fidelity.hopeless_after"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 90], min_correlation: 1.5}", "fidelity.min_correlation"},
		{"training: {steps: 90}\nfidelity: {rungs: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,90]}", "fidelity.rungs"},
		{"training: {steps: 90}\nfidelity: {rungs: [10, 90], speed: 2}", "fidelity.speed"},
	} {
		wantFieldError(t, tc.doc, tc.path)
	}
}
