package tasks

import (
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
)

// NewRecipe reads the run's objectives, multi-fidelity and latency
// settings into what the worker does, and the final stage's config
// trains the final budget at once.
func TestNewRecipe(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Training.Steps = 50
	r := NewRecipe(c, 9)
	if len(r.Models) != len(c.Quality.MAD) || !r.MADScore || r.Latency != "" || r.HopelessAfter != -1 || r.FailEarly {
		t.Fatalf("default recipe %+v", r)
	}
	for i, m := range r.Models {
		if m.MADTask != c.Quality.MAD[i].Name || m.Spec != "mad:"+m.MADTask || m.Opts.MAD.Seed != 9 || m.Train.Seed != 9 {
			t.Errorf("model %d: %+v", i, m)
		}
	}
	if r.Dims != c.Search.Dims.WithDefaults() {
		t.Errorf("dims %+v", r.Dims)
	}

	// Latency alone trains the text model and measures it; decode is kept.
	c.Objectives = []string{config.Latency, config.Params}
	if r := NewRecipe(c, 1); len(r.Models) != 1 || r.Models[0].Name != "text" || r.Latency != config.LatencyThroughput || r.MADScore {
		t.Errorf("latency recipe %+v", r)
	}
	c.Quality.Latency = config.LatencyDecode
	if r := NewRecipe(c, 1); r.Latency != config.LatencyDecode {
		t.Errorf("decode latency read as %q", r.Latency)
	}

	// A multi-fidelity run stops early; its final stage does not, and
	// trains final.steps.
	c = config.Default()
	c.Fidelity = &config.Fidelity{Rungs: []int{10, 50}, Eta: 2, HopelessAfter: 0}
	c.Final = &config.Final{Steps: 80, Seeds: 1, TopK: 1}
	r = NewRecipe(c, 1)
	if !r.FailEarly || r.HopelessAfter != 10 {
		t.Errorf("multi-fidelity recipe: fail early %v, hopeless after %d; want true, 10", r.FailEarly, r.HopelessAfter)
	}
	r = NewRecipe(c.FinalTraining(), 1)
	if r.FailEarly || r.HopelessAfter != -1 || r.Models[0].Train.Steps != 80 {
		t.Errorf("final recipe: fail early %v, hopeless after %d, steps %d", r.FailEarly, r.HopelessAfter, r.Models[0].Train.Steps)
	}
}
