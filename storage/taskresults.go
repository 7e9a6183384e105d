package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// FinishTask records a node's end in one statement: status done or failed,
// its result (JSON, nil for none) and error text.
func (o *ops) FinishTask(ctx context.Context, id string, status TaskStatus, result json.RawMessage, lastErr string) error {
	if status != TaskDone && status != TaskFailed {
		return fmt.Errorf("finishing task %s: status %q is not an end state", id, status)
	}
	var res any
	if result != nil {
		if !json.Valid(result) {
			return fmt.Errorf("finishing task %s: result is not valid JSON", id)
		}
		res = string(result)
	}
	r, err := o.exec(ctx, `UPDATE task_states SET status = ?, result = ?, last_error = ?, updated = ? WHERE id = ?`,
		status, res, lastErr, fmtTime(now()), id)
	if err == nil {
		err = affected(r)
	}
	if err != nil {
		return fmt.Errorf("finishing task %s: %w", id, err)
	}
	return nil
}

// TaskResult returns the result recorded for a node, or ErrNotFound when
// the node is unknown or has none.
func (o *ops) TaskResult(ctx context.Context, id string) (json.RawMessage, error) {
	var res sql.NullString
	err := o.r.QueryRowContext(ctx, `SELECT result FROM task_states WHERE id = ?`, id).Scan(&res)
	if err != nil {
		return nil, fmt.Errorf("getting task %s result: %w", id, notFound(err))
	}
	if !res.Valid {
		return nil, fmt.Errorf("getting task %s result: %w", id, ErrNotFound)
	}
	return json.RawMessage(res.String), nil
}
