package tasks

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/config"
)

// The worker's evaluator end to end, in process, on tiny real models: each
// MAD task trains once per sweep point, mad_score is 1 minus the mean over
// tasks of the best accuracy over the sweep, perplexity is the text model's
// validation perplexity, latency is 1 over the forward throughput measured
// on the first model, and params and cache_bytes are the static costs.
func TestEvaluatorScoresTheSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("trains tiny models")
	}
	t.Parallel()
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	corpusText := strings.Repeat("the cat sat on the mat and the dog lay by the door. ", 200)
	if err := os.WriteFile(corpus, []byte(corpusText), 0o644); err != nil {
		t.Fatal(err)
	}
	y := runConfig(t, `
objectives: [mad_score, perplexity, params, cache_bytes, latency]
algorithm: {crossover_points: 1}
search: {depth: 2, width: 16, context: 32, classes: [1, 9]}
seeds: [transformer++]
training: {steps: 3, batch_size: 4, checkpoint_every: 0, eval_batches: 2}
quality:
  corpus: `+corpus+`
  mad:
    - {name: in_context_recall, vocab: 16, length: 16, train_examples: 16, test_examples: 8}
    - {name: compression, vocab: 8, length: 8, train_examples: 16, test_examples: 8}
  sweep: {learning_rates: [0.001, 0.003]}
backend: go
`)
	e := &TrainerEvaluator{}
	defer e.Close()
	g := "11111-92121"
	_, ev := trainAndEvaluate(t, e, y, g, 7, filepath.Join(dir, "ckpt"))
	var m candmetrics.Eval
	if err := json.Unmarshal(ev.Metrics, &m); err != nil {
		t.Fatal(err)
	}
	// Two tasks x two learning rates, then the text model.
	if len(m.Jobs) != 5 {
		t.Fatalf("evaluated %d models, want 5: %s", len(m.Jobs), ev.Metrics)
	}
	best := map[string]float64{}
	for _, j := range m.Jobs[:4] {
		task := strings.Split(strings.TrimPrefix(j.Job, "mad-"), "-lr")[0]
		best[task] = math.Max(best[task], j.Accuracy)
	}
	if len(best) != 2 {
		t.Fatalf("sweep models %v, want two tasks", best)
	}
	wantMAD := 1 - (best["in_context_recall"]+best["compression"])/2
	text := m.Jobs[4]
	if text.Job != "text" || !(text.ValPerplexity > 1) || !(m.Jobs[0].ForwardTokensS > 0) {
		t.Fatalf("text model metrics %+v", text)
	}
	obj := ev.Objectives
	if math.Abs(obj[config.MADScore]-wantMAD) > 1e-12 {
		t.Errorf("mad_score %v, want 1 - mean best accuracy = %v", obj[config.MADScore], wantMAD)
	}
	if obj[config.Perplexity] != text.ValPerplexity {
		t.Errorf("perplexity %v, want the text model's %v", obj[config.Perplexity], text.ValPerplexity)
	}
	if math.Abs(obj[config.Latency]-1/m.Jobs[0].ForwardTokensS) > 1e-15 {
		t.Errorf("latency %v, want 1/%v", obj[config.Latency], m.Jobs[0].ForwardTokensS)
	}
	if !(obj[config.Params] > 0) || !(obj[config.CacheBytes] > 0) {
		t.Errorf("static costs %v", obj)
	}
}

// runConfig parses a run config and returns its canonical YAML, as the
// coordinator puts it in payloads.
func runConfig(t *testing.T, text string) string {
	t.Helper()
	c, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}

// trainAndEvaluate trains genome g under run config y with seed into
// checkpoint, then evaluates it, as a worker does.
func trainAndEvaluate(t *testing.T, e *TrainerEvaluator, y, g string, seed uint64, checkpoint string) (TrainResult, EvaluateResult) {
	t.Helper()
	ctx := context.Background()
	tr, err := e.Train(ctx, TrainPayload{Genome: g, Config: y, Seed: seed, Checkpoint: checkpoint})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.Evaluate(ctx, EvaluatePayload{Genome: g, Config: y, Seed: seed, Checkpoint: tr.Checkpoint, Train: tr})
	if err != nil {
		t.Fatal(err)
	}
	return tr, ev
}
