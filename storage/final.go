package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// FinalRole says why an architecture is in a run's final stage.
type FinalRole string

// Final roles.
const (
	RoleBaseline  FinalRole = "baseline"  // a preset of the run's seeds or an extra baseline
	RoleCandidate FinalRole = "candidate" // one of the last generation's best
)

// FinalGeneration is the generation index that holds the retrainings of a
// run's final stage: the one after its last generation. Retraining s (of
// seeds per entry) of entry e is candidate index e*seeds + s there.
func FinalGeneration(r Run) int { return r.Generations + 1 }

// FinalEntry is one architecture of a run's final stage; its retrainings
// are candidates of generation FinalGeneration.
type FinalEntry struct {
	RunID      string
	Index      int
	Name       string // "transformer++", "STAR-1", ...
	Role       FinalRole
	Genome     string
	GenomeHash string
	// Source is the candidate whose short-budget result this entry
	// retrains ("" for an extra baseline that never was a candidate).
	Source string
	// Aliases are other names of the same architecture: a baseline that
	// is also in the front is trained once, under both names.
	Aliases []string
}

// AddFinalEntries stores the entries of a run's final stage.
func (o *ops) AddFinalEntries(ctx context.Context, es ...FinalEntry) error {
	return o.atomic(ctx, func(o *ops) error {
		for _, e := range es {
			if e.Role != RoleBaseline && e.Role != RoleCandidate {
				return fmt.Errorf("adding final entry %s/%d: unknown role %q", e.RunID, e.Index, e.Role)
			}
			aliases := e.Aliases
			if aliases == nil {
				aliases = []string{}
			}
			a, _ := json.Marshal(aliases)
			var src any
			if e.Source != "" {
				src = e.Source
			}
			if _, err := o.exec(ctx, `INSERT INTO final_entries (run_id, idx, name, role, genome, genome_hash, source, aliases)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.RunID, e.Index, e.Name, e.Role, e.Genome, e.GenomeHash, src, string(a)); err != nil {
				return fmt.Errorf("adding final entry %s/%d: %w", e.RunID, e.Index, constraint(err))
			}
		}
		return nil
	})
}

// ListFinalEntries returns the entries of a run's final stage in order;
// none before the stage starts.
func (o *ops) ListFinalEntries(ctx context.Context, runID string) ([]FinalEntry, error) {
	rows, err := o.r.QueryContext(ctx, `SELECT run_id, idx, name, role, genome, genome_hash, source, aliases
		FROM final_entries WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("listing final entries of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []FinalEntry
	for rows.Next() {
		var e FinalEntry
		var src sql.NullString
		var aliases string
		if err := rows.Scan(&e.RunID, &e.Index, &e.Name, &e.Role, &e.Genome, &e.GenomeHash, &src, &aliases); err != nil {
			return nil, fmt.Errorf("listing final entries of %s: %w", runID, err)
		}
		e.Source = src.String
		if err := json.Unmarshal([]byte(aliases), &e.Aliases); err != nil {
			return nil, fmt.Errorf("listing final entries of %s: aliases: %w", runID, err)
		}
		if len(e.Aliases) == 0 {
			e.Aliases = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing final entries of %s: %w", runID, err)
	}
	return out, nil
}
