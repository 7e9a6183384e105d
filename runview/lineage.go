package runview

import (
	"context"
	"fmt"

	"github.com/star-pipeline/star-pipeline/storage"
)

// LineageNode is one candidate of an ancestry tree, as `star-pipeline
// lineage --json` prints it. A candidate reached a second time (two
// parents sharing an ancestor) is marked Repeated and its parents are not
// listed again.
type LineageNode struct {
	ID         string                  `json:"id"`
	Generation int                     `json:"generation"`
	Operator   storage.Operator        `json:"operator"`
	Genome     string                  `json:"genome"`
	Status     storage.CandidateStatus `json:"status"`
	Objectives map[string]float64      `json:"objectives,omitempty"`
	Error      string                  `json:"error,omitempty"`
	// Steps is the train steps of a multi-fidelity run's candidate at the
	// rung (Rung) its objectives were measured at; 0 otherwise.
	Steps    int            `json:"steps,omitempty"`
	Rung     int            `json:"rung,omitempty"`
	Repeated bool           `json:"repeated,omitempty"`
	Parents  []*LineageNode `json:"parents,omitempty"`
}

// CandidateSource reads single candidates.
type CandidateSource interface {
	GetCandidate(ctx context.Context, id string) (storage.Candidate, error)
}

// Lineage returns the ancestry tree of cand back to the seed population,
// expanding each candidate once.
func Lineage(ctx context.Context, src CandidateSource, cand storage.Candidate) (*LineageNode, error) {
	return lineage(ctx, src, cand, map[string]bool{})
}

// lineage builds the tree of cand; shown records the candidates expanded.
func lineage(ctx context.Context, src CandidateSource, cand storage.Candidate, shown map[string]bool) (*LineageNode, error) {
	n := &LineageNode{ID: cand.ID, Generation: cand.Generation, Operator: cand.Operator, Genome: cand.Genome,
		Status: cand.Status, Objectives: cand.Objectives, Error: cand.Error, Steps: cand.Steps, Rung: cand.Rung}
	if shown[cand.ID] {
		n.Repeated = len(cand.Parents) > 0
		return n, nil
	}
	shown[cand.ID] = true
	for _, pid := range cand.Parents {
		p, err := src.GetCandidate(ctx, pid)
		if err != nil {
			return nil, fmt.Errorf("reading parent %s of %s: %w", pid, cand.ID, err)
		}
		pn, err := lineage(ctx, src, p, shown)
		if err != nil {
			return nil, err
		}
		n.Parents = append(n.Parents, pn)
	}
	return n, nil
}
