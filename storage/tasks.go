package storage

import (
	"context"
	"fmt"
	"time"
)

// TaskStatus is the coordinator's view of one DAG node.
type TaskStatus string

// Task statuses. Pending, enqueued and running are unfinished: on start the
// coordinator reconciles them against the queue.
const (
	TaskPending  TaskStatus = "pending"  // recorded, not yet enqueued
	TaskEnqueued TaskStatus = "enqueued" // handed to the queue
	TaskRunning  TaskStatus = "running"  // a worker reported it started
	TaskDone     TaskStatus = "done"     // its result is recorded
	TaskFailed   TaskStatus = "failed"   // failed permanently
)

// Unfinished lists the statuses that reconcile-on-start checks.
var Unfinished = []TaskStatus{TaskPending, TaskEnqueued, TaskRunning}

func (s TaskStatus) valid() bool {
	switch s {
	case TaskPending, TaskEnqueued, TaskRunning, TaskDone, TaskFailed:
		return true
	}
	return false
}

// TaskState is one node of a run's DAG: a queue task with a deterministic id
// (run/gNNN/stage/NNNN[/aN]).
type TaskState struct {
	ID         string
	RunID      string
	Generation int
	Stage      string
	Index      int
	Attempt    int // deliberate re-run number, part of ID
	Kind       string
	Queue      string
	Status     TaskStatus // TaskPending when empty
	Attempts   int        // times it was reported running
	LastError  string
	Created    time.Time
	Updated    time.Time
}

const taskColumns = `id, run_id, generation, stage, idx, attempt, kind, queue, status, attempts, last_error, created, updated`

func scanTask(s interface{ Scan(...any) error }) (TaskState, error) {
	var t TaskState
	err := s.Scan(&t.ID, &t.RunID, &t.Generation, &t.Stage, &t.Index, &t.Attempt, &t.Kind, &t.Queue,
		&t.Status, &t.Attempts, &t.LastError, timeScan{&t.Created}, timeScan{&t.Updated})
	return t, err
}

// AddTaskStates stores DAG nodes that are not stored yet, in one
// transaction, and returns how many were new. A node whose id is already
// stored is left as it is, so recording a generation's DAG twice is
// harmless.
func (o *ops) AddTaskStates(ctx context.Context, ts ...TaskState) (added int, err error) {
	err = o.atomic(ctx, func(o *ops) error {
		t := now()
		for _, s := range ts {
			if s.Status == "" {
				s.Status = TaskPending
			}
			if !s.Status.valid() {
				return fmt.Errorf("task %s: unknown status %q", s.ID, s.Status)
			}
			if s.ID == "" || s.Kind == "" || s.Queue == "" {
				return fmt.Errorf("task %q: id, kind and queue are required", s.ID)
			}
			if s.Created.IsZero() {
				s.Created = t
			}
			if s.Updated.IsZero() {
				s.Updated = s.Created
			}
			res, err := o.exec(ctx, `INSERT INTO task_states (`+taskColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				s.ID, s.RunID, s.Generation, s.Stage, s.Index, s.Attempt, s.Kind, s.Queue, s.Status,
				s.Attempts, s.LastError, fmtTime(s.Created), fmtTime(s.Updated))
			if err != nil {
				return fmt.Errorf("task %s: %w", s.ID, constraint(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("adding task states: %w", err)
	}
	return added, nil
}

// SetTaskStatus moves a node to status with the error text (empty clears
// it). Moving to TaskRunning counts an attempt.
func (o *ops) SetTaskStatus(ctx context.Context, id string, status TaskStatus, lastErr string) error {
	if !status.valid() {
		return fmt.Errorf("setting task %s status: unknown status %q", id, status)
	}
	inc := 0
	if status == TaskRunning {
		inc = 1
	}
	res, err := o.exec(ctx, `UPDATE task_states SET status = ?, last_error = ?, attempts = attempts + ?, updated = ?
		WHERE id = ?`, status, lastErr, inc, fmtTime(now()), id)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("setting task %s status: %w", id, err)
	}
	return nil
}

// GetTaskState returns one node, or ErrNotFound.
func (o *ops) GetTaskState(ctx context.Context, id string) (TaskState, error) {
	t, err := scanTask(o.r.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM task_states WHERE id = ?`, id))
	if err != nil {
		return TaskState{}, fmt.Errorf("getting task %s: %w", id, notFound(err))
	}
	return t, nil
}

// ListTaskStates returns a run's nodes with any of the given statuses (all
// when none is given), in DAG id order. ListTaskStates(ctx, run,
// Unfinished...) is what reconcile-on-start walks.
func (o *ops) ListTaskStates(ctx context.Context, runID string, statuses ...TaskStatus) ([]TaskState, error) {
	q := `SELECT ` + taskColumns + ` FROM task_states WHERE run_id = ?`
	args := []any{runID}
	if len(statuses) > 0 {
		q += ` AND status IN (` + placeholders(len(statuses)) + `)`
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	rows, err := o.r.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing tasks of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []TaskState
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tasks of %s: %w", runID, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tasks of %s: %w", runID, err)
	}
	return out, nil
}
