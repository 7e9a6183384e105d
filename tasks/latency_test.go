package tasks

import (
	"encoding/json"
	"testing"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/config"
)

// With quality.latency: decode the latency objective is the measured
// cached decoding step at the end of the context, in seconds per token,
// and the metrics say so; no batched throughput is measured.
func TestDecodeLatencyObjective(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	t.Parallel()
	y := runConfig(t, `
objectives: [mad_score, latency]
algorithm: {crossover_points: 1}
search: {depth: 2, width: 16, classes: [1, 5, 9]}
seeds: [transformer++]
training: {steps: 2, batch_size: 4, checkpoint_every: 0}
quality:
  mad: [{name: in_context_recall, vocab: 16, length: 16, train_examples: 16, test_examples: 8}]
  latency: decode
backend: go
`)
	e := &TrainerEvaluator{}
	defer e.Close()
	g := "51111-92121"
	_, ev := trainAndEvaluate(t, e, y, g, 1, t.TempDir())
	var m candmetrics.Eval
	if err := json.Unmarshal(ev.Metrics, &m); err != nil || len(m.Jobs) != 1 {
		t.Fatalf("metrics %s: %v", ev.Metrics, err)
	}
	j := m.Jobs[0]
	if j.DecodeContext != 16 || !(j.DecodeMsPerToken > 0) || j.ForwardTokensS != 0 {
		t.Errorf("job metrics %+v: want a decode latency at context 16 and no throughput", j)
	}
	if got, want := ev.Objectives[config.Latency], j.DecodeMsPerToken/1000; got != want {
		t.Errorf("latency objective %v, want the decode step %v s", got, want)
	}
}
