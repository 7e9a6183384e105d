package dashboard_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// finalRun drives a small static search with a final stage to the end on
// an embedded queue and returns the database and the run id.
func finalRun(t *testing.T) (*storage.DB, string) {
	t.Helper()
	ctx := context.Background()
	b, err := runner.Open(ctx, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "star.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &tasks.Handlers{Evaluator: tasks.StaticEvaluator{}, Reports: b, Worker: "w"}
	w, err := b.NewWorker(h.Handler(), runner.WorkerOptions{Concurrency: 2,
		Queues: map[string]int{tasks.QueueEvolve: 1, tasks.QueueTrain: 1}, TaskCheckInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	cfg, err := config.Parse([]byte("population: 4\ngenerations: 1\nobjectives: [params, cache_bytes]\n" +
		"search: {depth: 4, width: 32}\nfinal: {top_k: 2, seeds: 2, steps: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Artifacts = t.TempDir()
	co, err := pipeline.New(pipeline.Options{DB: db, Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	id, err := co.Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	return db, id
}

func TestFinalStageSection(t *testing.T) {
	t.Parallel()
	db, id := finalRun(t)
	s, err := dashboard.New(db, dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, s, "GET", "/runs/"+id)
	if code != 200 {
		t.Fatalf("run page: %d\n%s", code, body)
	}
	for _, want := range []string{`id="final"`, "transformer&#43;&#43;", "striped", "vs striped", "final stage: ",
		"measures no quality objective"} {
		if !strings.Contains(body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	code, ctype, body := do(t, s, "GET", "/api/runs/"+id+"/report")
	var rep struct {
		Complete bool `json:"complete"`
		Rows     []struct {
			Name string `json:"name"`
		} `json:"rows"`
	}
	if code != 200 || !strings.HasPrefix(ctype, "application/json") || json.Unmarshal([]byte(body), &rep) != nil ||
		!rep.Complete || len(rep.Rows) < 2 || rep.Rows[0].Name != "transformer++" {
		t.Errorf("report API: %d %s\n%s", code, ctype, body)
	}
}

func TestReportAPIErrors(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, dashboard.Options{})
	for target, want := range map[string]int{
		"/api/runs/r-demo/report":  404, // no final stage
		"/api/runs/nowhere/report": 404,
	} {
		if code, _, body := do(t, s, "GET", target); code != want || !strings.Contains(body, "error") {
			t.Errorf("%s: %d %s, want %d", target, code, body, want)
		}
	}
	// A run without a final stage has no final section.
	if _, _, body := do(t, s, "GET", "/runs/r-demo"); strings.Contains(body, `id="final"`) {
		t.Error("a run without a final stage shows a final section")
	}
}
