package storage

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestEvaluationCache(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	in := Evaluation{GenomeHash: "g1", ConfigHash: "c1", Objectives: map[string]float64{"params": 1e6, "mad_score": 0.125},
		Metrics: json.RawMessage(`{"tasks":{"compression":0.5}}`), Created: time.Date(2026, 1, 1, 1, 1, 1, 1, time.UTC)}
	stored, err := db.PutEvaluation(ctx, in)
	if err != nil || !stored {
		t.Fatalf("PutEvaluation = %v, %v", stored, err)
	}
	got, err := db.LookupEvaluation(ctx, "g1", "c1")
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("got  %+v, %v\nwant %+v", got, err, in)
	}
	again := in
	again.Objectives = map[string]float64{"params": 1}
	if stored, err := db.PutEvaluation(ctx, again); err != nil || stored {
		t.Errorf("second put = %v, %v; want not stored", stored, err)
	}
	if got, _ := db.LookupEvaluation(ctx, "g1", "c1"); got.Objectives["params"] != 1e6 {
		t.Error("first evaluation was replaced")
	}
	if _, err := db.LookupEvaluation(ctx, "g1", "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other config = %v, want ErrNotFound", err)
	}
	if _, err := db.PutEvaluation(ctx, Evaluation{GenomeHash: "g2", ConfigHash: "c1", CandidateID: "ghost"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown candidate = %v", err)
	}
	if _, err := db.PutEvaluation(ctx, Evaluation{GenomeHash: "g2", ConfigHash: "c1", Objectives: map[string]float64{"x": math.NaN()}}); err == nil {
		t.Error("NaN accepted")
	}
}
