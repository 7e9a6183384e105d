package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// TaskState is where a task is in the queue.
type TaskState string

// Task states. Missing means the queue has no record of the task: never
// enqueued, lost with Redis, deleted, or completed longer ago than its
// retention.
const (
	StatePending     TaskState = "pending"     // waiting for a worker
	StateActive      TaskState = "active"      // a worker has it (or had it, and its lease will expire)
	StateScheduled   TaskState = "scheduled"   // waiting for its process-at time
	StateRetry       TaskState = "retry"       // failed, waiting to run again
	StateCompleted   TaskState = "completed"   // succeeded; kept for its retention
	StateArchived    TaskState = "archived"    // failed permanently or out of retries (see LookupTask)
	StateAggregating TaskState = "aggregating" // in an asynq group (unused by star-pipeline)
	StateMissing     TaskState = "missing"
)

// InQueue reports whether the task will still run without being enqueued
// again: pending, active, scheduled, retry or aggregating.
func (s TaskState) InQueue() bool {
	switch s {
	case StatePending, StateActive, StateScheduled, StateRetry, StateAggregating:
		return true
	}
	return false
}

func stateOf(s asynq.TaskState) TaskState {
	switch s {
	case asynq.TaskStatePending:
		return StatePending
	case asynq.TaskStateActive:
		return StateActive
	case asynq.TaskStateScheduled:
		return StateScheduled
	case asynq.TaskStateRetry:
		return StateRetry
	case asynq.TaskStateCompleted:
		return StateCompleted
	case asynq.TaskStateArchived:
		return StateArchived
	case asynq.TaskStateAggregating:
		return StateAggregating
	}
	return TaskState(s.String())
}

// LookupTask reports the state of the task with the given id in queue, and
// its asynq record (nil when missing: an unknown queue counts as missing).
// Reconcile-on-start calls it for every unfinished node: missing means
// enqueue again (with the same id), archived means the task failed for
// good, completed means its result message may still be on its way.
//
// A task archived without an error never failed: someone archived it
// while it waited (the queue monitor's archive buttons, or asynq's
// ArchiveTask). That is no verdict on the task, so LookupTask deletes its
// record, logs that, and reports it missing: reconcile, on the next start
// or periodic check of the run's coordinator, enqueues it again instead of
// recording a failure. A task archived after failing keeps its state.
//
// While Redis is unreachable it retries for Options.OutageLimit.
func (b *Broker) LookupTask(ctx context.Context, queue, id string) (TaskState, *asynq.TaskInfo, error) {
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	var info *asynq.TaskInfo
	err := b.retry(ctx, "looking up task "+id, func() error {
		var err error
		info, err = b.inspector.GetTaskInfo(queue, id)
		return err
	})
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return StateMissing, nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("looking up task %s in queue %s: %w", id, queue, err)
	}
	st := stateOf(info.State)
	if st == StateArchived && info.LastErr == "" {
		if err := b.DeleteTask(ctx, queue, id); err != nil {
			// It may have left the archive meanwhile (run again from the
			// monitor); then it is wherever it went.
			if again, aerr := b.inspector.GetTaskInfo(queue, id); aerr == nil && again.State != asynq.TaskStateArchived {
				return stateOf(again.State), again, nil
			}
			return "", nil, err
		}
		b.log.Info("forgot a task archived before it failed, to be enqueued again", "queue", queue, "task", id)
		return StateMissing, nil, nil
	}
	return st, info, nil
}

// DeleteTask removes a task record that is not active (for example an
// archived or completed one) so that its id can be enqueued again. A
// missing task is not an error. While Redis is unreachable it retries for
// Options.OutageLimit.
func (b *Broker) DeleteTask(ctx context.Context, queue, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.retry(ctx, "deleting task "+id, func() error { return b.inspector.DeleteTask(queue, id) })
	if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	return fmt.Errorf("deleting task %s from queue %s: %w", id, queue, err)
}
