package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
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

// TaskInfo is what the queue keeps of a job.
type TaskInfo struct {
	State        TaskState
	Retried      int
	MaxRetry     int
	LastErr      string    // the error of the last failed attempt
	LastFailedAt time.Time // zero if no attempt failed
	CompletedAt  time.Time // zero unless completed
	// NextProcessAt is when a pending, scheduled or retrying job runs next.
	NextProcessAt time.Time
	Result        []byte // what the handler wrote with Delivery.WriteResult
}

func infoOf(in *asynq.TaskInfo) *TaskInfo {
	return &TaskInfo{State: stateOf(in.State), Retried: in.Retried, MaxRetry: in.MaxRetry, LastErr: in.LastErr,
		LastFailedAt: in.LastFailedAt, CompletedAt: in.CompletedAt, NextProcessAt: in.NextProcessAt, Result: in.Result}
}

// LookupTask reports the state of the task with the given id in queue, and
// what the queue keeps of it (nil when missing: an unknown queue counts as missing).
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
func (b *Broker) LookupTask(ctx context.Context, queue, id string) (TaskState, *TaskInfo, error) {
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
				return stateOf(again.State), infoOf(again), nil
			}
			return "", nil, err
		}
		b.log.Info("forgot a task archived before it failed, to be enqueued again", "queue", queue, "task", id)
		return StateMissing, nil, nil
	}
	return st, infoOf(info), nil
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

// QueueStats counts the jobs of one queue by state.
type QueueStats struct {
	Queue                                                               string
	Pending, Active, Scheduled, Retry, Archived, Completed, Aggregating int
	// Paused: workers take no job from the queue (the monitor's pause).
	Paused bool
	// Latency is the age of the oldest pending job.
	Latency time.Duration
}

// QueueStats reads the counts of every queue, sorted by name.
func (b *Broker) QueueStats(ctx context.Context) ([]QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	queues, err := b.inspector.Queues()
	if err != nil {
		return nil, fmt.Errorf("listing queues: %w", err)
	}
	slices.Sort(queues)
	out := make([]QueueStats, 0, len(queues))
	for _, q := range queues {
		qi, err := b.inspector.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("reading queue %s: %w", q, err)
		}
		out = append(out, QueueStats{Queue: q, Pending: qi.Pending, Active: qi.Active, Scheduled: qi.Scheduled,
			Retry: qi.Retry, Archived: qi.Archived, Completed: qi.Completed, Aggregating: qi.Aggregating,
			Paused: qi.Paused, Latency: qi.Latency})
	}
	return out, nil
}

// ActiveJobs lists the ids of the jobs that workers hold in queue.
func (b *Broker) ActiveJobs(ctx context.Context, queue string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	infos, err := b.inspector.ListActiveTasks(queue)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing active jobs of %s: %w", queue, err)
	}
	ids := make([]string, len(infos))
	for i, in := range infos {
		ids[i] = in.ID
	}
	return ids, nil
}

// ArchivePending archives every pending job of queue, as an operator does
// from the queue monitor, and says how many.
func (b *Broker) ArchivePending(ctx context.Context, queue string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.inspector.ArchiveAllPendingTasks(queue)
	if err != nil {
		return 0, fmt.Errorf("archiving pending jobs of %s: %w", queue, err)
	}
	return n, nil
}

// Monitor returns the queue monitor's web UI served under root (asynqmon):
// queues, jobs and their errors; readOnly hides its buttons that change
// jobs. Each request uses connections of its own with the broker's
// settings; close the monitor when done.
func (b *Broker) Monitor(root string, readOnly bool) *Monitor {
	return &Monitor{h: asynqmon.New(asynqmon.Options{RootPath: root, RedisConnOpt: monitorConn{b}, ReadOnly: readOnly})}
}

// Monitor is the queue monitor's handler.
type Monitor struct{ h *asynqmon.HTTPHandler }

// ServeHTTP serves the monitor.
func (m *Monitor) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.h.ServeHTTP(w, r) }

// Close releases the monitor's connections.
func (m *Monitor) Close() error { return m.h.Close() }

// monitorConn hands asynqmon a fresh client with the broker's connection
// settings each time it asks, so that closing the monitor closes only its
// own connections.
type monitorConn struct{ b *Broker }

func (c monitorConn) MakeRedisClient() any { return c.b.newRedis() }
