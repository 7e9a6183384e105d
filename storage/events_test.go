package storage

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestEvents(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	at := time.Date(2026, 7, 8, 9, 10, 11, 12, time.UTC)
	id1, err := db.AppendEvent(ctx, Event{RunID: "r1", Time: at, Kind: "run.started", Message: json.RawMessage(`{"seed":7}`)})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := db.AppendEvent(ctx, Event{RunID: "r1", Kind: "generation.started"})
	if err != nil || id2 <= id1 {
		t.Fatalf("ids %d, %d, %v", id1, id2, err)
	}
	evs, err := db.ListEvents(ctx, "r1", 0, 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("ListEvents = %v, %v", evs, err)
	}
	if e := evs[0]; e.ID != id1 || e.RunID != "r1" || !e.Time.Equal(at) || e.Kind != "run.started" || string(e.Message) != `{"seed":7}` {
		t.Errorf("event 1 = %+v", e)
	}
	if e := evs[1]; string(e.Message) != "{}" || e.Time.IsZero() {
		t.Errorf("event 2 = %+v", e)
	}
	if evs, _ := db.ListEvents(ctx, "r1", id1, 0); len(evs) != 1 || evs[0].ID != id2 {
		t.Errorf("after id1: %+v", evs)
	}
	if evs, _ := db.ListEvents(ctx, "r1", 0, 1); len(evs) != 1 || evs[0].ID != id1 {
		t.Errorf("limit 1: %+v", evs)
	}
	if _, err := db.AppendEvent(ctx, Event{RunID: "nope", Kind: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppendEvent(missing run) = %v", err)
	}
	if _, err := db.AppendEvent(ctx, Event{RunID: "r1"}); err == nil {
		t.Error("event without kind accepted")
	}
	if _, err := db.AppendEvent(ctx, Event{RunID: "r1", Kind: "x", Message: json.RawMessage("nope")}); err == nil {
		t.Error("invalid JSON accepted")
	}
}
