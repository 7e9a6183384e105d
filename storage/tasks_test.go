package storage

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTaskStates(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	created := time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)
	train := TaskState{ID: "r1/g000/train/0000", RunID: "r1", Generation: 0, Stage: "train", Index: 0,
		Kind: "star:train", Queue: "star-train", Created: created}
	retrain := TaskState{ID: "r1/g000/train/0000/a1", RunID: "r1", Generation: 0, Stage: "train", Index: 0, Attempt: 1,
		Kind: "star:train", Queue: "star-gpu", Status: TaskEnqueued, Attempts: 2, LastError: "lost", Created: created, Updated: created.Add(time.Second)}
	n, err := db.AddTaskStates(ctx, train, retrain)
	if err != nil || n != 2 {
		t.Fatalf("AddTaskStates = %d, %v", n, err)
	}
	got, err := db.GetTaskState(ctx, retrain.ID)
	if err != nil || !reflect.DeepEqual(got, retrain) {
		t.Errorf("got  %+v, %v\nwant %+v", got, err, retrain)
	}
	got, _ = db.GetTaskState(ctx, train.ID)
	train.Status, train.Updated = TaskPending, created
	if !reflect.DeepEqual(got, train) {
		t.Errorf("got  %+v\nwant %+v", got, train)
	}
	// Recording the DAG again is harmless and changes nothing.
	train2 := train
	train2.Queue = "elsewhere"
	if n, err := db.AddTaskStates(ctx, train2); err != nil || n != 0 {
		t.Errorf("re-adding = %d, %v", n, err)
	}
	if got, _ := db.GetTaskState(ctx, train.ID); got.Queue != "star-train" {
		t.Error("re-adding replaced the node")
	}

	if err := db.SetTaskStatus(ctx, train.ID, TaskEnqueued, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTaskStatus(ctx, train.ID, TaskRunning, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTaskStatus(ctx, train.ID, TaskRunning, "lease expired"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetTaskState(ctx, train.ID)
	if got.Status != TaskRunning || got.Attempts != 2 || got.LastError != "lease expired" || !got.Updated.After(created) {
		t.Errorf("after two starts: %+v", got)
	}
	if err := db.SetTaskStatus(ctx, retrain.ID, TaskDone, ""); err != nil {
		t.Fatal(err)
	}
	open, err := db.ListTaskStates(ctx, "r1", Unfinished...)
	if err != nil || len(open) != 1 || open[0].ID != train.ID {
		t.Errorf("unfinished = %+v, %v", open, err)
	}
	all, err := db.ListTaskStates(ctx, "r1")
	if err != nil || len(all) != 2 || all[0].ID != train.ID {
		t.Errorf("all = %+v, %v", all, err)
	}

	if err := db.SetTaskStatus(ctx, "nope", TaskDone, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetTaskStatus(missing) = %v", err)
	}
	if err := db.SetTaskStatus(ctx, train.ID, "odd", ""); err == nil {
		t.Error("unknown status accepted")
	}
	if _, err := db.GetTaskState(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetTaskState(missing) = %v", err)
	}
	if _, err := db.AddTaskStates(ctx, TaskState{ID: "x", RunID: "nope", Kind: "k", Queue: "q"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddTaskStates(missing run) = %v", err)
	}
	if _, err := db.AddTaskStates(ctx, TaskState{ID: "x", RunID: "r1"}); err == nil {
		t.Error("node without kind and queue accepted")
	}
}

func TestTaskResults(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	if err := db.CreateRun(ctx, testRun("r")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddTaskStates(ctx, TaskState{ID: "r/g001/mutate/0000", RunID: "r", Generation: 1, Stage: "mutate", Kind: "star:mutate", Queue: "q"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TaskResult(ctx, "r/g001/mutate/0000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("result before finish: %v", err)
	}
	if err := db.FinishTask(ctx, "r/g001/mutate/0000", TaskRunning, nil, ""); err == nil {
		t.Error("finishing with a non-terminal status succeeded")
	}
	want := json.RawMessage(`{"genome":"11111-91111"}`)
	if err := db.FinishTask(ctx, "r/g001/mutate/0000", TaskDone, want, ""); err != nil {
		t.Fatal(err)
	}
	got, err := db.TaskResult(ctx, "r/g001/mutate/0000")
	if err != nil || string(got) != string(want) {
		t.Errorf("result = %s, %v", got, err)
	}
	if ts, err := db.GetTaskState(ctx, "r/g001/mutate/0000"); err != nil || ts.Status != TaskDone {
		t.Errorf("state = %+v, %v", ts, err)
	}
	if err := db.FinishTask(ctx, "missing", TaskDone, nil, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("finishing a missing task: %v", err)
	}
}
