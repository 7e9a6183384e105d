package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// finalConfig is staticConfig with a final stage of 2 seeds over the top 3.
func finalConfig(t *testing.T, seed uint64) config.Config {
	t.Helper()
	c := staticConfig(t, seed)
	c.Final = &config.Final{TopK: 3, Steps: 40, Seeds: 2, Baselines: []string{"71111-91111-71111-91111", "striped"}}
	return c
}

// recording is the static evaluator that keeps every train payload.
type recording struct {
	tasks.StaticEvaluator
	mu       sync.Mutex
	payloads map[string]tasks.TrainPayload // by candidate id
}

func (r *recording) Train(ctx context.Context, p tasks.TrainPayload) (tasks.TrainResult, error) {
	r.mu.Lock()
	if r.payloads == nil {
		r.payloads = map[string]tasks.TrainPayload{}
	}
	r.payloads[p.Candidate] = p
	r.mu.Unlock()
	return r.StaticEvaluator.Train(ctx, p)
}

func TestFinalStage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := &recording{}
	h := newHarness(t, ev)
	cfg := finalConfig(t, 5)
	id, run := runToEnd(t, h, h.coordinator(t, nil), cfg)
	if run.CurrentGeneration != cfg.Generations {
		t.Errorf("current generation %d, want %d (the final stage is no generation of the search)", run.CurrentGeneration, cfg.Generations)
	}
	entries, err := h.db.ListFinalEntries(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Logf("entry %d %s (%s) %s source %q aliases %v", e.Index, e.Name, e.Role, e.Genome, e.Source, e.Aliases)
	}
	// Baselines first: the seed presets, then final.baselines, where
	// striped is listed again and so becomes an alias, not a second entry.
	if len(entries) < 3 || entries[0].Name != "transformer++" || entries[1].Name != "striped" || entries[2].Name != "baseline-1" {
		t.Fatalf("entries %+v", entries)
	}
	if !slices.Contains(entries[1].Aliases, "striped") {
		t.Errorf("striped listed twice should be one entry with an alias: %+v", entries[1])
	}
	hashes := map[string]bool{}
	stars := 0
	for _, e := range entries {
		if hashes[e.GenomeHash] {
			t.Errorf("architecture %s retrained twice", e.Genome)
		}
		hashes[e.GenomeHash] = true
		if e.Role == storage.RoleCandidate {
			stars++
			if !strings.HasPrefix(e.Name, "STAR-") || e.Source == "" {
				t.Errorf("candidate entry %+v", e)
			}
		}
		for _, a := range e.Aliases {
			if strings.HasPrefix(a, "STAR-") {
				stars++
			}
		}
	}
	if stars == 0 || stars > cfg.Final.TopK {
		t.Errorf("%d evolved architectures, want 1..%d", stars, cfg.Final.TopK)
	}
	// Every entry is retrained with each seed, from the same recipe: the
	// run config with the final budget.
	fg := storage.FinalGeneration(run)
	retrained, err := h.db.ListCandidates(ctx, id, fg)
	if err != nil {
		t.Fatal(err)
	}
	if len(retrained) != len(entries)*cfg.Final.Seeds {
		t.Fatalf("%d retrainings, want %d", len(retrained), len(entries)*cfg.Final.Seeds)
	}
	var recipe string
	seedsOf := map[int][]uint64{}
	for _, c := range retrained {
		e := entries[c.Index/cfg.Final.Seeds]
		if c.Status != storage.CandEvaluated || c.Genome != e.Genome || c.Operator != storage.OpFinal {
			t.Errorf("%s: %s %s %s, want evaluated retraining of %s", c.ID, c.Status, c.Genome, c.Operator, e.Genome)
		}
		if e.Source != "" && !slices.Equal(c.Parents, []string{e.Source}) {
			t.Errorf("%s: parents %v, want [%s]", c.ID, c.Parents, e.Source)
		}
		p, ok := ev.payloads[c.ID]
		if !ok {
			t.Fatalf("%s was never trained", c.ID)
		}
		if recipe == "" {
			recipe = p.Config
		}
		if p.Config != recipe {
			t.Errorf("%s trained with another recipe:\n%s\nvs\n%s", c.ID, p.Config, recipe)
		}
		seedsOf[c.Index%cfg.Final.Seeds] = append(seedsOf[c.Index%cfg.Final.Seeds], c.Seed)
	}
	rc, err := config.Parse([]byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Training.Steps != cfg.Final.Steps || rc.Final != nil {
		t.Errorf("final recipe: steps %d final %v, want steps %d", rc.Training.Steps, rc.Final, cfg.Final.Steps)
	}
	for s, seeds := range seedsOf {
		for _, x := range seeds {
			if x != seeds[0] {
				t.Errorf("seed %d differs between architectures: %v (the comparison is paired)", s, seeds)
			}
		}
	}
	if seedsOf[0][0] == seedsOf[1][0] {
		t.Error("two retraining seeds are equal")
	}
	// No final result went into the evaluation cache.
	for _, e := range entries {
		if ev, err := h.db.LookupEvaluation(ctx, e.GenomeHash, rc.Hash()); err == nil {
			t.Errorf("final result cached: %+v", ev)
		}
	}
	rep, err := study.Load(ctx, h.db, id)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || len(rep.Rows) != len(entries) || rep.Final.Trainings != len(retrained) {
		t.Errorf("report: complete %v rows %d final %+v", rep.Complete, len(rep.Rows), rep.Final)
	}
	for _, r := range rep.Rows {
		if v := r.Values["params"]; v.N != cfg.Final.Seeds || v.SD != 0 {
			t.Errorf("%s params %+v, want %d equal values", r.Name, v, cfg.Final.Seeds)
		}
	}
}

// A coordinator stopped during the final stage and a new one end with the
// same report as an uninterrupted run.
func TestInterruptedFinalStageEndsLikeUninterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := newHarness(t, tasks.StaticEvaluator{})
	co := ref.coordinator(t, nil)
	refID, err := co.Submit(ctx, finalConfig(t, 9))
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, refID); err != nil {
		t.Fatal(err)
	}
	want := reportText(t, ref.db, refID)

	h := newHarness(t, tasks.StaticEvaluator{})
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	stopped := false
	first := h.coordinator(t, func(p pipeline.Progress) {
		if p.Final && p.Done >= 1 {
			stopped = true
			stop()
		}
	})
	id, err := first.Submit(ctx, finalConfig(t, 9))
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Drive(stopCtx, id)
	if !stopped {
		t.Fatal("the first coordinator never reached the final stage")
	}
	if err := h.coordinator(t, nil).Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := reportText(t, h.db, id); got != want {
		t.Errorf("report after the interruption:\n%s\nuninterrupted:\n%s", got, want)
	}
}

// reportText is the report without the run id and timings, as JSON.
func reportText(t *testing.T, db *storage.DB, id string) string {
	t.Helper()
	rep, err := study.Load(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	rep.Run = ""
	for i := range rep.Rows {
		rep.Rows[i].Source = strings.TrimPrefix(rep.Rows[i].Source, id)
	}
	b, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) == 0 {
		t.Fatal("empty report")
	}
	return string(b)
}
