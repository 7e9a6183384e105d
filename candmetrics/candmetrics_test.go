package candmetrics

import (
	"encoding/json"
	"math"
	"testing"
)

// The typed metrics write the bytes the worker wrote as maps before, so
// that stored databases and new rows read alike.
func TestBytesAsStored(t *testing.T) {
	t.Parallel()
	job := TrainJob{Job: "mad-x-lr0.001-wd0", Steps: 3, FinalLoss: 1.5, TrainTokensS: 900, TrainedParam: 1200, TrainedVocab: 16, Seconds: 0.25}
	ejob := EvalJob{Job: "text", Accuracy: 0.5, ValPerplexity: 12.5, EvalLoss: 2.5, ForwardTokensS: 4000}
	cases := []struct {
		name     string
		typed    any
		asStored map[string]any
	}{
		{"train", Train{Backend: "go", Jobs: []TrainJob{job}, Losses: []float64{3, 2}, TrainTokensPerS: 900},
			map[string]any{"jobs": []TrainJob{job}, "losses": []float64{3, 2}, "train_tokens_per_s": 900.0, "backend": "go"}},
		{"train without models", Train{Backend: "xla"},
			map[string]any{"jobs": []TrainJob(nil), "losses": []float64(nil), "train_tokens_per_s": 0.0, "backend": "xla"}},
		{"early stop", EarlyStop{Backend: "go", Job: "text", Losses: []float64{5, 6}, Steps: 2, UnigramLoss: 4.5},
			map[string]any{"losses": []float64{5, 6}, "job": "text", "steps": 2, "unigram_loss": 4.5, "backend": "go"}},
		{"eval", Eval{Backend: "go", Jobs: []EvalJob{ejob}, MADAccuracy: map[string]float64{"b": 0.5, "a": 1}},
			map[string]any{"jobs": []EvalJob{ejob}, "mad_accuracy": map[string]float64{"b": 0.5, "a": 1}, "backend": "go"}},
	}
	for _, c := range cases {
		got, err := json.Marshal(c.typed)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c.asStored)
		if string(got) != string(want) {
			t.Errorf("%s: wrote %s, want %s", c.name, got, want)
		}
	}
}

// Parse reads each part on its own: one of another shape is absent, the
// others are read.
func TestParse(t *testing.T) {
	t.Parallel()
	c, ok := Parse([]byte(`{"train":{"backend":"go","jobs":[{"job":"a","steps":3},{"job":"b","steps":4}],"losses":[2,1]},` +
		`"eval":{"mad_accuracy":{"x":0.75}},"losses":[2,1],"train_tokens_per_s":1234.5}`))
	if !ok || c.TrainSteps() != 7 || c.Eval.MADAccuracy["x"] != 0.75 || len(c.Losses) != 2 {
		t.Fatalf("Parse = %+v, %v", c, ok)
	}
	if v, ok := c.Throughput(); !ok || v != 1234.5 {
		t.Errorf("Throughput = %v, %v", v, ok)
	}
	c, ok = Parse([]byte(`{"losses": "not an array", "train_tokens_per_s": "fast", "train": {"jobs": [{"steps": 5}]}}`))
	if !ok || c.Losses != nil || c.TrainSteps() != 5 {
		t.Errorf("odd metrics parsed as %+v, %v", c, ok)
	}
	if _, ok := c.Throughput(); ok {
		t.Error("a throughput that is not a number was read")
	}
	// An early stop counts the stopped model's steps and those of the
	// models that finished before it.
	c, ok = Parse([]byte(`{"train":{"backend":"go","job":"text","losses":[9,8],"steps":2,"unigram_loss":3,` +
		`"jobs":[{"job":"mad-a","steps":6}]}}`))
	if !ok || c.StoppedSteps != 2 || c.TrainSteps() != 8 {
		t.Errorf("early stop parsed as %+v (train steps %d), %v; want 2 stopped, 8 in all", c, c.TrainSteps(), ok)
	}
	for _, raw := range []string{``, `[1,2]`, `null`, `{`} {
		if c, ok := Parse([]byte(raw)); ok {
			t.Errorf("Parse(%q) = %+v, true", raw, c)
		}
	}
	inf := math.Inf(1)
	if _, ok := (Candidate{TrainTokensPerS: &inf}).Throughput(); ok {
		t.Error("an infinite throughput was read")
	}
}
