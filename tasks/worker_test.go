package tasks

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/runner"
)

// reports keeps the report jobs a handler enqueues.
type reports struct {
	mu   sync.Mutex
	jobs []runner.Job
}

func (r *reports) EnqueueOnce(_ context.Context, job runner.Job) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, job)
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
	n := Node{Run: "r1", Stage: StageTrain, Index: 2}
	p := TrainPayload{Node: n, Genome: "11111-92121-13131-94141-15151-96161-17171-98181",
		Config: string(yaml), Checkpoint: t.TempDir()}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	rep := &reports{}
	h := &Handlers{Evaluator: StaticEvaluator{}, Reports: rep, Worker: "host-a:7"}
	if err := h.Handler()(context.Background(), &runner.Delivery{Kind: StageTrain.Kind(), ID: n.ID(), Payload: data}); err != nil {
		t.Fatal(err)
	}
	if len(rep.jobs) != 1 {
		t.Fatalf("%d reports, want 1", len(rep.jobs))
	}
	r, err := DecodeReport(rep.jobs[0].Payload)
	if err != nil {
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
