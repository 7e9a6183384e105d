package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/safetensors"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// TestExportWeights trains a tiny model with `train --checkpoint`, then
// exports its weights from the checkpoint directory and from a candidate
// whose checkpoint it is, and loads the files back bit for bit.
func TestExportWeights(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	dir := t.TempDir()
	const gtext = "11111-91111"
	job := filepath.Join(dir, "ckpt", "in-context-recall")
	if _, stderr, code := runCLI(t, dir, nil, "train", gtext, "--task", "mad:in-context-recall", "--width", "16",
		"--head-dim", "8", "--steps", "2", "--batch", "2", "--checkpoint", job); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr)
	}
	_, vars, err := trainer.ReadCheckpointVariables(job)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, path string, wantMeta map[string]string) {
		t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range vars {
			name, ok := strings.CutPrefix(v.Path, "/model/")
			if !ok {
				continue
			}
			n++
			got, ok := f.Tensor(name)
			if !ok || !bytes.Equal(got.Data, v.Data) {
				t.Errorf("tensor %s missing or different from the checkpoint's", name)
			}
		}
		if n == 0 || len(f.Tensors) != n {
			t.Errorf("%d tensors, the checkpoint has %d model variables", len(f.Tensors), n)
		}
		for k, want := range wantMeta {
			if f.Metadata[k] != want {
				t.Errorf("metadata %s = %q, want %q", k, f.Metadata[k], want)
			}
		}
	}

	t.Run("checkpoint", func(t *testing.T) {
		out, stderr, code := runCLI(t, dir, nil, "export", "--checkpoint", job, "--weights", "a.safetensors")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		var doc struct {
			Genome  string `json:"genome"`
			Task    string `json:"task"`
			Steps   int    `json:"steps"`
			Weights struct {
				Path    string `json:"path"`
				Tensors int    `json:"tensors"`
			} `json:"weights"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if doc.Genome != gtext || doc.Task != "mad:in-context-recall" || doc.Steps != 2 || doc.Weights.Path != "a.safetensors" ||
			doc.Weights.Tensors != 11 {
			t.Errorf("export document %+v", doc)
		}
		check(t, filepath.Join(dir, "a.safetensors"), map[string]string{"genome": gtext, "steps": "2"})
	})

	t.Run("candidate", func(t *testing.T) {
		ctx := context.Background()
		dbPath := filepath.Join(dir, "star.db")
		db, err := storage.Open(ctx, dbPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		yml, _ := cfg.YAML()
		err = db.CreateRun(ctx, storage.Run{ID: "r1", Created: time.Now(), Config: string(yml), ConfigHash: cfg.Hash(),
			Algorithm: cfg.Algorithm.Name, Population: 1, Generations: 1})
		if err == nil {
			err = db.StartGeneration(ctx, "r1", 0)
		}
		if err == nil {
			err = db.AddCandidates(ctx, storage.Candidate{RunID: "r1", Index: 0, Genome: gtext,
				GenomeHash: genome.Hash(genome.MustParse(gtext)), Operator: storage.OpSeed})
		}
		if err == nil {
			err = db.CompleteCandidate(ctx, "r1/g000/c0000", storage.Result{Objectives: map[string]float64{"params": 1},
				Checkpoint: filepath.Join(dir, "ckpt")})
		}
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		env := []string{"STAR_DB=" + dbPath}
		out, stderr, code := runCLI(t, dir, env, "export", "r1/g000/c0000", "--weights", "b.safetensors")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		if !strings.Contains(out, `"job": "in-context-recall"`) || !strings.Contains(stderr, "wrote 11 tensors") {
			t.Errorf("stdout lacks the weights' job or stderr the summary:\n%s\n%s", out, stderr)
		}
		check(t, filepath.Join(dir, "b.safetensors"), map[string]string{"candidate": "r1/g000/c0000", "job": "in-context-recall"})

		_, stderr, code = runCLI(t, dir, env, "export", "r1/g000/c0000", "--weights", "c.safetensors", "--job", "fuzzy-recall")
		if code != 1 || !strings.Contains(stderr, "its jobs: in-context-recall") {
			t.Errorf("unknown job: exit %d\n%s", code, stderr)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, c := range []usageCase{
			{[]string{"export"}, "missing CANDIDATE_ID"},
			{[]string{"export", "--checkpoint", job}, "give --weights FILE"},
			{[]string{"export", "r1/g000/c0000", "--job", "x"}, "give --weights FILE"},
			{[]string{"export", "--checkpoint", job, "--weights", "x", "--job", "y"}, "give CANDIDATE_ID"},
			{[]string{"export", "a", "b"}, "want one CANDIDATE_ID"},
		} {
			_, stderr, code := runCLI(t, dir, nil, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("%v: exit %d, want 2 with %q\n%s", c.args, code, c.want, stderr)
			}
		}
	})
}
