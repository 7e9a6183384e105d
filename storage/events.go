package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event is one entry of a run's event log.
type Event struct {
	ID      int64 // assigned by AppendEvent, increasing
	RunID   string
	Time    time.Time       // now when zero
	Kind    string          // e.g. "generation.started", "candidate.failed"
	Message json.RawMessage // JSON; {} when nil
}

// AppendEvent adds an event to a run's log and returns its id.
func (o *ops) AppendEvent(ctx context.Context, e Event) (int64, error) {
	if e.Kind == "" {
		return 0, errors.New("appending event: no kind")
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	msg := "{}"
	if e.Message != nil {
		if !json.Valid(e.Message) {
			return 0, fmt.Errorf("appending %s event: message is not valid JSON", e.Kind)
		}
		msg = string(e.Message)
	}
	res, err := o.exec(ctx, `INSERT INTO events (run_id, time, kind, message) VALUES (?, ?, ?, ?)`,
		e.RunID, fmtTime(e.Time), e.Kind, msg)
	if err != nil {
		return 0, fmt.Errorf("appending %s event to %s: %w", e.Kind, e.RunID, constraint(err))
	}
	return res.LastInsertId()
}

// ListEvents returns up to limit events of a run with ids above afterID,
// oldest first; limit <= 0 means no limit. Pass the last id seen as afterID
// to follow a log.
func (o *ops) ListEvents(ctx context.Context, runID string, afterID int64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := o.r.QueryContext(ctx, `SELECT id, run_id, time, kind, message FROM events
		WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`, runID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("listing events of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var msg string
		if err := rows.Scan(&e.ID, &e.RunID, timeScan{&e.Time}, &e.Kind, &msg); err != nil {
			return nil, fmt.Errorf("listing events of %s: %w", runID, err)
		}
		e.Message = json.RawMessage(msg)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing events of %s: %w", runID, err)
	}
	return out, nil
}
