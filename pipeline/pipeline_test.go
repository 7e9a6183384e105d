package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// staticConfig is a small search that the static evaluator can score
// (objectives params and cache_bytes), with its artifacts in a temp dir.
func staticConfig(t *testing.T, seed uint64, extra ...string) config.Config {
	t.Helper()
	c, err := config.Parse(fmt.Appendf(nil, `
seed: %d
population: 6
generations: 3
objectives: [params, cache_bytes]
search: {depth: 4, width: 32}
seeds: [transformer++, striped]
%s`, seed, strings.Join(extra, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	c.Artifacts = t.TempDir()
	return c
}

// runToEnd submits cfg and drives it to its end with co; the run must
// finish.
func runToEnd(t *testing.T, h *harness, co *pipeline.Coordinator, cfg config.Config) (string, storage.Run) {
	t.Helper()
	ctx := context.Background()
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	run, err := h.db.GetRun(ctx, id)
	if err != nil || run.Status != storage.RunFinished {
		t.Fatalf("run %+v, %v; want finished", run, err)
	}
	return id, run
}

// failing wraps the static evaluator and fails, permanently, the training
// of every genome that starts with a Rec-1 slot.
type failing struct {
	tasks.StaticEvaluator
	failed atomic.Int64
}

func (f *failing) Train(ctx context.Context, p tasks.TrainPayload) (tasks.TrainResult, error) {
	if strings.HasPrefix(p.Genome, "5") {
		f.failed.Add(1)
		return tasks.TrainResult{}, fmt.Errorf("refusing %s: %w", p.Genome, runner.SkipRetry)
	}
	return f.StaticEvaluator.Train(ctx, p)
}

// harness is one queue, one database and one in-process worker.
type harness struct {
	db     *storage.DB
	broker *runner.Broker
}

func newHarness(t *testing.T, ev tasks.Evaluator) *harness {
	t.Helper()
	return newHarnessOn(t, ev, runner.Options{})
}

// newHarnessOn is newHarness on the queue of opts.
func newHarnessOn(t *testing.T, ev tasks.Evaluator, opts runner.Options) *harness {
	t.Helper()
	ctx := context.Background()
	b, err := runner.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "lineage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &tasks.Handlers{Evaluator: ev, Reports: b, Worker: "test-worker"}
	w, err := b.NewWorker(h.Handler(), runner.WorkerOptions{Concurrency: 2,
		Queues: map[string]int{tasks.QueueEvolve: 3, tasks.QueueTrain: 2}, TaskCheckInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return &harness{db: db, broker: b}
}

func (h *harness) coordinator(t *testing.T, progress func(pipeline.Progress)) *pipeline.Coordinator {
	t.Helper()
	co, err := pipeline.New(pipeline.Options{DB: h.db, Broker: h.broker, Progress: progress,
		ReconcileEvery: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// lineage is every candidate of a run as "generation/index genome operator
// parents status", in order, and the final population's genomes.
func lineage(t *testing.T, db *storage.DB, run string) (cands []string, final []string) {
	t.Helper()
	ctx := context.Background()
	all, err := db.ListCandidates(ctx, run, -1)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.Candidate{}
	for _, c := range all {
		rel := make([]string, len(c.Parents))
		for i, p := range c.Parents {
			rel[i] = strings.TrimPrefix(p, run+"/")
		}
		cands = append(cands, fmt.Sprintf("%d/%d %s %s %v %s", c.Generation, c.Index, c.Genome, c.Operator, rel, c.Status))
		byID[c.ID] = c
	}
	gens, err := db.ListGenerations(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range gens[len(gens)-1].Population {
		final = append(final, byID[id].Genome)
	}
	return cands, final
}

func TestSearchRecordsWholeLineage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, tasks.StaticEvaluator{})
	co := h.coordinator(t, nil)
	cfg := staticConfig(t, 7)
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	r, err := h.db.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.RunFinished {
		t.Fatalf("run status %s (%s), want finished", r.Status, r.Error)
	}
	all, err := h.db.ListCandidates(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.Population * (cfg.Generations + 1); len(all) != want {
		t.Fatalf("%d candidates, want %d", len(all), want)
	}
	ids := map[string]bool{}
	for _, c := range all {
		ids[c.ID] = true
	}
	for _, c := range all {
		if c.Status != storage.CandEvaluated || c.Objectives["params"] <= 0 || c.Objectives["cache_bytes"] < 0 {
			t.Errorf("%s: status %s objectives %v", c.ID, c.Status, c.Objectives)
		}
		switch {
		case c.Generation == 0 && c.Operator != storage.OpSeed && c.Operator != storage.OpRandom:
			t.Errorf("%s: generation 0 made by %s", c.ID, c.Operator)
		case c.Generation > 0 && len(c.Parents) == 0:
			t.Errorf("%s: no parents (operator %s)", c.ID, c.Operator)
		}
		for _, p := range c.Parents {
			if !ids[p] {
				t.Errorf("%s: parent %s is not in the lineage", c.ID, p)
			}
		}
	}
	seeds := 0
	for _, c := range all {
		if c.Operator == storage.OpSeed {
			seeds++
		}
	}
	if seeds != 2 {
		t.Errorf("%d seed candidates, want 2 (transformer++, striped)", seeds)
	}
	gens, err := h.db.ListGenerations(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != cfg.Generations+1 {
		t.Fatalf("%d generations recorded, want %d", len(gens), cfg.Generations+1)
	}
	for _, g := range gens {
		if g.Status != storage.GenDone || len(g.Population) != cfg.Population || g.Hypervolume == nil {
			t.Errorf("generation %d: status %s, population %d, hypervolume %v", g.Index, g.Status, len(g.Population), g.Hypervolume)
		}
	}
	open, err := h.db.ListTaskStates(ctx, id, storage.TaskPending, storage.TaskEnqueued, storage.TaskRunning)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("%d DAG nodes left unfinished, first %s", len(open), open[0].ID)
	}
}

// A coordinator stopped part-way and a new one on the same database and
// queue end with the lineage and final population of an uninterrupted run
// of the same seed.
func TestInterruptedDriveEndsLikeUninterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := newHarness(t, tasks.StaticEvaluator{})
	co := ref.coordinator(t, nil)
	refID, err := co.Submit(ctx, staticConfig(t, 11))
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, refID); err != nil {
		t.Fatal(err)
	}
	wantCands, wantFinal := lineage(t, ref.db, refID)

	h := newHarness(t, tasks.StaticEvaluator{})
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	first := h.coordinator(t, func(p pipeline.Progress) {
		if p.Generation >= 1 && p.Done >= 2 {
			stop()
		}
	})
	id, err := first.Submit(ctx, staticConfig(t, 11))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Drive(stopCtx, id); err == nil {
		if r, _ := h.db.GetRun(ctx, id); r.Status == storage.RunFinished {
			t.Fatal("the first coordinator finished the run before it was stopped")
		}
	}
	if err := h.coordinator(t, nil).Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	gotCands, gotFinal := lineage(t, h.db, id)
	if !slices.Equal(gotCands, wantCands) {
		t.Errorf("lineage differs from the uninterrupted run:\n got %v\nwant %v", gotCands, wantCands)
	}
	if !slices.Equal(gotFinal, wantFinal) {
		t.Errorf("final population %v, uninterrupted run %v", gotFinal, wantFinal)
	}
}

// Candidates whose training fails are recorded as failed with the error and
// ranked as dominated; the run still finishes.
func TestFailedCandidatesDoNotStopTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := &failing{}
	h := newHarness(t, ev)
	co := h.coordinator(t, nil)
	cfg := staticConfig(t, 3)
	cfg.Seeds = []string{"51111-91111-51111-91111", "transformer++"}
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	r, err := h.db.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.RunFinished {
		t.Fatalf("run status %s (%s), want finished", r.Status, r.Error)
	}
	if ev.failed.Load() == 0 {
		t.Fatal("no training failed: the test exercises nothing")
	}
	all, err := h.db.ListCandidates(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, c := range all {
		isRec := strings.HasPrefix(c.Genome, "5")
		switch {
		case isRec && (c.Status != storage.CandFailed || !strings.Contains(c.Error, "refusing")):
			t.Errorf("%s (%s): status %s, error %q; want failed with the evaluator's error", c.ID, c.Genome, c.Status, c.Error)
		case !isRec && c.Status != storage.CandEvaluated:
			t.Errorf("%s (%s): status %s (%s)", c.ID, c.Genome, c.Status, c.Error)
		}
		if isRec {
			failed++
		}
	}
	// Failed candidates rank below every evaluated one: once the
	// population holds enough evaluated candidates, none survives.
	gens, err := h.db.ListGenerations(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.Candidate{}
	for _, c := range all {
		byID[c.ID] = c
	}
	last := gens[len(gens)-1]
	evaluated := 0
	for _, c := range all {
		if c.Status == storage.CandEvaluated {
			evaluated++
		}
	}
	if evaluated >= cfg.Population {
		for _, pid := range last.Population {
			if byID[pid].Status == storage.CandFailed {
				t.Errorf("failed candidate %s survived into the final population", pid)
			}
		}
	}
	t.Logf("%d of %d candidates failed", failed, len(all))
}

// A generation 0 whose every candidate fails leaves nothing to evolve
// from: the run fails with the common error instead of going on.
func TestAllFailedFirstGenerationFailsTheRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, &failing{})
	cfg := staticConfig(t, 4)
	cfg.Search.Classes, cfg.Seeds = []int{5}, nil // every genome starts with Rec-1: every training fails
	co := h.coordinator(t, nil)
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = co.Drive(ctx, id)
	r, gerr := h.db.GetRun(ctx, id)
	if gerr != nil {
		t.Fatal(gerr)
	}
	if err == nil || r.Status != storage.RunFailed || !strings.Contains(r.Error, "every candidate of generation 0 failed") ||
		!strings.Contains(r.Error, "with: training: refusing 5") {
		t.Fatalf("drive: %v; run %s: %q", err, r.Status, r.Error)
	}
	if gens, _ := h.db.ListGenerations(ctx, id); len(gens) != 1 || gens[0].Status == storage.GenDone {
		t.Errorf("generations after the failure: %+v", gens)
	}
}
