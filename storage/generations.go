package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// GenerationStatus is the state of one generation of a run.
type GenerationStatus string

// Generation statuses.
const (
	GenPending GenerationStatus = "pending"
	GenRunning GenerationStatus = "running"
	GenDone    GenerationStatus = "done"
	GenFailed  GenerationStatus = "failed"
)

func (s GenerationStatus) valid() bool {
	switch s {
	case GenPending, GenRunning, GenDone, GenFailed:
		return true
	}
	return false
}

// Generation is one generation of a run. Generation 0 is the seed
// population.
type Generation struct {
	RunID       string
	Index       int
	Status      GenerationStatus // GenPending when empty
	Started     time.Time
	Finished    time.Time
	Hypervolume *float64 // nil until selection computes it
	Population  []string // candidate ids that survived selection, in order
}

const generationColumns = `run_id, idx, status, started, finished, hypervolume, population`

func scanGeneration(s interface{ Scan(...any) error }) (Generation, error) {
	var g Generation
	var hv sql.NullFloat64
	var pop string
	if err := s.Scan(&g.RunID, &g.Index, &g.Status, timeScan{&g.Started}, timeScan{&g.Finished}, &hv, &pop); err != nil {
		return Generation{}, err
	}
	if hv.Valid {
		g.Hypervolume = &hv.Float64
	}
	if err := json.Unmarshal([]byte(pop), &g.Population); err != nil {
		return Generation{}, fmt.Errorf("decoding population: %w", err)
	}
	return g, nil
}

func encodeIDs(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// PutGeneration stores g, replacing a stored generation with the same run
// and index.
func (o *ops) PutGeneration(ctx context.Context, g Generation) error {
	if g.Status == "" {
		g.Status = GenPending
	}
	if !g.Status.valid() {
		return fmt.Errorf("storing generation %s/%d: unknown status %q", g.RunID, g.Index, g.Status)
	}
	var hv any
	if g.Hypervolume != nil {
		if math.IsNaN(*g.Hypervolume) {
			return fmt.Errorf("storing generation %s/%d: hypervolume is NaN", g.RunID, g.Index)
		}
		hv = *g.Hypervolume
	}
	_, err := o.exec(ctx, `INSERT INTO generations (`+generationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, idx) DO UPDATE SET status = excluded.status, started = excluded.started,
		finished = excluded.finished, hypervolume = excluded.hypervolume, population = excluded.population`,
		g.RunID, g.Index, g.Status, nullTime(g.Started), nullTime(g.Finished), hv, encodeIDs(g.Population))
	if err != nil {
		return fmt.Errorf("storing generation %s/%d: %w", g.RunID, g.Index, constraint(err))
	}
	return nil
}

// StartGeneration marks a generation running (creating it if needed,
// keeping its first start time) and makes it the run's current generation,
// in one transaction.
func (o *ops) StartGeneration(ctx context.Context, runID string, index int) error {
	err := o.atomic(ctx, func(o *ops) error {
		t := fmtTime(now())
		if _, err := o.exec(ctx, `INSERT INTO generations (run_id, idx, status, started) VALUES (?, ?, 'running', ?)
			ON CONFLICT (run_id, idx) DO UPDATE SET status = 'running', started = coalesce(started, excluded.started)`,
			runID, index, t); err != nil {
			return constraint(err)
		}
		res, err := o.exec(ctx, `UPDATE runs SET current_generation = ?, updated = ? WHERE id = ?`, index, t, runID)
		if err != nil {
			return err
		}
		return affected(res)
	})
	if err != nil {
		return fmt.Errorf("starting generation %s/%d: %w", runID, index, err)
	}
	return nil
}

// FinishGeneration records a generation's selection: its surviving
// population and hypervolume, status done.
func (o *ops) FinishGeneration(ctx context.Context, runID string, index int, hypervolume float64, population []string) error {
	if math.IsNaN(hypervolume) {
		return fmt.Errorf("finishing generation %s/%d: hypervolume is NaN", runID, index)
	}
	res, err := o.exec(ctx, `UPDATE generations SET status = 'done', finished = ?, hypervolume = ?, population = ?
		WHERE run_id = ? AND idx = ?`, fmtTime(now()), hypervolume, encodeIDs(population), runID, index)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("finishing generation %s/%d: %w", runID, index, err)
	}
	return nil
}

// GetGeneration returns one generation, or ErrNotFound.
func (o *ops) GetGeneration(ctx context.Context, runID string, index int) (Generation, error) {
	g, err := scanGeneration(o.r.QueryRowContext(ctx,
		`SELECT `+generationColumns+` FROM generations WHERE run_id = ? AND idx = ?`, runID, index))
	if err != nil {
		return Generation{}, fmt.Errorf("getting generation %s/%d: %w", runID, index, notFound(err))
	}
	return g, nil
}

// ListGenerations returns a run's generations in order.
func (o *ops) ListGenerations(ctx context.Context, runID string) ([]Generation, error) {
	rows, err := o.r.QueryContext(ctx, `SELECT `+generationColumns+` FROM generations WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, fmt.Errorf("listing generations of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Generation
	for rows.Next() {
		g, err := scanGeneration(rows)
		if err != nil {
			return nil, fmt.Errorf("listing generations of %s: %w", runID, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing generations of %s: %w", runID, err)
	}
	return out, nil
}
