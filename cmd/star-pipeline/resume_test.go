package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/storage"
)

// TestResumePausedRun stores a paused run: runs and status show it paused,
// and resume drives it to the end.
func TestResumePausedRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := workdir(t, staticConfig)
	cfg, err := config.Parse([]byte(staticConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Artifacts = filepath.Join(dir, "artifacts")
	dbPath := filepath.Join(dir, "star.db")
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	id, err := pipeline.Submit(ctx, db, cfg)
	if err == nil {
		err = db.PauseRun(ctx, id)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runCLI(t, dir, nil, "runs")
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "paused") {
		t.Errorf("runs: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, dir, nil, "status", id, "--json")
	var st struct {
		Run struct{ Status string }
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil || st.Run.Status != "paused" {
		t.Errorf("status --json: exit %d, status %q\n%s%s", code, st.Run.Status, stdout, stderr)
	}

	stdout, stderr, code = runCLI(t, dir, nil, "resume", id, "--static-eval")
	if code != 0 || !strings.Contains(stderr, "(paused)") || !strings.Contains(stdout, "finished; Pareto set") {
		t.Fatalf("resume: exit %d\n%s%s", code, stdout, stderr)
	}
	checkLineage(t, dbPath, id, cfg.Population)
}
