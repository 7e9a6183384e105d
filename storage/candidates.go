package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Operator names the variation step that produced a candidate. Stored as
// text; new operators need no migration.
type Operator string

// Operators.
const (
	OpSeed      Operator = "seed"      // a seed genome from the run config
	OpRandom    Operator = "random"    // a random genome
	OpCrossover Operator = "crossover" // k-point crossover of its parents
	OpMutation  Operator = "mutation"  // mutation of its one parent
	OpCrossMut  Operator = "crossover+mutation"
	OpFirefly   Operator = "firefly" // a firefly move toward its parents
	OpSurvivor  Operator = "survivor"
	// OpFinal is a retraining of the final stage (see FinalEntry): the
	// same genome as its parent, trained with the final budget and seed.
	OpFinal Operator = "final"
)

// CandidateStatus is the evaluation state of a candidate.
type CandidateStatus string

// Candidate statuses.
const (
	CandPending   CandidateStatus = "pending"   // created, not yet training
	CandTraining  CandidateStatus = "training"  // a worker is training or evaluating it
	CandEvaluated CandidateStatus = "evaluated" // objectives recorded
	CandFailed    CandidateStatus = "failed"    // permanently failed; see Error
)

func (s CandidateStatus) valid() bool {
	switch s {
	case CandPending, CandTraining, CandEvaluated, CandFailed:
		return true
	}
	return false
}

// Candidate is one genome of one generation of a run.
type Candidate struct {
	ID           string // CandidateID(RunID, Generation, Index) when empty
	RunID        string
	Generation   int
	Index        int
	Genome       string // canonical genome text
	GenomeHash   string
	Parents      []string // parent candidate ids, in order
	Operator     Operator
	Seed         uint64
	Status       CandidateStatus    // CandPending when empty
	Objectives   map[string]float64 // nil until evaluated
	Metrics      json.RawMessage    // free-form JSON, nil when none
	Error        string
	Queued       time.Time
	Started      time.Time
	Finished     time.Time
	TrainSeconds float64
	Checkpoint   string // artifact path of the trained weights
	Worker       string // worker that trained it
	// Rung is the rung of a multi-fidelity run whose evaluation the
	// objectives are (0 otherwise), Steps the train steps it had then (0
	// in a run without rungs: the run's training.steps).
	Rung  int
	Steps int
}

// CandidateID returns the id of a run's candidate: "<run>/g003/c0007".
func CandidateID(runID string, generation, index int) string {
	return fmt.Sprintf("%s/g%03d/c%04d", runID, generation, index)
}

const candidateColumns = `c.id, c.run_id, c.generation, c.idx, c.genome, c.genome_hash, c.operator, c.seed,
	c.status, c.objectives, c.metrics, c.error, c.queued, c.started, c.finished, c.train_seconds,
	c.checkpoint, c.worker, c.rung, c.steps,
	(SELECT json_group_array(parent) FROM
		(SELECT parent FROM candidate_parents WHERE child = c.id ORDER BY position))`

func scanCandidate(s interface{ Scan(...any) error }) (Candidate, error) {
	var c Candidate
	var seed int64
	var objectives, metrics sql.NullString
	var parents string
	err := s.Scan(&c.ID, &c.RunID, &c.Generation, &c.Index, &c.Genome, &c.GenomeHash, &c.Operator, &seed,
		&c.Status, &objectives, &metrics, &c.Error, timeScan{&c.Queued}, timeScan{&c.Started},
		timeScan{&c.Finished}, &c.TrainSeconds, &c.Checkpoint, &c.Worker, &c.Rung, &c.Steps, &parents)
	if err != nil {
		return Candidate{}, err
	}
	c.Seed = uint64(seed)
	if objectives.Valid {
		if err := json.Unmarshal([]byte(objectives.String), &c.Objectives); err != nil {
			return Candidate{}, fmt.Errorf("decoding objectives of %s: %w", c.ID, err)
		}
	}
	if metrics.Valid {
		c.Metrics = json.RawMessage(metrics.String)
	}
	if err := json.Unmarshal([]byte(parents), &c.Parents); err != nil {
		return Candidate{}, fmt.Errorf("decoding parents of %s: %w", c.ID, err)
	}
	if len(c.Parents) == 0 {
		c.Parents = nil
	}
	return c, nil
}

// encodeObjectives encodes objectives as a JSON object; nil stays NULL.
// Non-finite values are refused: JSON cannot hold them, and a candidate
// whose loss diverged is a failed candidate, not an evaluated one.
func encodeObjectives(obj map[string]float64) (any, error) {
	if obj == nil {
		return nil, nil
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if v := obj[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("objective %s is %v; record the candidate as failed instead", k, v)
		}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func encodeMetrics(m json.RawMessage) (any, error) {
	if m == nil {
		return nil, nil
	}
	if !json.Valid(m) {
		return nil, errors.New("metrics are not valid JSON")
	}
	return string(m), nil
}

// AddCandidates stores new candidates and their parent edges in one
// transaction. It fails with ErrExists if any id (or run, generation and
// index) is taken, and with ErrNotFound if a run or parent is missing.
func (o *ops) AddCandidates(ctx context.Context, cs ...Candidate) error {
	err := o.atomic(ctx, func(o *ops) error {
		for _, c := range cs {
			if err := o.addCandidate(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding candidates: %w", err)
	}
	return nil
}

func (o *ops) addCandidate(ctx context.Context, c Candidate) error {
	if c.ID == "" {
		c.ID = CandidateID(c.RunID, c.Generation, c.Index)
	}
	if c.Status == "" {
		c.Status = CandPending
	}
	if !c.Status.valid() {
		return fmt.Errorf("candidate %s: unknown status %q", c.ID, c.Status)
	}
	if c.Operator == "" {
		return fmt.Errorf("candidate %s: no operator", c.ID)
	}
	obj, err := encodeObjectives(c.Objectives)
	if err != nil {
		return fmt.Errorf("candidate %s: %w", c.ID, err)
	}
	met, err := encodeMetrics(c.Metrics)
	if err != nil {
		return fmt.Errorf("candidate %s: %w", c.ID, err)
	}
	_, err = o.exec(ctx, `INSERT INTO candidates (id, run_id, generation, idx, genome, genome_hash, operator,
		seed, status, objectives, metrics, error, queued, started, finished, train_seconds, checkpoint, worker)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.RunID, c.Generation, c.Index, c.Genome, c.GenomeHash, c.Operator, int64(c.Seed), c.Status,
		obj, met, c.Error, nullTime(c.Queued), nullTime(c.Started), nullTime(c.Finished), c.TrainSeconds,
		c.Checkpoint, c.Worker)
	if err != nil {
		return fmt.Errorf("candidate %s: %w", c.ID, constraint(err))
	}
	for i, p := range c.Parents {
		if _, err := o.exec(ctx, `INSERT INTO candidate_parents (child, position, parent) VALUES (?, ?, ?)`,
			c.ID, i, p); err != nil {
			return fmt.Errorf("candidate %s: parent %s: %w", c.ID, p, constraint(err))
		}
	}
	return nil
}

// GetCandidate returns one candidate, or ErrNotFound.
func (o *ops) GetCandidate(ctx context.Context, id string) (Candidate, error) {
	c, err := scanCandidate(o.r.QueryRowContext(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = ?`, id))
	if err != nil {
		return Candidate{}, fmt.Errorf("getting candidate %s: %w", id, notFound(err))
	}
	return c, nil
}

// ListCandidates returns a run's candidates of one generation, or of every
// generation when generation < 0, ordered by generation and index.
func (o *ops) ListCandidates(ctx context.Context, runID string, generation int) ([]Candidate, error) {
	q := `SELECT ` + candidateColumns + ` FROM candidates c WHERE c.run_id = ?`
	args := []any{runID}
	if generation >= 0 {
		q += ` AND c.generation = ?`
		args = append(args, generation)
	}
	rows, err := o.r.QueryContext(ctx, q+` ORDER BY c.generation, c.idx`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing candidates of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		c, err := scanCandidate(rows)
		if err != nil {
			return nil, fmt.Errorf("listing candidates of %s: %w", runID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing candidates of %s: %w", runID, err)
	}
	return out, nil
}

// FindCandidates returns a run's candidates with the given genome hash,
// oldest first: the run's earlier copies of an architecture.
func (o *ops) FindCandidates(ctx context.Context, runID, genomeHash string) ([]Candidate, error) {
	rows, err := o.r.QueryContext(ctx, `SELECT `+candidateColumns+` FROM candidates c
		WHERE c.run_id = ? AND c.genome_hash = ? ORDER BY c.generation, c.idx`, runID, genomeHash)
	if err != nil {
		return nil, fmt.Errorf("finding candidates of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		c, err := scanCandidate(rows)
		if err != nil {
			return nil, fmt.Errorf("finding candidates of %s: %w", runID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding candidates of %s: %w", runID, err)
	}
	return out, nil
}

// CountCandidates counts a run generation's candidates by status: the
// fan-in check of a generation.
func (o *ops) CountCandidates(ctx context.Context, runID string, generation int) (map[CandidateStatus]int, error) {
	rows, err := o.r.QueryContext(ctx, `SELECT status, count(*) FROM candidates
		WHERE run_id = ? AND generation = ? GROUP BY status`, runID, generation)
	if err != nil {
		return nil, fmt.Errorf("counting candidates of %s/%d: %w", runID, generation, err)
	}
	defer rows.Close()
	out := map[CandidateStatus]int{}
	for rows.Next() {
		var s CandidateStatus
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("counting candidates of %s/%d: %w", runID, generation, err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting candidates of %s/%d: %w", runID, generation, err)
	}
	return out, nil
}

// MarkCandidateQueued records when a candidate's training was enqueued.
func (o *ops) MarkCandidateQueued(ctx context.Context, id string, at time.Time) error {
	res, err := o.exec(ctx, `UPDATE candidates SET queued = ? WHERE id = ?`, nullTime(at), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("marking candidate %s queued: %w", id, err)
	}
	return nil
}

// StartCandidate marks a candidate training on worker since at.
func (o *ops) StartCandidate(ctx context.Context, id, worker string, at time.Time) error {
	res, err := o.exec(ctx, `UPDATE candidates SET status = 'training', worker = ?, started = ?, error = ''
		WHERE id = ?`, worker, nullTime(at), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("starting candidate %s: %w", id, err)
	}
	return nil
}

// Result is what evaluating a candidate produced.
type Result struct {
	Objectives   map[string]float64 // every objective of the run, finite
	Metrics      json.RawMessage    // free-form JSON; nil for none
	Worker       string             // kept from StartCandidate when empty
	Started      time.Time          // kept from StartCandidate when zero
	Finished     time.Time          // now when zero
	TrainSeconds float64
	Checkpoint   string
	// ConfigHash, when set, also stores the objectives in the evaluation
	// cache under (the candidate's genome hash, ConfigHash, CacheSteps),
	// unless an entry is already there.
	ConfigHash string
	// Rung and Steps, with Steps >= 1 (a multi-fidelity run), record the
	// evaluation as the candidate's evaluation at that rung, in
	// rung_evaluations as well. CacheSteps is the cache entry's steps: 0
	// for the full budget.
	Rung, Steps, CacheSteps int
}

// CompleteCandidate records a candidate's evaluation (status evaluated)
// and, with r.ConfigHash, its evaluation-cache entry, in one transaction.
func (o *ops) CompleteCandidate(ctx context.Context, id string, r Result) error {
	obj, err := encodeObjectives(r.Objectives)
	if err != nil {
		return fmt.Errorf("completing candidate %s: %w", id, err)
	}
	if obj == nil {
		obj = "{}"
	}
	met, err := encodeMetrics(r.Metrics)
	if err != nil {
		return fmt.Errorf("completing candidate %s: %w", id, err)
	}
	if r.Finished.IsZero() {
		r.Finished = now()
	}
	err = o.atomic(ctx, func(o *ops) error {
		res, err := o.exec(ctx, `UPDATE candidates SET status = 'evaluated', objectives = ?, metrics = ?, error = '',
			worker = CASE WHEN ? = '' THEN worker ELSE ? END, started = coalesce(?, started), finished = ?,
			train_seconds = ?, checkpoint = ?, rung = ?, steps = ? WHERE id = ?`,
			obj, met, r.Worker, r.Worker, nullTime(r.Started), fmtTime(r.Finished), r.TrainSeconds, r.Checkpoint,
			r.Rung, r.Steps, id)
		if err != nil {
			return err
		}
		if err := affected(res); err != nil {
			return err
		}
		if r.Steps >= 1 {
			if _, err := o.exec(ctx, `INSERT INTO rung_evaluations (candidate_id, rung, steps, status, objectives, metrics, finished)
				VALUES (?, ?, ?, 'evaluated', ?, ?, ?)
				ON CONFLICT (candidate_id, rung) DO UPDATE SET steps = excluded.steps, status = excluded.status,
				objectives = excluded.objectives, metrics = excluded.metrics, error = '', finished = excluded.finished`,
				id, r.Rung, r.Steps, obj, met, fmtTime(r.Finished)); err != nil {
				return err
			}
		}
		if r.ConfigHash == "" {
			return nil
		}
		_, err = o.exec(ctx, `INSERT INTO evaluations (genome_hash, config_hash, steps, objectives, metrics, candidate_id, created)
			SELECT genome_hash, ?, ?, ?, ?, id, ? FROM candidates WHERE id = ?
			ON CONFLICT (genome_hash, config_hash, steps) DO NOTHING`,
			r.ConfigHash, r.CacheSteps, obj, met, fmtTime(r.Finished), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("completing candidate %s: %w", id, err)
	}
	return nil
}

// FailCandidate marks a candidate permanently failed with the error text.
func (o *ops) FailCandidate(ctx context.Context, id, errMsg string) error {
	res, err := o.exec(ctx, `UPDATE candidates SET status = 'failed', error = ?, finished = ? WHERE id = ?`,
		errMsg, fmtTime(now()), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("failing candidate %s: %w", id, err)
	}
	return nil
}

// FailCandidateAt marks a candidate of a multi-fidelity run permanently
// failed at a rung (steps >= 1): status failed, the error, the metrics
// given (the loss curve of a run stopped early; nil keeps the candidate's),
// and a rung_evaluations row with status 'failed_early' when early is set,
// 'failed' otherwise. Objectives of lower rungs stay in rung_evaluations.
func (o *ops) FailCandidateAt(ctx context.Context, id string, rung, steps int, early bool, errMsg string, metrics json.RawMessage) error {
	met, err := encodeMetrics(metrics)
	if err != nil {
		return fmt.Errorf("failing candidate %s: %w", id, err)
	}
	status := "failed"
	if early {
		status = "failed_early"
	}
	at := fmtTime(now())
	err = o.atomic(ctx, func(o *ops) error {
		res, err := o.exec(ctx, `UPDATE candidates SET status = 'failed', error = ?, finished = ?,
			metrics = coalesce(?, metrics), rung = ?, steps = ? WHERE id = ?`, errMsg, at, met, rung, steps, id)
		if err != nil {
			return err
		}
		if err := affected(res); err != nil {
			return err
		}
		_, err = o.exec(ctx, `INSERT INTO rung_evaluations (candidate_id, rung, steps, status, metrics, error, finished)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (candidate_id, rung) DO UPDATE SET steps = excluded.steps, status = excluded.status,
			objectives = NULL, metrics = excluded.metrics, error = excluded.error, finished = excluded.finished`,
			id, rung, max(steps, 1), status, met, errMsg, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("failing candidate %s: %w", id, err)
	}
	return nil
}

// RungEvaluation is one evaluation of a candidate at one rung of a
// multi-fidelity run.
type RungEvaluation struct {
	CandidateID string
	Generation  int
	Rung        int
	Steps       int
	Status      string             // evaluated, failed or failed_early
	Objectives  map[string]float64 // nil unless evaluated
	Metrics     json.RawMessage
	Error       string
	Finished    time.Time
}

// ListRungEvaluations returns every rung evaluation of a run's candidates
// (of one generation, or all when generation < 0), ordered by candidate
// and rung.
func (o *ops) ListRungEvaluations(ctx context.Context, runID string, generation int) ([]RungEvaluation, error) {
	q := `SELECT e.candidate_id, c.generation, e.rung, e.steps, e.status, e.objectives, e.metrics, e.error, e.finished
		FROM rung_evaluations e JOIN candidates c ON c.id = e.candidate_id WHERE c.run_id = ?`
	args := []any{runID}
	if generation >= 0 {
		q += ` AND c.generation = ?`
		args = append(args, generation)
	}
	rows, err := o.r.QueryContext(ctx, q+` ORDER BY c.generation, c.idx, e.rung`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing rung evaluations of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []RungEvaluation
	for rows.Next() {
		var e RungEvaluation
		var obj, met sql.NullString
		if err := rows.Scan(&e.CandidateID, &e.Generation, &e.Rung, &e.Steps, &e.Status, &obj, &met, &e.Error,
			timeScan{&e.Finished}); err != nil {
			return nil, fmt.Errorf("listing rung evaluations of %s: %w", runID, err)
		}
		if obj.Valid {
			if err := json.Unmarshal([]byte(obj.String), &e.Objectives); err != nil {
				return nil, fmt.Errorf("decoding rung objectives of %s: %w", e.CandidateID, err)
			}
		}
		if met.Valid {
			e.Metrics = json.RawMessage(met.String)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing rung evaluations of %s: %w", runID, err)
	}
	return out, nil
}

// ResetCandidate puts a candidate back to pending, clearing its results,
// error, timings and checkpoint: for retraining after its checkpoint went
// missing.
func (o *ops) ResetCandidate(ctx context.Context, id string) error {
	res, err := o.exec(ctx, `UPDATE candidates SET status = 'pending', objectives = NULL, metrics = NULL, error = '',
		queued = NULL, started = NULL, finished = NULL, train_seconds = 0, checkpoint = '', worker = ''
		WHERE id = ?`, id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("resetting candidate %s: %w", id, err)
	}
	return nil
}
