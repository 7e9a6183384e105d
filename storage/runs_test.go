package storage

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRunRoundTrip(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	in := Run{ID: "r2", Created: created, Seed: 1<<63 + 5, Config: "seed: 5\n", ConfigHash: "abc",
		Algorithm: "ga", Population: 16, Generations: 18, CurrentGeneration: 2, Status: RunRunning}
	if err := db.CreateRun(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetRun(ctx, "r2")
	if err != nil {
		t.Fatal(err)
	}
	in.Updated = created
	if !reflect.DeepEqual(got, in) {
		t.Errorf("got  %+v\nwant %+v", got, in)
	}
	if err := db.CreateRun(ctx, in); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate CreateRun = %v, want ErrExists", err)
	}
	for _, bad := range []Run{{ID: ""}, {ID: "a/b"}, {ID: "x", Status: "odd"}} {
		if err := db.CreateRun(ctx, bad); err == nil {
			t.Errorf("CreateRun(%+v) accepted", bad)
		}
	}
	if _, err := db.GetRun(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(missing) = %v", err)
	}

	r1, _ := db.GetRun(ctx, "r1")
	if r1.Status != RunPending || r1.Created.IsZero() || !r1.Finished.IsZero() {
		t.Errorf("defaults: %+v", r1)
	}

	if err := db.SetRunStatus(ctx, "r1", RunFailed, "out of memory"); err != nil {
		t.Fatal(err)
	}
	r1, _ = db.GetRun(ctx, "r1")
	if r1.Status != RunFailed || r1.Error != "out of memory" || r1.Finished.IsZero() || !r1.Status.Terminal() {
		t.Errorf("after fail: %+v", r1)
	}
	if err := db.SetRunStatus(ctx, "r1", RunRunning, ""); err != nil {
		t.Fatal(err)
	}
	r1, _ = db.GetRun(ctx, "r1")
	if r1.Status != RunRunning || r1.Error != "" || !r1.Finished.IsZero() {
		t.Errorf("after resume: %+v", r1)
	}
	if err := db.SetRunStatus(ctx, "nope", RunRunning, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetRunStatus(missing) = %v", err)
	}
	if err := db.SetRunStatus(ctx, "r1", "odd", ""); err == nil {
		t.Error("unknown status accepted")
	}
	if err := db.SetCurrentGeneration(ctx, "r1", 5); err != nil {
		t.Fatal(err)
	}
	if r1, _ = db.GetRun(ctx, "r1"); r1.CurrentGeneration != 5 {
		t.Errorf("current generation = %d", r1.CurrentGeneration)
	}
	if err := db.SetCurrentGeneration(ctx, "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetCurrentGeneration(missing) = %v", err)
	}

	all, err := db.ListRuns(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "r2" {
		t.Errorf("ListRuns() = %v, %v (want r2 first: created earlier)", all, err)
	}
	running, err := db.ListRuns(ctx, RunRunning, RunPending)
	if err != nil || len(running) != 2 {
		t.Errorf("ListRuns(running, pending) = %d, %v", len(running), err)
	}
	if done, err := db.ListRuns(ctx, RunFinished); err != nil || len(done) != 0 {
		t.Errorf("ListRuns(finished) = %v, %v", done, err)
	}
}

func TestRunTransitions(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	actions := map[string]func(id string) error{
		"pause":  func(id string) error { return db.PauseRun(ctx, id) },
		"resume": func(id string) error { return db.ResumeRun(ctx, id) },
		"cancel": func(id string) error { return db.CancelRun(ctx, id, "stop") },
		"start":  func(id string) error { return db.StartRun(ctx, id) },
	}
	// to is the status each action leads to from every status; "" refuses.
	to := map[string]map[RunStatus]RunStatus{
		"pause":  {RunPending: RunPaused, RunRunning: RunPaused},
		"resume": {RunPaused: RunPending, RunFailed: RunPending},
		"cancel": {RunPending: RunCancelled, RunRunning: RunCancelled, RunPaused: RunCancelled},
		"start":  {RunPending: RunRunning, RunRunning: RunRunning, RunFailed: RunRunning},
	}
	for action, do := range actions {
		for _, from := range RunStatuses {
			if err := db.SetRunStatus(ctx, "r1", from, "boom"); err != nil {
				t.Fatal(err)
			}
			err := do("r1")
			r, gerr := db.GetRun(ctx, "r1")
			if gerr != nil {
				t.Fatal(gerr)
			}
			want, ok := to[action][from]
			if !ok {
				var te *TransitionError
				if !errors.Is(err, ErrInvalidTransition) || !errors.As(err, &te) || te.Status != from ||
					err.Error() != "cannot "+action+" run r1: it is "+string(from) {
					t.Errorf("%s from %s: err = %v, want a refusal naming the status", action, from, err)
				}
				if r.Status != from || r.Error != "boom" {
					t.Errorf("%s from %s: refused, yet the run is %s (%q)", action, from, r.Status, r.Error)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s from %s: %v", action, from, err)
				continue
			}
			wantErr := ""
			if action == "cancel" {
				wantErr = "stop"
			}
			if r.Status != want || r.Error != wantErr || r.Finished.IsZero() != !want.Terminal() {
				t.Errorf("%s from %s: run %s (%q, finished %v), want %s", action, from, r.Status, r.Error, r.Finished, want)
			}
		}
		if err := do("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of a missing run = %v, want ErrNotFound", action, err)
		}
	}
	if runs, err := db.ListRuns(ctx, RunPaused); err != nil || len(runs) != 0 {
		t.Errorf("ListRuns(paused) = %v, %v", runs, err)
	}
	if err := db.PauseRun(ctx, "r1"); err == nil {
		t.Fatal("paused a cancelled run")
	}
	if err := db.CreateRun(ctx, Run{ID: "p", Status: RunPaused, Config: "x", Algorithm: "ga", Population: 1}); err != nil {
		t.Fatal(err)
	}
	if runs, err := db.ListRuns(ctx, RunPaused); err != nil || len(runs) != 1 || runs[0].ID != "p" || runs[0].Status.Terminal() {
		t.Errorf("ListRuns(paused) = %v, %v", runs, err)
	}
}
