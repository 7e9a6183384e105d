package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
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

// TestResumeAfterArchive archives every queued task of a search from the
// queue (as the monitor's "archive all" does), then resumes it: archiving
// is no verdict on the tasks, so they run again and the search ends with
// the population of an uninterrupted one, no candidate failed.
func TestResumeAfterArchive(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	want := reference(t)
	srv := redistest.Start(t)
	dir := workdir(t, staticConfig)
	ctx := context.Background()
	b, err := runner.Open(ctx, runner.Options{Addr: srv.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// A coordinator with no worker enqueues the first tasks, which wait.
	cmd := command(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval", "--redis", srv.Socket, "--workers", "0")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pending := func() map[string]int {
		stats, err := b.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, info := range stats {
			if info.Pending > 0 {
				out[info.Queue] = info.Pending
			}
		}
		return out
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(pending()) == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no task queued in 60s; stderr:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	id := runID(t, errb.String())

	archived := 0
	for q := range pending() {
		n, err := b.ArchivePending(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		archived += n
	}
	if archived == 0 {
		t.Fatal("nothing archived; nothing tested")
	}
	t.Logf("archived %d tasks", archived)

	_, stderr, code := runCLI(t, dir, nil, "resume", id, "--static-eval", "--redis", srv.Socket, "--workers", "1")
	if code != 0 {
		t.Fatalf("resume after archiving: exit %d\n%s", code, stderr)
	}
	dbPath := filepath.Join(dir, "star.db")
	checkLineage(t, dbPath, id, 8)
	if got := finalPopulation(t, dbPath, id); !slices.Equal(got, want) {
		t.Errorf("final population differs from the uninterrupted run's:\n%v\n%v", got, want)
	}
}
