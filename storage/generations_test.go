package storage

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

func TestGenerationRoundTrip(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	hv := 0.75
	in := Generation{RunID: "r1", Index: 3, Status: GenDone, Started: time.Unix(100, 5).UTC(),
		Finished: time.Unix(200, 0).UTC(), Hypervolume: &hv, Population: []string{"a", "b"}}
	if err := db.PutGeneration(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetGeneration(ctx, "r1", 3)
	if err != nil || !reflect.DeepEqual(got, in) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, in)
	}
	in.Status, in.Hypervolume, in.Population = GenFailed, nil, nil
	if err := db.PutGeneration(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, _ = db.GetGeneration(ctx, "r1", 3)
	if got.Status != GenFailed || got.Hypervolume != nil || len(got.Population) != 0 {
		t.Errorf("after replace: %+v", got)
	}
	if err := db.PutGeneration(ctx, Generation{RunID: "nope", Index: 0}); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutGeneration(missing run) = %v", err)
	}
	if err := db.PutGeneration(ctx, Generation{RunID: "r1", Status: "odd"}); err == nil {
		t.Error("unknown status accepted")
	}
	nan := math.NaN()
	if err := db.PutGeneration(ctx, Generation{RunID: "r1", Hypervolume: &nan}); err == nil {
		t.Error("NaN hypervolume accepted")
	}
	if _, err := db.GetGeneration(ctx, "r1", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetGeneration(missing) = %v", err)
	}
}

func TestStartFinishGeneration(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	if err := db.StartGeneration(ctx, "r1", 0); err != nil {
		t.Fatal(err)
	}
	g, err := db.GetGeneration(ctx, "r1", 0)
	if err != nil || g.Status != GenRunning || g.Started.IsZero() {
		t.Fatalf("started: %+v, %v", g, err)
	}
	first := g.Started
	if err := db.StartGeneration(ctx, "r1", 0); err != nil { // resumed: keeps its first start
		t.Fatal(err)
	}
	if g, _ = db.GetGeneration(ctx, "r1", 0); !g.Started.Equal(first) {
		t.Errorf("restart moved started from %v to %v", first, g.Started)
	}
	if err := db.FinishGeneration(ctx, "r1", 0, 1.5, []string{"c2", "c1"}); err != nil {
		t.Fatal(err)
	}
	g, _ = db.GetGeneration(ctx, "r1", 0)
	if g.Status != GenDone || g.Finished.IsZero() || g.Hypervolume == nil || *g.Hypervolume != 1.5 ||
		!reflect.DeepEqual(g.Population, []string{"c2", "c1"}) {
		t.Errorf("finished: %+v", g)
	}
	if err := db.StartGeneration(ctx, "r1", 1); err != nil {
		t.Fatal(err)
	}
	if r, _ := db.GetRun(ctx, "r1"); r.CurrentGeneration != 1 {
		t.Errorf("current generation = %d, want 1", r.CurrentGeneration)
	}
	gs, err := db.ListGenerations(ctx, "r1")
	if err != nil || len(gs) != 2 || gs[0].Index != 0 || gs[1].Status != GenRunning {
		t.Errorf("ListGenerations = %+v, %v", gs, err)
	}
	if err := db.StartGeneration(ctx, "nope", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("StartGeneration(missing run) = %v", err)
	}
	if err := db.FinishGeneration(ctx, "r1", 7, 1, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishGeneration(missing) = %v", err)
	}
	if err := db.FinishGeneration(ctx, "r1", 1, math.NaN(), nil); err == nil {
		t.Error("NaN hypervolume accepted")
	}
}
