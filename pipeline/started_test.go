package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// gated is the static evaluator whose training waits for the test: each
// Train call announces itself on started and returns when release closes.
type gated struct {
	tasks.StaticEvaluator
	started chan string
	release chan struct{}
}

func (g *gated) Train(ctx context.Context, p tasks.TrainPayload) (tasks.TrainResult, error) {
	select {
	case g.started <- p.Candidate:
	case <-ctx.Done():
		return tasks.TrainResult{}, ctx.Err()
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return tasks.TrainResult{}, ctx.Err()
	}
	return g.StaticEvaluator.Train(ctx, p)
}

// A candidate shows as training, in the lineage and in the progress
// lines, from the moment a worker starts its training task, not only once
// the training has ended.
func TestCandidateTrainingWhileTrainRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev := &gated{started: make(chan string, 16), release: make(chan struct{})}
	h := newHarness(t, ev)
	var mu sync.Mutex
	var progress []pipeline.Progress
	co := h.coordinator(t, func(p pipeline.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	})
	cfg := staticConfig(t, 2)
	cfg.Generations = 1
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	driven := make(chan error, 1)
	go func() { driven <- co.Drive(ctx, id) }()

	var first string
	select {
	case first = <-ev.started:
	case err := <-driven:
		t.Fatalf("Drive ended before any training started: %v", err)
	case <-ctx.Done():
		t.Fatal("no training started")
	}
	// Poll with a deadline: the started report crosses the control queue.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := h.db.GetCandidate(context.Background(), first)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == storage.CandTraining {
			if c.Worker != "test-worker" || c.Started.IsZero() {
				t.Errorf("%s training on worker %q since %v; want test-worker and a start time", first, c.Worker, c.Started)
			}
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("%s is %s while its training runs; want training", first, c.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, _ := h.db.GetCandidate(context.Background(), first)
	node := tasks.Node{Run: id, Generation: c.Generation, Stage: tasks.StageTrain, Index: c.Index}.ID()
	if ts, err := h.db.GetTaskState(context.Background(), node); err != nil || ts.Status != storage.TaskRunning || ts.Attempts != 1 {
		t.Errorf("train node %s: %+v, %v; want running, attempt 1", node, ts, err)
	}
	// The progress line that counts it may come a moment after the
	// lineage records it (the training stays gated meanwhile).
	sawTraining := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range progress {
			if p.Training > 0 {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !sawTraining(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Error("no progress line counted a candidate training")
			break
		}
	}

	close(ev.release)
	go func() { // the other trainings announce themselves too
		for {
			select {
			case <-ev.started:
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := <-driven; err != nil {
		t.Fatal(err)
	}
	all, err := h.db.ListCandidates(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.Status != storage.CandEvaluated {
			t.Errorf("%s ended %s (%s); a late started report must not undo a result", c.ID, c.Status, c.Error)
		}
	}
}

// failingOnce is gated's training, failing (retriably) once released.
type failingOnce struct{ gated }

func (f *failingOnce) Train(ctx context.Context, p tasks.TrainPayload) (tasks.TrainResult, error) {
	select {
	case f.started <- p.Candidate:
	case <-ctx.Done():
		return tasks.TrainResult{}, ctx.Err()
	}
	select {
	case <-f.release:
	case <-ctx.Done():
		return tasks.TrainResult{}, ctx.Err()
	}
	return tasks.TrainResult{}, errors.New("flaky file system")
}

// A training attempt that fails and waits for its retry is not training:
// the worker says the node went back to the queue, and the coordinator
// moves it back to enqueued, so that progress and status stop counting it.
func TestRetriedTrainingIsNotTraining(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := runner.Open(ctx, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "lineage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ev := &failingOnce{gated{started: make(chan string, 16), release: make(chan struct{})}}
	hd := &tasks.Handlers{Evaluator: ev, Reports: b, Worker: "test-worker"}
	w, err := b.NewWorker(hd.Handler(), runner.WorkerOptions{Concurrency: 1,
		Queues: map[string]int{tasks.QueueEvolve: 3, tasks.QueueTrain: 2}, TaskCheckInterval: 20 * time.Millisecond,
		RetryDelay: func(int, error) time.Duration { return time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	co, err := pipeline.New(pipeline.Options{DB: db, Broker: b, ReconcileEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cfg := staticConfig(t, 4)
	cfg.Generations = 0
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = co.Drive(ctx, id) }()

	cand := <-ev.started
	c, err := db.GetCandidate(ctx, cand)
	if err != nil {
		t.Fatal(err)
	}
	node := tasks.Node{Run: id, Generation: c.Generation, Stage: tasks.StageTrain, Index: c.Index}.ID()
	waitFor := func(want storage.TaskStatus) storage.TaskState {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ts, err := db.GetTaskState(context.Background(), node)
			if err != nil {
				t.Fatal(err)
			}
			if ts.Status == want {
				return ts
			}
			if time.Now().After(deadline) {
				t.Fatalf("train node %s is %s, want %s", node, ts.Status, want)
			}
		}
	}
	waitFor(storage.TaskRunning)
	close(ev.release)
	ts := waitFor(storage.TaskEnqueued)
	if ts.Attempts != 1 || !strings.Contains(ts.LastError, "flaky file system") {
		t.Errorf("requeued node: %+v; want 1 attempt and the attempt's error", ts)
	}
}

// Trainings shorter than the announcement delay send no started note:
// fast tasks keep the control queue to their reports.
func TestFastTrainingsAreNotAnnounced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, tasks.StaticEvaluator{})
	cfg := staticConfig(t, 9)
	cfg.Generations = 1
	id, err := h.coordinator(t, nil).Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.coordinator(t, nil).Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	nodes, err := h.db.ListTaskStates(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range nodes {
		if ts.Stage == string(tasks.StageTrain) && ts.Attempts != 0 {
			t.Errorf("train node %s was announced (%d attempts recorded) though it took milliseconds", ts.ID, ts.Attempts)
		}
	}
}
