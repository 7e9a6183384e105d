package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func TestRungNodeIDs(t *testing.T) {
	t.Parallel()
	for _, n := range []Node{
		{Run: "r", Generation: 2, Stage: StageTrain, Index: 3, Rung: 1},
		{Run: "r", Generation: 2, Stage: StageEvaluate, Index: 3, Rung: 2, Attempt: 1},
	} {
		got, err := ParseNode(n.ID())
		if err != nil || got != n {
			t.Errorf("ParseNode(%q) = %+v, %v", n.ID(), got, err)
		}
	}
	if id := (Node{Run: "r", Generation: 2, Stage: StageTrain, Index: 3, Rung: 1, Attempt: 2}).ID(); id != "r/g002/train/0003/r1/a2" {
		t.Errorf("rung node id %q", id)
	}
	if id := (Node{Run: "r", Stage: StageTrain, Index: 3}).ID(); id != "r/g000/train/0003" {
		t.Errorf("rung 0 changed the id: %q", id)
	}
	for _, bad := range []string{"r/g001/train/0001/r0", "r/g001/train/0001/a1/r1", "r/g001/train/0001/r1/a1/a2", "r/g001/train/0001/rx"} {
		if _, err := ParseNode(bad); err == nil {
			t.Errorf("ParseNode(%q) accepted", bad)
		}
	}
}

func TestHopelessCheck(t *testing.T) {
	t.Parallel()
	stop := hopeless(4, 3.0)
	if err := stop([]float64{9, 9, 9}); err != nil {
		t.Errorf("stopped before step 4: %v", err)
	}
	if err := stop([]float64{9, 2, 2, 2, 2, 2}); err != nil {
		t.Errorf("mean of the last 5 steps is 2 < 3: %v", err)
	}
	err := stop([]float64{5, 5, 5, 2.9, 3.5, 3.2})
	var h hopelessError
	if !errors.As(err, &h) || h.Step != 6 || math.Abs(h.Loss-3.92) > 1e-9 {
		t.Errorf("mean 3.92 above 3 at step 6: %v", err)
	}
	if err := hopeless(1, math.NaN())([]float64{100}); err != nil {
		t.Errorf("no unigram loss must stop nothing: %v", err)
	}
}

func TestUnigramLoss(t *testing.T) {
	t.Parallel()
	c := &data.Corpus{Train: []byte(strings.Repeat("ab", 5000)), Val: []byte(strings.Repeat("ab", 100))}
	task, err := data.NewTextTask("ab", c, 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Two equally frequent bytes, add-one smoothed over 256: a little
	// above ln 2.
	if u := UnigramLoss(task, 1, 2); !(u > math.Ln2 && u < math.Ln2+0.05) {
		t.Errorf("unigram loss of abab...: %v", u)
	}
	mad, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Vocab: 8, Length: 16, TrainExamples: 64, TestExamples: 16})
	if err != nil {
		t.Fatal(err)
	}
	if u := UnigramLoss(mad, 1, 4); !(u > 0 && u <= math.Log(16)) {
		t.Errorf("unigram loss of a MAD task: %v", u)
	}
	// The same to the last bit on every call: the hopeless check of a
	// candidate decides alike on every worker.
	sc, err := data.NewMAD(data.MADConfig{Task: data.SelectiveCopying, Vocab: 16, Length: 32, Tokens: 4, TrainExamples: 256, TestExamples: 16})
	if err != nil {
		t.Fatal(err)
	}
	first := UnigramLoss(sc, 5, 8)
	for range 50 {
		if u := UnigramLoss(sc, 5, 8); math.Float64bits(u) != math.Float64bits(first) {
			t.Fatalf("unigram loss %v, then %v", first, u)
		}
	}
}

func TestContinueFromCopiesOnlyAnEarlierCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	from, own := filepath.Join(dir, "from"), filepath.Join(dir, "own")
	// No checkpoint to copy: nothing happens.
	if err := continueFrom(from, own, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("created %s without a source: %v", own, err)
	}
	task, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Vocab: 8, Length: 16, TrainExamples: 64, TestExamples: 16})
	if err != nil {
		t.Fatal(err)
	}
	cfg := trainer.Config{Steps: 6, StopAt: 3, BatchSize: 4, Seed: 1, CheckpointDir: from, ThroughputSeconds: -1}
	if _, err := trainer.Train(context.Background(), genome.MustParse("11111-91111"), arch.Config{Width: 16, HeadDim: 8}, task, cfg, nil); err != nil {
		t.Fatal(err)
	}
	// A checkpoint past the target is not copied.
	if err := continueFrom(from, own, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := trainer.ReadCheckpoint(own); !errors.Is(err, trainer.ErrNoCheckpoint) {
		t.Errorf("copied a checkpoint at step 3 for a target of 2: %v", err)
	}
	if err := continueFrom(from, own, 6); err != nil {
		t.Fatal(err)
	}
	if hdr, err := trainer.ReadCheckpoint(own); err != nil || hdr.Step != 3 {
		t.Fatalf("copy: %+v, %v", hdr, err)
	}
	// A checkpoint of its own is never replaced.
	cfg.CheckpointDir, cfg.StopAt = from, 0
	if _, err := trainer.Train(context.Background(), genome.MustParse("11111-91111"), arch.Config{Width: 16, HeadDim: 8}, task, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if err := continueFrom(from, own, 6); err != nil {
		t.Fatal(err)
	}
	if hdr, err := trainer.ReadCheckpoint(own); err != nil || hdr.Step != 3 {
		t.Fatalf("own checkpoint replaced: %+v, %v", hdr, err)
	}
}

// TestTrainStopsHopelessEarly trains a tiny model for real in a
// multi-fidelity run: a rung stops at its steps with a checkpoint there,
// and with the hopeless check from step 1 (no model beats the unigram
// loss after one step) the candidate is reported failed early with its
// loss curve instead of an error.
func TestTrainStopsHopelessEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	t.Parallel()
	parse := func(extra string) string {
		c, err := config.Parse([]byte(`
objectives: [mad_score, params]
algorithm: {crossover_points: 1}
search: {depth: 2, width: 16, classes: [1, 9]}
seeds: [transformer++]
training: {steps: 6, batch_size: 4}
quality:
  mad: [{name: in_context_recall, vocab: 16, length: 16, train_examples: 16, test_examples: 8}]
fidelity: {rungs: [2, 6], ` + extra + `}
`))
		if err != nil {
			t.Fatal(err)
		}
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		return string(y)
	}
	e := &TrainerEvaluator{}
	defer e.Close()
	ctx := context.Background()
	dir := t.TempDir()
	tr, err := e.Train(ctx, TrainPayload{Genome: "11111-92121", Config: parse("hopeless_after: -1"), Seed: 1, Checkpoint: dir, Steps: 2})
	if err != nil || tr.FailedEarly != "" {
		t.Fatalf("rung 0: %+v, %v", tr, err)
	}
	hdr, err := trainer.ReadCheckpoint(filepath.Join(dir, "mad-in_context_recall-lr0.0008-wd0.1"))
	if err != nil {
		entries, _ := os.ReadDir(dir)
		t.Fatalf("no rung checkpoint (%v): %v", entries, err)
	}
	if hdr.Step != 2 || hdr.Recipe.Steps != 6 {
		t.Fatalf("rung checkpoint at step %d of %d, want 2 of 6", hdr.Step, hdr.Recipe.Steps)
	}
	tr, err = e.Train(ctx, TrainPayload{Genome: "11111-92121", Config: parse("hopeless_after: 1"), Seed: 1, Checkpoint: t.TempDir(), Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Losses  []float64 `json:"losses"`
		Unigram float64   `json:"unigram_loss"`
	}
	if err := json.Unmarshal(tr.Metrics, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.FailedEarly, "hopeless") || len(m.Losses) != 1 || !(m.Losses[0] > m.Unigram) {
		t.Fatalf("failed early %q with metrics %s", tr.FailedEarly, tr.Metrics)
	}
}
