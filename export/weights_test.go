package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/export"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
	"github.com/star-pipeline/star-pipeline/safetensors"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// tinyGenome has a differential attention slot, a SwiGLU slot and a
// GConv-1 slot whose featurizer is tied to slot 0's group of class 7
// slots, so that the exported names cover a/, b/, lambda and sharing.
const tinyGenome = "10.1.1.1.1-91111-71111-92121-72111"

var (
	trainOnce sync.Once
	trainDir  string
	trainErr  error
)

// trained trains the tiny model once for every test of this file and
// returns its checkpoint directory.
func trained(t *testing.T) string {
	t.Helper()
	trainOnce.Do(func() {
		trainDir, trainErr = os.MkdirTemp("", "export-weights-")
		if trainErr != nil {
			return
		}
		b, err := model.NewBackend("")
		if err != nil {
			trainErr = err
			return
		}
		mad, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Vocab: 8, Length: 16,
			TrainExamples: 32, TestExamples: 8})
		if err != nil {
			trainErr = err
			return
		}
		cfg := trainer.Config{Steps: 3, BatchSize: 4, LearningRate: 3e-3, Seed: 5, Backend: b,
			ThroughputSeconds: -1, CheckpointDir: trainDir}
		_, trainErr = trainer.Train(context.Background(), genome.MustParse(tinyGenome),
			arch.Config{Width: 16, HeadDim: 8}, mad, cfg, nil)
	})
	if trainErr != nil {
		t.Fatal(trainErr)
	}
	return trainDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if trainDir != "" {
		os.RemoveAll(trainDir)
	}
	os.Exit(code)
}

func TestWeightsRoundTripBitForBit(t *testing.T) {
	dir := trained(t)
	f, err := export.Weights(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "w.safetensors")
	if err := export.WriteWeights(out, f); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := safetensors.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}

	hdr, vars, err := trainer.ReadCheckpointVariables(dir)
	if err != nil {
		t.Fatal(err)
	}
	var model []trainer.Variable
	for _, v := range vars {
		if strings.HasPrefix(v.Path, export.ModelScope) {
			model = append(model, v)
		} else if _, ok := back.Tensor(v.Path); ok {
			t.Errorf("training state %s was exported", v.Path)
		}
	}
	if len(back.Tensors) != len(model) {
		t.Fatalf("%d tensors in the file, the checkpoint has %d model variables", len(back.Tensors), len(model))
	}
	for i, v := range model {
		got := back.Tensors[i]
		name := strings.TrimPrefix(v.Path, export.ModelScope)
		if got.Name != name || got.DType != safetensors.F32 || !slices.Equal(got.Shape, v.Dims) {
			t.Errorf("tensor %d: %s %s %v, want %s F32 %v", i, got.Name, got.DType, got.Shape, name, v.Dims)
		}
		if !bytes.Equal(got.Data, v.Data) {
			t.Errorf("tensor %s: bytes differ from the checkpoint's", name)
		}
	}

	// The names and shapes are docs/architecture.md's (arch.Layout at the
	// dims the model was built at).
	layout, err := arch.Layout(genome.MustParse(tinyGenome), hdr.Dims)
	if err != nil {
		t.Fatal(err)
	}
	if len(layout) != len(back.Tensors) {
		t.Fatalf("%d tensors, arch.Layout lists %d", len(back.Tensors), len(layout))
	}
	for _, p := range layout {
		got, ok := back.Tensor(p.Name)
		if !ok {
			t.Errorf("arch.Layout's %s is not in the file", p.Name)
			continue
		}
		if !slices.Equal(got.Shape, p.Shape) {
			t.Errorf("%s: shape %v, arch.Layout says %v", p.Name, got.Shape, p.Shape)
		}
	}
	for _, want := range []string{"slot_0/a/q", "slot_0/b/q", "slot_0/lambda", "slot_2/kernel", "embed", "final_norm"} {
		if _, ok := back.Tensor(want); !ok {
			t.Errorf("no tensor %s", want)
		}
	}

	// The metadata is enough to rebuild the model.
	md := back.Metadata
	if md[export.MetaGenome] != genome.Format(genome.MustParse(tinyGenome)) || md[export.MetaFormat] != "star-pipeline" ||
		md[export.MetaTask] != hdr.Task || md[export.MetaSteps] != "3" || md[export.MetaPrecision] != "fp32" {
		t.Errorf("metadata %v", md)
	}
	var dims arch.Config
	if err := json.Unmarshal([]byte(md[export.MetaDims]), &dims); err != nil || dims != hdr.Dims {
		t.Errorf("dims %q (%v), want %+v", md[export.MetaDims], err, hdr.Dims)
	}
}

func TestCandidateWeightsPicksTheJob(t *testing.T) {
	dir := trained(t)
	root := t.TempDir()
	for _, job := range []string{"fuzzy-recall", "in-context-recall"} {
		if err := os.MkdirAll(filepath.Join(root, job), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, trainer.CheckpointFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, job, trainer.CheckpointFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cand := export.Candidate{ID: "r1/g000/c0000", Genome: genome.Format(genome.MustParse(tinyGenome)), Checkpoint: root}
	if _, err := export.CandidateWeights(cand, "", ""); err == nil || !strings.Contains(err.Error(), "--job") {
		t.Errorf("two jobs and no --job: err %v, want one naming --job", err)
	}
	if _, err := export.CandidateWeights(cand, "", "noisy-recall"); err == nil || !strings.Contains(err.Error(), "in-context-recall") {
		t.Errorf("unknown job: err %v, want one listing the jobs", err)
	}
	f, err := export.CandidateWeights(cand, "", "in-context-recall")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata[export.MetaCandidate] != cand.ID || f.Metadata[export.MetaJob] != "in-context-recall" {
		t.Errorf("metadata %v", f.Metadata)
	}

	cand.Genome = "11111-91111"
	if _, err := export.CandidateWeights(cand, "", "fuzzy-recall"); err == nil || !strings.Contains(err.Error(), "holds genome") {
		t.Errorf("a checkpoint of another genome: err %v", err)
	}
	cand.Checkpoint = filepath.Join(root, "missing")
	if _, err := export.CandidateWeights(cand, "", ""); err == nil || !strings.Contains(err.Error(), "--checkpoint") {
		t.Errorf("missing directory: err %v, want a hint at --checkpoint", err)
	}
	cand.Checkpoint = ""
	if _, err := export.CandidateWeights(cand, "", ""); err == nil {
		t.Error("no checkpoint: want an error")
	}
}

func TestWeightsWithoutCheckpoint(t *testing.T) {
	t.Parallel()
	if _, err := export.Weights(t.TempDir()); err == nil {
		t.Fatal("want an error for a directory without a checkpoint")
	}
}
