package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RunStatus is the lifecycle state of a run.
type RunStatus string

// Run statuses. Finished, failed and cancelled are terminal.
//
// The transitions on request: PauseRun takes a pending or running run to
// paused; ResumeRun a paused or failed one back to pending; CancelRun a
// pending, running or paused one to cancelled; StartRun (a coordinator
// taking a run up) a pending, running or failed one to running.
const (
	RunPending   RunStatus = "pending"   // submitted, no coordinator has started it
	RunRunning   RunStatus = "running"   // a coordinator is driving it
	RunPaused    RunStatus = "paused"    // held on request; no coordinator drives it until it is resumed
	RunFinished  RunStatus = "finished"  // every generation done
	RunFailed    RunStatus = "failed"    // stopped by an error; see Run.Error
	RunCancelled RunStatus = "cancelled" // stopped on request
)

// RunStatuses lists every run status, in lifecycle order.
var RunStatuses = []RunStatus{RunPending, RunRunning, RunPaused, RunFinished, RunFailed, RunCancelled}

// Terminal reports whether s is an end state.
func (s RunStatus) Terminal() bool {
	return s == RunFinished || s == RunFailed || s == RunCancelled
}

func (s RunStatus) valid() bool {
	return slices.Contains(RunStatuses, s)
}

// Run is one search.
type Run struct {
	ID                string
	Created           time.Time // set by CreateRun when zero
	Updated           time.Time // set on every change
	Status            RunStatus // RunPending when empty
	Seed              uint64
	Config            string // the run configuration, YAML
	ConfigHash        string // config.Hash(): key of the evaluation cache
	Algorithm         string
	Population        int
	Generations       int
	CurrentGeneration int
	Finished          time.Time // zero until the run reaches a terminal status
	Error             string
}

const runColumns = `id, created, updated, status, seed, config, config_hash, algorithm,
	population, generations, current_generation, finished, error`

func scanRun(s interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var seed int64
	err := s.Scan(&r.ID, timeScan{&r.Created}, timeScan{&r.Updated}, &r.Status, &seed, &r.Config,
		&r.ConfigHash, &r.Algorithm, &r.Population, &r.Generations, &r.CurrentGeneration,
		timeScan{&r.Finished}, &r.Error)
	r.Seed = uint64(seed)
	return r, err
}

// CreateRun stores a new run. It fails with ErrExists if the id is taken.
func (o *ops) CreateRun(ctx context.Context, r Run) error {
	if r.ID == "" || strings.Contains(r.ID, "/") {
		return fmt.Errorf("creating run: id %q must be non-empty and contain no '/'", r.ID)
	}
	if r.Status == "" {
		r.Status = RunPending
	}
	if !r.Status.valid() {
		return fmt.Errorf("creating run %s: unknown status %q", r.ID, r.Status)
	}
	t := now()
	if r.Created.IsZero() {
		r.Created = t
	}
	if r.Updated.IsZero() {
		r.Updated = r.Created
	}
	_, err := o.exec(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, fmtTime(r.Created), fmtTime(r.Updated), r.Status, int64(r.Seed), r.Config, r.ConfigHash,
		r.Algorithm, r.Population, r.Generations, r.CurrentGeneration, nullTime(r.Finished), r.Error)
	if err != nil {
		return fmt.Errorf("creating run %s: %w", r.ID, constraint(err))
	}
	return nil
}

// GetRun returns the run with the given id, or ErrNotFound.
func (o *ops) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(o.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return Run{}, fmt.Errorf("getting run %s: %w", id, notFound(err))
	}
	return r, nil
}

// ListRuns returns the runs with any of the given statuses (all runs when
// none is given), oldest first.
func (o *ops) ListRuns(ctx context.Context, statuses ...RunStatus) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs`
	args := make([]any, len(statuses))
	if len(statuses) > 0 {
		q += ` WHERE status IN (` + placeholders(len(statuses)) + `)`
		for i, s := range statuses {
			args[i] = s
		}
	}
	q += ` ORDER BY created, id`
	rows, err := o.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("listing runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing runs: %w", err)
	}
	return out, nil
}

// SetRunStatus moves a run to status with the given error text (empty to
// clear it). A terminal status records the finish time; a non-terminal one
// clears it, so a failed run can be resumed.
func (o *ops) SetRunStatus(ctx context.Context, id string, status RunStatus, errMsg string) error {
	if !status.valid() {
		return fmt.Errorf("setting run %s status: unknown status %q", id, status)
	}
	t := now()
	var finished any
	if status.Terminal() {
		finished = fmtTime(t)
	}
	res, err := o.exec(ctx, `UPDATE runs SET status = ?, error = ?, finished = ?, updated = ? WHERE id = ?`,
		status, errMsg, finished, fmtTime(t), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("setting run %s status: %w", id, err)
	}
	return nil
}

// TransitionError reports a change of status that the run's status does
// not allow. It matches ErrInvalidTransition.
type TransitionError struct {
	Run    string
	Action string    // pause, resume, cancel or start
	Status RunStatus // the run's status, which does not allow Action
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s run %s: it is %s", e.Action, e.Run, e.Status)
}

// Is makes errors.Is(err, ErrInvalidTransition) hold.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// PauseRun moves a pending or running run to paused. A coordinator stops
// enqueueing its work (tasks already queued may finish and are recorded)
// and no coordinator takes it up until ResumeRun.
func (o *ops) PauseRun(ctx context.Context, id string) error {
	return o.transition(ctx, id, "pause", RunPaused, "", RunPending, RunRunning)
}

// ResumeRun moves a paused or failed run back to pending, with its error
// cleared, for a coordinator to take up.
func (o *ops) ResumeRun(ctx context.Context, id string) error {
	return o.transition(ctx, id, "resume", RunPending, "", RunPaused, RunFailed)
}

// CancelRun moves a pending, running or paused run to cancelled with
// reason as its error text.
func (o *ops) CancelRun(ctx context.Context, id, reason string) error {
	return o.transition(ctx, id, "cancel", RunCancelled, reason, RunPending, RunRunning, RunPaused)
}

// StartRun moves a pending, running or failed run to running, with its
// error cleared: a coordinator taking it up. A paused run stays paused
// (a *TransitionError) until it is resumed.
func (o *ops) StartRun(ctx context.Context, id string) error {
	return o.transition(ctx, id, "start", RunRunning, "", RunPending, RunRunning, RunFailed)
}

// transition moves run id to status to, if its status is one of from.
func (o *ops) transition(ctx context.Context, id, action string, to RunStatus, errMsg string, from ...RunStatus) error {
	err := o.atomic(ctx, func(o *ops) error {
		r, err := o.GetRun(ctx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(from, r.Status) {
			return &TransitionError{Run: id, Action: action, Status: r.Status}
		}
		return o.SetRunStatus(ctx, id, to, errMsg)
	})
	var te *TransitionError
	if err != nil && !errors.As(err, &te) {
		return fmt.Errorf("%s run %s: %w", gerund(action), id, err)
	}
	return err
}

// gerund returns the -ing form of a transition's action.
func gerund(action string) string {
	if action == "cancel" {
		return "cancelling"
	}
	return strings.TrimSuffix(action, "e") + "ing"
}

// SetCurrentGeneration records the generation a run is working on.
func (o *ops) SetCurrentGeneration(ctx context.Context, id string, generation int) error {
	res, err := o.exec(ctx, `UPDATE runs SET current_generation = ?, updated = ? WHERE id = ?`,
		generation, fmtTime(now()), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("setting run %s generation: %w", id, constraint(err))
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
