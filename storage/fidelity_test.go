package storage

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestRungEvaluationsAndCacheByRung(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	if err := db.CreateRun(ctx, testRun("r")); err != nil {
		t.Fatal(err)
	}
	a, b := CandidateID("r", 0, 0), CandidateID("r", 0, 1)
	if err := db.AddCandidates(ctx, Candidate{RunID: "r", Genome: "11111-91111", GenomeHash: "ga", Operator: OpSeed},
		Candidate{RunID: "r", Index: 1, Genome: "51111-91111", GenomeHash: "gb", Operator: OpRandom}); err != nil {
		t.Fatal(err)
	}
	low := map[string]float64{"perplexity": 20}
	high := map[string]float64{"perplexity": 12}
	if err := db.CompleteCandidate(ctx, a, Result{Objectives: low, ConfigHash: "cfg", Rung: 0, Steps: 10, CacheSteps: 10}); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteCandidate(ctx, a, Result{Objectives: high, ConfigHash: "cfg", Rung: 1, Steps: 30, CacheSteps: 0}); err != nil {
		t.Fatal(err)
	}
	c, err := db.GetCandidate(ctx, a)
	if err != nil || c.Rung != 1 || c.Steps != 30 || c.Objectives["perplexity"] != 12 || c.Status != CandEvaluated {
		t.Fatalf("candidate after two rungs: %+v, %v", c, err)
	}
	if e, err := db.LookupEvaluationAt(ctx, "ga", "cfg", 10); err != nil || e.Objectives["perplexity"] != 20 || e.Steps != 10 {
		t.Fatalf("rung 0 cache entry: %+v, %v", e, err)
	}
	if e, err := db.LookupEvaluation(ctx, "ga", "cfg"); err != nil || e.Objectives["perplexity"] != 12 {
		t.Fatalf("full-budget cache entry: %+v, %v", e, err)
	}
	if _, err := db.LookupEvaluationAt(ctx, "ga", "cfg", 20); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a rung never evaluated: %v", err)
	}
	curve := json.RawMessage(`{"losses":[5.5,5.4,5.6]}`)
	if err := db.FailCandidateAt(ctx, b, 0, 10, true, "failed early: hopeless", curve); err != nil {
		t.Fatal(err)
	}
	c, err = db.GetCandidate(ctx, b)
	if err != nil || c.Status != CandFailed || string(c.Metrics) != string(curve) || c.Steps != 10 {
		t.Fatalf("failed early: %+v, %v", c, err)
	}
	evs, err := db.ListRungEvaluations(ctx, "r", 0)
	if err != nil || len(evs) != 3 {
		t.Fatalf("rung evaluations: %+v, %v", evs, err)
	}
	if evs[0].Rung != 0 || evs[0].Steps != 10 || evs[1].Rung != 1 || evs[1].Objectives["perplexity"] != 12 ||
		evs[2].Status != "failed_early" || evs[2].Objectives != nil || string(evs[2].Metrics) != string(curve) {
		t.Fatalf("rung evaluations: %+v", evs)
	}
}
