package storage

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCandidateRoundTrip(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	p1 := Candidate{RunID: "r1", Generation: 0, Index: 0, Genome: "11111-91111", GenomeHash: "h1", Operator: OpSeed, Seed: 3}
	p2 := Candidate{RunID: "r1", Generation: 0, Index: 1, Genome: "51111-91111", GenomeHash: "h2", Operator: OpRandom, Seed: math.MaxUint64}
	child := Candidate{ID: "custom-id", RunID: "r1", Generation: 1, Index: 0, Genome: "11111-91111", GenomeHash: "h1",
		Parents: []string{CandidateID("r1", 0, 1), CandidateID("r1", 0, 0)}, Operator: OpCrossMut, Seed: 9,
		Status: CandEvaluated, Objectives: map[string]float64{"mad_score": 0.25, "params": 12345},
		Metrics: json.RawMessage(`{"acc":[0.5,0.75]}`), Error: "", Queued: t0, Started: t0.Add(time.Second),
		Finished: t0.Add(time.Minute), TrainSeconds: 59.5, Checkpoint: "artifacts/x.ckpt", Worker: "w1"}
	if err := db.AddCandidates(ctx, p1, p2, child); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetCandidate(ctx, "custom-id")
	if err != nil || !reflect.DeepEqual(got, child) {
		t.Errorf("got  %+v, %v\nwant %+v", got, err, child)
	}
	p1.ID, p1.Status = CandidateID("r1", 0, 0), CandPending
	if got, _ := db.GetCandidate(ctx, p1.ID); !reflect.DeepEqual(got, p1) {
		t.Errorf("got  %+v\nwant %+v", got, p1)
	}
	if p1.ID != "r1/g000/c0000" {
		t.Errorf("CandidateID = %q", p1.ID)
	}

	all, err := db.ListCandidates(ctx, "r1", -1)
	if err != nil || len(all) != 3 || all[2].ID != "custom-id" || all[1].Seed != math.MaxUint64 {
		t.Errorf("ListCandidates(all) = %+v, %v", all, err)
	}
	g0, err := db.ListCandidates(ctx, "r1", 0)
	if err != nil || len(g0) != 2 {
		t.Errorf("ListCandidates(0) = %d, %v", len(g0), err)
	}
	same, err := db.FindCandidates(ctx, "r1", "h1")
	if err != nil || len(same) != 2 || same[0].Generation != 0 {
		t.Errorf("FindCandidates(h1) = %+v, %v", same, err)
	}
	counts, err := db.CountCandidates(ctx, "r1", 0)
	if err != nil || !reflect.DeepEqual(counts, map[CandidateStatus]int{CandPending: 2}) {
		t.Errorf("CountCandidates = %v, %v", counts, err)
	}

	// Failures leave nothing behind: the batch is one transaction.
	dup := Candidate{RunID: "r1", Generation: 2, Index: 0, Genome: "g", GenomeHash: "h", Operator: OpMutation}
	cases := map[string]struct {
		batch []Candidate
		want  error
	}{
		"duplicate id":       {[]Candidate{dup, p2}, ErrExists},
		"duplicate position": {[]Candidate{dup, {ID: "other", RunID: "r1", Generation: 2, Index: 0, Operator: OpSeed}}, ErrExists},
		"missing run":        {[]Candidate{dup, {RunID: "nope", Operator: OpSeed}}, ErrNotFound},
		"missing parent":     {[]Candidate{dup, {RunID: "r1", Generation: 2, Index: 1, Operator: OpMutation, Parents: []string{"ghost"}}}, ErrNotFound},
	}
	for name, tc := range cases {
		if err := db.AddCandidates(ctx, tc.batch...); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if _, err := db.GetCandidate(ctx, CandidateID("r1", 2, 0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: partial batch stored", name)
		}
	}
	for name, c := range map[string]Candidate{
		"no operator": {RunID: "r1", Generation: 3},
		"bad status":  {RunID: "r1", Generation: 3, Operator: OpSeed, Status: "odd"},
		"NaN":         {RunID: "r1", Generation: 3, Operator: OpSeed, Objectives: map[string]float64{"perplexity": math.NaN()}},
		"bad metrics": {RunID: "r1", Generation: 3, Operator: OpSeed, Metrics: json.RawMessage(`{`)},
	} {
		if err := db.AddCandidates(ctx, c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := db.GetCandidate(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCandidate(missing) = %v", err)
	}
}

func TestCandidateLifecycle(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	c := Candidate{RunID: "r1", Generation: 0, Index: 0, Genome: "11111-91111", GenomeHash: "gh", Operator: OpSeed}
	if err := db.AddCandidates(ctx, c); err != nil {
		t.Fatal(err)
	}
	id := CandidateID("r1", 0, 0)
	tq := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.MarkCandidateQueued(ctx, id, tq); err != nil {
		t.Fatal(err)
	}
	if err := db.StartCandidate(ctx, id, "worker-7", tq.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ := db.GetCandidate(ctx, id)
	if got.Status != CandTraining || got.Worker != "worker-7" || !got.Queued.Equal(tq) || !got.Started.Equal(tq.Add(time.Second)) {
		t.Errorf("training: %+v", got)
	}
	res := Result{Objectives: map[string]float64{"mad_score": 0.5, "params": 100}, Metrics: json.RawMessage(`{"loss":1.25}`),
		TrainSeconds: 3.5, Checkpoint: "ck/0", ConfigHash: "cfg"}
	if err := db.CompleteCandidate(ctx, id, res); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetCandidate(ctx, id)
	if got.Status != CandEvaluated || !reflect.DeepEqual(got.Objectives, res.Objectives) || got.Worker != "worker-7" ||
		got.Finished.IsZero() || got.TrainSeconds != 3.5 || got.Checkpoint != "ck/0" || string(got.Metrics) != `{"loss":1.25}` {
		t.Errorf("evaluated: %+v", got)
	}
	e, err := db.LookupEvaluation(ctx, "gh", "cfg")
	if err != nil || !reflect.DeepEqual(e.Objectives, res.Objectives) || e.CandidateID != id {
		t.Errorf("cache entry: %+v, %v", e, err)
	}
	// A second evaluation of the same genome keeps the first cache entry.
	res2 := res
	res2.Objectives = map[string]float64{"mad_score": 0.9}
	if err := db.CompleteCandidate(ctx, id, res2); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.LookupEvaluation(ctx, "gh", "cfg"); e.Objectives["mad_score"] != 0.5 {
		t.Errorf("cache entry replaced: %+v", e)
	}
	if err := db.CompleteCandidate(ctx, id, Result{Objectives: map[string]float64{"perplexity": math.Inf(1)}}); err == nil ||
		!strings.Contains(err.Error(), "failed") {
		t.Errorf("infinite objective: %v", err)
	}

	if err := db.ResetCandidate(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetCandidate(ctx, id)
	want := c
	want.ID, want.Status = id, CandPending
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reset: %+v\nwant %+v", got, want)
	}
	if err := db.FailCandidate(ctx, id, "loss is NaN"); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetCandidate(ctx, id)
	if got.Status != CandFailed || got.Error != "loss is NaN" || got.Finished.IsZero() {
		t.Errorf("failed: %+v", got)
	}
	counts, _ := db.CountCandidates(ctx, "r1", 0)
	if counts[CandFailed] != 1 || len(counts) != 1 {
		t.Errorf("counts = %v", counts)
	}
	for name, err := range map[string]error{
		"queued":   db.MarkCandidateQueued(ctx, "nope", tq),
		"start":    db.StartCandidate(ctx, "nope", "w", tq),
		"complete": db.CompleteCandidate(ctx, "nope", res),
		"fail":     db.FailCandidate(ctx, "nope", "x"),
		"reset":    db.ResetCandidate(ctx, "nope"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s(missing) = %v", name, err)
		}
	}
}
