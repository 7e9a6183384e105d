package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/storage"
)

const fidelityConfig = staticConfig + `training:
  steps: 45
fidelity:
  rungs: [5, 15, 45]
  eta: 3
`

// fidelityLineage is a finished run's whole lineage without ids: every
// candidate with its rung and steps, every rung evaluation, every
// generation's population.
func fidelityLineage(t *testing.T, dbPath, runID string) []string {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rel := func(id string) string { return strings.TrimPrefix(id, runID+"/") }
	var out []string
	cands, err := db.ListCandidates(ctx, runID, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		obj, _ := json.Marshal(c.Objectives)
		ps := make([]string, len(c.Parents))
		for i, p := range c.Parents {
			ps[i] = rel(p)
		}
		out = append(out, fmt.Sprintf("%s %s %s %v %s rung %d steps %d %s", rel(c.ID), c.Genome, c.Operator, ps, c.Status, c.Rung, c.Steps, obj))
	}
	evs, err := db.ListRungEvaluations(ctx, runID, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		obj, _ := json.Marshal(e.Objectives)
		out = append(out, fmt.Sprintf("%s r%d %d %s %s", rel(e.CandidateID), e.Rung, e.Steps, e.Status, obj))
	}
	gens, err := db.ListGenerations(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gens {
		pop := make([]string, len(g.Population))
		for i, p := range g.Population {
			pop[i] = rel(p)
		}
		out = append(out, fmt.Sprintf("g%d %s %v", g.Index, g.Status, pop))
	}
	return out
}

// TestFidelityKilled kills the coordinator of a multi-fidelity search with
// SIGKILL at seeded random points (rungs and promotions included) and
// resumes it until it finishes: its lineage, every rung evaluation, every
// population and the final population equal an uninterrupted run's.
func TestFidelityKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	ref := workdir(t, fidelityConfig)
	_, stderr, code := runCLI(t, ref, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 0 {
		t.Fatalf("reference: exit %d\n%s", code, stderr)
	}
	refID := runID(t, stderr)
	want := fidelityLineage(t, filepath.Join(ref, "star.db"), refID)
	wantFinal := finalPopulation(t, filepath.Join(ref, "star.db"), refID)
	if !slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, " r2 45 evaluated") }) {
		t.Fatalf("the reference run has no evaluation at the last rung:\n%s", strings.Join(want, "\n"))
	}
	// status shows the proxy check between rungs; lineage each
	// candidate's rung and steps.
	out, stderr, code := runCLI(t, ref, nil, "status", refID)
	if code != 0 || !strings.Contains(out, "rung proxy check (Spearman of params between consecutive rungs): 5->15 steps: ") {
		t.Errorf("status: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, ref, nil, "lineage", refID+"/g003/c0000")
	if code != 0 || !strings.Contains(out, "(rung ") {
		t.Errorf("lineage: exit %d\n%s%s", code, out, stderr)
	}

	dir := workdir(t, fidelityConfig)
	r := rand.New(rand.NewPCG(7, 8))
	id, kills := killAndResume(t, dir, nil, 150, func() time.Duration { return time.Duration(200+r.IntN(800)) * time.Millisecond },
		"--static-eval")
	if got := fidelityLineage(t, filepath.Join(dir, "star.db"), id); !slices.Equal(got, want) {
		t.Errorf("after %d kills the lineage differs from the uninterrupted run's:\n%s\nwant\n%s", kills,
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if gotFinal := finalPopulation(t, filepath.Join(dir, "star.db"), id); !slices.Equal(gotFinal, wantFinal) {
		t.Errorf("final population %v, uninterrupted %v", gotFinal, wantFinal)
	}
}
