package study

import (
	"context"
	"fmt"
	"strings"

	"github.com/star-pipeline/star-pipeline/storage"
)

// RungCorrelation is the proxy check of a multi-fidelity run between two
// consecutive rungs: Spearman's rank correlation of the run's first
// objective over the candidates evaluated at both.
type RungCorrelation struct {
	FromSteps  int    `json:"from_steps"`
	ToSteps    int    `json:"to_steps"`
	Objective  string `json:"objective"`
	Candidates int    `json:"candidates"` // evaluated at both rungs
	// Spearman is nil below 3 candidates.
	Spearman *float64 `json:"spearman"`
}

// RungSource is the part of the lineage database the rung check reads.
type RungSource interface {
	ListRungEvaluations(ctx context.Context, runID string, generation int) ([]storage.RungEvaluation, error)
}

// RungCorrelations computes the proxy check of a multi-fidelity run whose
// rungs have the given steps, over every candidate of the run
// (generation < 0) or of one generation: one entry per pair of
// consecutive rungs.
func RungCorrelations(ctx context.Context, src RungSource, runID string, generation int, rungs []int, objective string) ([]RungCorrelation, error) {
	evs, err := src.ListRungEvaluations(ctx, runID, generation)
	if err != nil {
		return nil, err
	}
	at := map[string]map[int]float64{} // candidate -> rung -> objective
	var order []string
	for _, e := range evs {
		v, ok := e.Objectives[objective]
		if e.Status != "evaluated" || !ok {
			continue
		}
		if at[e.CandidateID] == nil {
			at[e.CandidateID] = map[int]float64{}
			order = append(order, e.CandidateID)
		}
		at[e.CandidateID][e.Rung] = v
	}
	var out []RungCorrelation
	for k := 0; k+1 < len(rungs); k++ {
		var xs, ys []float64
		for _, id := range order {
			x, ok1 := at[id][k]
			y, ok2 := at[id][k+1]
			if ok1 && ok2 {
				xs, ys = append(xs, x), append(ys, y)
			}
		}
		rc := RungCorrelation{FromSteps: rungs[k], ToSteps: rungs[k+1], Objective: objective, Candidates: len(xs)}
		if len(xs) >= 3 {
			rho := Spearman(xs, ys)
			rc.Spearman = &rho
		}
		out = append(out, rc)
	}
	return out, nil
}

// RungText is the proxy check in one line, with every pair below min
// marked.
func RungText(cs []RungCorrelation, min float64) string {
	parts := make([]string, len(cs))
	obj := ""
	for i, c := range cs {
		obj = c.Objective
		if c.Spearman == nil {
			parts[i] = fmt.Sprintf("%d->%d steps: - (%d candidates; 3 are needed)", c.FromSteps, c.ToSteps, c.Candidates)
			continue
		}
		parts[i] = fmt.Sprintf("%d->%d steps: %.3f over %d", c.FromSteps, c.ToSteps, *c.Spearman, c.Candidates)
		if *c.Spearman < min {
			parts[i] += fmt.Sprintf(" (below %.2f: the cheap rung is not predicting)", min)
		}
	}
	return fmt.Sprintf("rung proxy check (Spearman of %s between consecutive rungs): %s", obj, strings.Join(parts, "; "))
}
