package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// A paused run is not taken up. Paused while a long-lived coordinator
// drives it, it gets no new work, the tasks already queued finish and are
// recorded, and resumed it ends like an uninterrupted run.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	ref := newHarness(t, tasks.StaticEvaluator{})
	refID, err := pipeline.Submit(ctx, ref.db, staticConfig(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.coordinator(t, nil).Drive(ctx, refID); err != nil {
		t.Fatal(err)
	}
	wantCands, wantFinal := lineage(t, ref.db, refID)

	h := newHarness(t, tasks.StaticEvaluator{})
	id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.db.PauseRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := h.coordinator(t, nil).Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r, _ := h.db.GetRun(ctx, id); r.Status != storage.RunPaused {
		t.Fatalf("driving a paused run left it %s", r.Status)
	}
	if gens, _ := h.db.ListGenerations(ctx, id); len(gens) != 0 {
		t.Fatalf("a paused run was started: %d generations", len(gens))
	}

	// A long-lived coordinator; the run is paused in generation 1.
	done := func() int {
		ts, err := h.db.ListTaskStates(ctx, id, storage.TaskDone)
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	var doneAtPause atomic.Int64 // set by the driving goroutine
	doneAtPause.Store(-1)
	co, err := pipeline.New(pipeline.Options{DB: h.db, Broker: h.broker, ReconcileEvery: 50 * time.Millisecond,
		Discover: func(ctx context.Context) ([]string, error) {
			runs, err := h.db.ListRuns(ctx, storage.RunPending, storage.RunRunning)
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			return ids, err
		},
		Progress: func(p pipeline.Progress) {
			if doneAtPause.Load() < 0 && p.Generation == 1 && p.Done >= 2 {
				if err := h.db.PauseRun(ctx, id); err != nil {
					t.Error(err)
				}
				doneAtPause.Store(int64(done()))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	driveCtx, stop := context.WithCancel(ctx)
	driven := make(chan error, 1)
	go func() { driven <- co.Drive(driveCtx) }()
	defer func() {
		stop()
		if err := <-driven; !errors.Is(err, context.Canceled) {
			t.Errorf("Drive = %v, want context.Canceled", err)
		}
	}()
	if err := h.db.ResumeRun(ctx, id); err != nil {
		t.Fatal(err)
	}

	// Paused: every queued task reports, and nothing new is queued.
	waitFor(t, "the tasks queued before the pause to be recorded", func() bool {
		open, err := h.db.ListTaskStates(ctx, id, storage.TaskEnqueued, storage.TaskRunning)
		if err != nil {
			t.Fatal(err)
		}
		return doneAtPause.Load() >= 0 && len(open) == 0
	})
	r, _ := h.db.GetRun(ctx, id)
	if r.Status != storage.RunPaused || r.CurrentGeneration != 1 {
		t.Fatalf("run %s at generation %d, want paused at 1", r.Status, r.CurrentGeneration)
	}
	if n := int64(done()); n <= doneAtPause.Load() {
		t.Errorf("%d nodes done after the pause, %d at it: the queued tasks' reports were not recorded", n, doneAtPause.Load())
	}

	if err := h.db.ResumeRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resumed run to finish", func() bool {
		r, err := h.db.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status == storage.RunFinished
	})
	gotCands, gotFinal := lineage(t, h.db, id)
	if !slices.Equal(gotCands, wantCands) {
		t.Errorf("lineage differs from the uninterrupted run:\n got %v\nwant %v", gotCands, wantCands)
	}
	if !slices.Equal(gotFinal, wantFinal) {
		t.Errorf("final population %v, uninterrupted run %v", gotFinal, wantFinal)
	}
}

// waitFor polls cond until it holds, failing the test after 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
