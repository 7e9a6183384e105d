package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Evaluation is an evaluation-cache entry: the objectives measured for one
// architecture (genome hash) under one training configuration (config
// hash). It holds what was measured; a caller that needs an objective the
// entry lacks treats the lookup as a miss.
type Evaluation struct {
	GenomeHash string
	ConfigHash string
	// Steps is the train steps the entry was measured at: 0 for the full
	// budget of its config hash, a rung's steps for a lower rung of a
	// multi-fidelity run.
	Steps       int
	Objectives  map[string]float64
	Metrics     json.RawMessage // nil when none
	CandidateID string          // the candidate first evaluated; "" if deleted
	Created     time.Time       // now when zero
}

// LookupEvaluation returns the cached full-budget evaluation of a genome
// under a training configuration, or ErrNotFound.
func (o *ops) LookupEvaluation(ctx context.Context, genomeHash, configHash string) (Evaluation, error) {
	return o.LookupEvaluationAt(ctx, genomeHash, configHash, 0)
}

// LookupEvaluationAt returns the cached evaluation of a genome under a
// training configuration at steps train steps (0: the full budget), or
// ErrNotFound.
func (o *ops) LookupEvaluationAt(ctx context.Context, genomeHash, configHash string, steps int) (Evaluation, error) {
	var e Evaluation
	var obj string
	var metrics, cand sql.NullString
	err := o.r.QueryRowContext(ctx, `SELECT genome_hash, config_hash, steps, objectives, metrics, candidate_id, created
		FROM evaluations WHERE genome_hash = ? AND config_hash = ? AND steps = ?`, genomeHash, configHash, steps).
		Scan(&e.GenomeHash, &e.ConfigHash, &e.Steps, &obj, &metrics, &cand, timeScan{&e.Created})
	if err != nil {
		return Evaluation{}, fmt.Errorf("looking up evaluation %s/%s: %w", genomeHash, configHash, notFound(err))
	}
	if err := json.Unmarshal([]byte(obj), &e.Objectives); err != nil {
		return Evaluation{}, fmt.Errorf("decoding cached objectives: %w", err)
	}
	if metrics.Valid {
		e.Metrics = json.RawMessage(metrics.String)
	}
	e.CandidateID = cand.String
	return e, nil
}

// PutEvaluation stores a cache entry unless one exists for the same genome
// and configuration hashes and steps (the first evaluation wins), and reports whether
// it stored it.
func (o *ops) PutEvaluation(ctx context.Context, e Evaluation) (stored bool, err error) {
	obj, err := encodeObjectives(e.Objectives)
	if err != nil {
		return false, fmt.Errorf("storing evaluation: %w", err)
	}
	if obj == nil {
		obj = "{}"
	}
	met, err := encodeMetrics(e.Metrics)
	if err != nil {
		return false, fmt.Errorf("storing evaluation: %w", err)
	}
	if e.Created.IsZero() {
		e.Created = now()
	}
	var cand any
	if e.CandidateID != "" {
		cand = e.CandidateID
	}
	res, err := o.exec(ctx, `INSERT INTO evaluations (genome_hash, config_hash, steps, objectives, metrics, candidate_id, created)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (genome_hash, config_hash, steps) DO NOTHING`,
		e.GenomeHash, e.ConfigHash, e.Steps, obj, met, cand, fmtTime(e.Created))
	if err != nil {
		return false, fmt.Errorf("storing evaluation %s/%s: %w", e.GenomeHash, e.ConfigHash, constraint(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
