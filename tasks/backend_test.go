package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/model"
)

// fakeBackend stands in for a GoMLX backend: only its short name (String) and Finalize
// are used by the evaluator's choice of backend.
type fakeBackend struct {
	compute.Backend
	name      string
	finalized bool
}

func (f *fakeBackend) String() string { return f.name }
func (f *fakeBackend) Finalize()      { f.finalized = true }

// recordingFactory returns a NewBackend that records the specs it is asked
// for and fails for those in refuse.
func recordingFactory(refuse ...string) (func(string) (compute.Backend, error), *[]string) {
	var mu sync.Mutex
	var asked []string
	return func(spec string) (compute.Backend, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, spec)
		if slices.Contains(refuse, spec) {
			return nil, errors.New("unknown backend (xla needs -tags xla)")
		}
		name, _, _ := strings.Cut(spec, ":")
		return &fakeBackend{name: name}, nil
	}, &asked
}

// Without a backend of its own, the evaluator trains each run on the
// backend its run config names, created once per spec and shared.
func TestRunConfigChoosesBackend(t *testing.T) {
	t.Parallel()
	factory, asked := recordingFactory()
	e := &TrainerEvaluator{NewBackend: factory}
	a, err := e.backendFor("xla:/opt/plugin.so")
	if err != nil || a.String() != "xla" {
		t.Fatalf("backendFor(xla:/opt/plugin.so) = %v, %v", a, err)
	}
	again, _ := e.backendFor("xla:/opt/plugin.so")
	g, err := e.backendFor("")
	if err != nil || g.String() != "go" {
		t.Fatalf("backendFor(\"\") = %v, %v; want the config default, go", g, err)
	}
	if again != a || !slices.Equal(*asked, []string{"xla:/opt/plugin.so", "go"}) {
		t.Errorf("created %v (same backend reused: %v), want one backend per spec", *asked, again == a)
	}
	e.Close()
	if !a.(*fakeBackend).finalized || !g.(*fakeBackend).finalized {
		t.Error("Close left backends it created unfinalized")
	}
}

// A worker's own backend (--backend, $GOMLX_BACKEND) wins over the run
// config's, with one warning per disagreeing spec; the evaluator does not
// finalize a backend it was given.
func TestWorkerBackendWins(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	own := &fakeBackend{name: "go"}
	e := &TrainerEvaluator{Backend: own, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		NewBackend: func(spec string) (compute.Backend, error) {
			t.Errorf("created a backend for %q although the worker has its own", spec)
			return nil, errors.New("unexpected")
		}}
	for _, spec := range []string{"xla", "xla", "go", "auto", ""} {
		b, err := e.backendFor(spec)
		if err != nil || b != own {
			t.Fatalf("backendFor(%q) = %v, %v; want the worker's", spec, b, err)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), `run_backend=xla`) {
		t.Errorf("want one warning naming the run's xla, got:\n%s", logs.String())
	}
	e.Close()
	if own.finalized {
		t.Error("Close finalized the worker's own backend")
	}
}

// Train and Evaluate read the run config's backend: a backend this worker
// cannot create fails the task with a message that says what to do, before
// anything is trained.
func TestTrainUsesRunConfigBackend(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Backend = "xla"
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	factory, asked := recordingFactory("xla")
	e := &TrainerEvaluator{NewBackend: factory}
	g := "11111-92121-13131-94141-15151-96161-17171-98181"
	ctx := context.Background()
	_, err = e.Train(ctx, TrainPayload{Genome: g, Config: string(y), Checkpoint: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `backend "xla"`) || !strings.Contains(err.Error(), "--backend") {
		t.Errorf("Train on a run asking for xla: %v", err)
	}
	_, err = e.Evaluate(ctx, EvaluatePayload{Genome: g, Config: string(y), Checkpoint: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `backend "xla"`) {
		t.Errorf("Evaluate on a run asking for xla: %v", err)
	}
	if len(*asked) == 0 || (*asked)[0] != "xla" {
		t.Errorf("backends asked for: %v, want the run config's xla", *asked)
	}
}

// A tiny real training and evaluation: the run config's backend trains it,
// and the metrics name what they measure: the trained model's own
// parameters and vocabulary (not the params objective's), training and
// forward throughput under distinct names.
func TestTrainerMetricsNames(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	t.Parallel()
	y := runConfig(t, `
objectives: [mad_score, params, latency]
algorithm: {crossover_points: 1}
search: {depth: 2, width: 16, classes: [1, 9]}
seeds: [transformer++]
training: {steps: 2, batch_size: 4, checkpoint_every: 0}
quality:
  mad: [{name: in_context_recall, vocab: 16, length: 16, train_examples: 16, test_examples: 8}]
backend: go
`)
	factory, asked := recordingFactory()
	var own compute.Backend
	e := &TrainerEvaluator{NewBackend: func(spec string) (compute.Backend, error) {
		_, _ = factory(spec)
		b, err := model.NewBackend(spec)
		own = b
		return b, err
	}}
	defer e.Close()
	g := "11111-92121"
	tr, ev := trainAndEvaluate(t, e, y, g, 1, t.TempDir())
	if !slices.Equal(*asked, []string{"go"}) || own == nil {
		t.Errorf("backends created: %v; want the run config's go, once", *asked)
	}
	var train struct {
		Backend string                       `json:"backend"`
		TPS     float64                      `json:"train_tokens_per_s"`
		Jobs    []map[string]json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(tr.Metrics, &train); err != nil {
		t.Fatal(err)
	}
	if train.Backend != "go" || !(train.TPS > 0) || len(train.Jobs) != 1 {
		t.Fatalf("train metrics %s", tr.Metrics)
	}
	job := train.Jobs[0]
	for _, k := range []string{"trained_params", "trained_vocab", "train_tokens_per_s"} {
		if _, ok := job[k]; !ok {
			t.Errorf("train job metrics lack %s: %s", k, tr.Metrics)
		}
	}
	for _, k := range []string{"params", "tokens_per_s"} {
		if _, ok := job[k]; ok {
			t.Errorf("train job metrics keep the ambiguous %s: %s", k, tr.Metrics)
		}
	}
	if string(job["trained_vocab"]) != "16" {
		t.Errorf("trained_vocab %s, want the MAD task's 16", job["trained_vocab"])
	}
	var params int64
	_ = json.Unmarshal(job["trained_params"], &params)
	if params <= 0 || float64(params) == ev.Objectives[config.Params] {
		t.Errorf("trained_params %d beside the params objective %v: want the task model's smaller count", params, ev.Objectives[config.Params])
	}
	if !strings.Contains(string(ev.Metrics), `"forward_tokens_per_s"`) || strings.Contains(string(ev.Metrics), `"tokens_per_s"`) {
		t.Errorf("eval metrics %s: want forward_tokens_per_s", ev.Metrics)
	}
}
