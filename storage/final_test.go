package storage

import (
	"errors"
	"reflect"
	"testing"
)

func TestFinalEntries(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	src := Candidate{RunID: "r1", Generation: 3, Index: 2, Genome: "51111-91111", GenomeHash: "h2", Operator: OpCrossMut}
	if err := db.AddCandidates(ctx, src); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ListFinalEntries(ctx, "r1"); err != nil || got != nil {
		t.Fatalf("before the stage: %v, %v", got, err)
	}
	es := []FinalEntry{
		{RunID: "r1", Index: 0, Name: "transformer++", Role: RoleBaseline, Genome: "11111-91111", GenomeHash: "h1",
			Aliases: []string{"STAR-2"}},
		{RunID: "r1", Index: 1, Name: "STAR-1", Role: RoleCandidate, Genome: "51111-91111", GenomeHash: "h2",
			Source: CandidateID("r1", 3, 2)},
	}
	if err := db.AddFinalEntries(ctx, es...); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListFinalEntries(ctx, "r1")
	if err != nil || !reflect.DeepEqual(got, es) {
		t.Fatalf("got  %+v, %v\nwant %+v", got, err, es)
	}
	// One entry per architecture and per index; the batch is atomic.
	dup := FinalEntry{RunID: "r1", Index: 2, Name: "x", Role: RoleCandidate, Genome: "51111-91111", GenomeHash: "h2"}
	if err := db.AddFinalEntries(ctx, dup); !errors.Is(err, ErrExists) {
		t.Errorf("same genome twice: %v, want ErrExists", err)
	}
	bad := FinalEntry{RunID: "r1", Index: 3, Name: "y", Role: "winner", Genome: "g", GenomeHash: "h3"}
	if err := db.AddFinalEntries(ctx, FinalEntry{RunID: "r1", Index: 4, Name: "z", Role: RoleBaseline, Genome: "g", GenomeHash: "h4"}, bad); err == nil {
		t.Error("unknown role accepted")
	}
	if got, _ := db.ListFinalEntries(ctx, "r1"); len(got) != 2 {
		t.Errorf("a failed batch left %d entries, want 2", len(got))
	}
	if g := FinalGeneration(testRun("r1")); g != 4 {
		t.Errorf("FinalGeneration = %d, want 4", g)
	}
}
