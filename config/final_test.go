package config

import (
	"errors"
	"slices"
	"testing"
)

func TestFinalOffWhenAbsent(t *testing.T) {
	t.Parallel()
	if c := mustParse(t, "population: 4"); c.Final != nil {
		t.Fatalf("Final = %+v, want nil when the section is absent", c.Final)
	}
	if c := mustParse(t, "final:"); c.Final != nil {
		t.Fatalf("final: null gave %+v, want nil", c.Final)
	}
}

func TestFinalDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "training: {steps: 150}\nfinal: {}")
	want := Final{TopK: DefaultFinalTopK, Steps: 600, Seeds: DefaultFinalSeeds}
	if c.Final == nil || c.Final.TopK != want.TopK || c.Final.Steps != want.Steps || c.Final.Seeds != want.Seeds ||
		c.Final.Baselines != nil {
		t.Fatalf("final {} = %+v, want %+v", c.Final, want)
	}
	c = mustParse(t, "final: {top_k: 2, steps: 40, seeds: 1, baselines: [striped, '71111-91111-71111-91111-71111-91111-71111-91111']}")
	if f := c.Final; f.TopK != 2 || f.Steps != 40 || f.Seeds != 1 || len(f.Baselines) != 2 {
		t.Fatalf("final = %+v", f)
	}
	// The YAML form reads back to the same config.
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(y)
	if err != nil {
		t.Fatal(err)
	}
	if back.Final == nil || !slices.Equal(back.Final.Baselines, c.Final.Baselines) || back.Final.Steps != 40 {
		t.Fatalf("round trip: %+v vs %+v", back.Final, c.Final)
	}
}

func TestFinalValidation(t *testing.T) {
	t.Parallel()
	cases := []struct{ yaml, path string }{
		{"final: {top_k: -1}", "final.top_k"},
		{"final: {steps: -5}", "final.steps"},
		{"final: {seeds: -2}", "final.seeds"},
		{"final: {baselines: [transformer]}", "final.baselines[0]"},
		{"final: {baselines: ['11111-91111']}", "final.baselines[0]"},
		{"final: {baselines: ['']}", "final.baselines[0]"},
		{"final: {unknown: 1}", "final.unknown"},
		{"final: 3", "final"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s: err = %v, want Errors", tc.yaml, err)
			continue
		}
		found := false
		for _, e := range es {
			found = found || e.Path == tc.path
		}
		if !found {
			t.Errorf("%s: errors %v do not name %s", tc.yaml, err, tc.path)
		}
	}
}

func TestFinalTrainingChangesOnlyTheBudget(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "training: {steps: 100}\nfinal: {steps: 400}")
	f := c.FinalTraining()
	if f.Final != nil || f.Training.Steps != 400 {
		t.Fatalf("FinalTraining: final %+v, steps %d", f.Final, f.Training.Steps)
	}
	if c.Training.Steps != 100 || c.Final == nil {
		t.Fatal("FinalTraining changed its receiver")
	}
	if f.Hash() == c.Hash() {
		t.Fatal("final and search budgets share a training hash: their evaluations would share cache entries")
	}
	g := f
	g.Training.Steps = c.Training.Steps
	if g.Hash() != c.Hash() {
		t.Fatal("FinalTraining changed more than training.steps in the training hash")
	}
}

func TestFinalLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, path string }{
		{"final: {top_k: 5000}", "final.top_k"},
		{"final: {seeds: 65}", "final.seeds"},
		{"final: {steps: 1000001}", "final.steps"},
	} {
		_, err := Parse([]byte(tc.yaml))
		var es Errors
		if !errors.As(err, &es) || es[0].Path != tc.path {
			t.Errorf("%s: %v, want an error under %s", tc.yaml, err, tc.path)
		}
	}
}
