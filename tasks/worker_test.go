package tasks

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/star-pipeline/star-pipeline/config"
)

// reports keeps the report tasks a handler enqueues.
type reports struct {
	mu    sync.Mutex
	tasks []*asynq.Task
}

func (r *reports) EnqueueOnce(_ context.Context, t *asynq.Task, _ ...asynq.Option) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tasks = append(r.tasks, t)
	return true, nil
}

// TestTrainResultNamesWorker checks that a training's result names the
// worker, so that a coordinator that reads it from the queue after a
// restart records who trained the candidate, not "queue".
func TestTrainResultNamesWorker(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Objectives = []string{config.Params, config.CacheBytes}
	yaml, _ := c.YAML()
	p := TrainPayload{Node: Node{Run: "r1", Stage: StageTrain, Index: 2}, Genome: "11111-92121-13131-94141-15151-96161-17171-98181",
		Config: string(yaml), Checkpoint: t.TempDir()}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	task := asynq.NewTask(StageTrain.Kind(), data)
	rep := &reports{}
	h := &Handlers{Evaluator: StaticEvaluator{}, Reports: rep, Worker: "host-a:7"}
	if err := h.Mux().ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	if len(rep.tasks) != 1 {
		t.Fatalf("%d reports, want 1", len(rep.tasks))
	}
	// Outside a queue server the task has no id, which DecodeReport
	// refuses; the rest of the report is what a worker sends.
	var r Report
	if err := json.Unmarshal(rep.tasks[0].Payload(), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Worker != "host-a:7" {
		t.Errorf("report = %+v", r)
	}
	if got := ResultWorker(r.Result); got != "host-a:7" {
		t.Errorf("ResultWorker(%s) = %q, want host-a:7", r.Result, got)
	}
	for _, res := range []string{"", "{}", `{"checkpoint":"x"}`, "not json"} {
		if got := ResultWorker([]byte(res)); got != "queue" {
			t.Errorf("ResultWorker(%q) = %q, want queue", res, got)
		}
	}
}
