package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Job is a unit of work in the queue's own terms: which handler runs it,
// its payload, and how the queue keeps and retries it. The rest of the
// project enqueues and handles Jobs; how they map onto asynq stays here.
type Job struct {
	// Kind selects the handler (Mux.Handle).
	Kind string
	// ID is unique within its queue: EnqueueOnce does nothing when a job
	// with the same ID is there in any state, completed ones included
	// within their Retention.
	ID string
	// Queue is the queue's name; empty means DefaultQueue.
	Queue   string
	Payload []byte
	// Timeout bounds one attempt; zero leaves the queue's default (30
	// minutes).
	Timeout time.Duration
	// MaxRetry is how many times a failed attempt is tried again.
	MaxRetry int
	// Retention is how long a completed job and its result stay in the
	// queue; zero drops it at once.
	Retention time.Duration
}

// task is j as asynq enqueues it.
func (j Job) task() (*asynq.Task, []asynq.Option) {
	opts := []asynq.Option{asynq.MaxRetry(j.MaxRetry)}
	if j.ID != "" {
		opts = append(opts, asynq.TaskID(j.ID))
	}
	if j.Queue != "" {
		opts = append(opts, asynq.Queue(j.Queue))
	}
	if j.Timeout > 0 {
		opts = append(opts, asynq.Timeout(j.Timeout))
	}
	if j.Retention > 0 {
		opts = append(opts, asynq.Retention(j.Retention))
	}
	return asynq.NewTask(j.Kind, j.Payload), opts
}

// SkipRetry, wrapped in a handler's error, ends the job at once: the queue
// archives it as failed without trying it again.
var SkipRetry = asynq.SkipRetry

// Delivery is one attempt of a job, as a worker's handler receives it.
type Delivery struct {
	Kind    string
	ID      string
	Payload []byte
	// Retried is how many attempts failed before this one; MaxRetry how
	// many retries the job has in all.
	Retried, MaxRetry int

	result *asynq.ResultWriter
}

// LastAttempt reports whether a failure of this attempt ends the job (no
// retry is left).
func (d *Delivery) LastAttempt() bool { return d.Retried >= d.MaxRetry }

// WriteResult keeps data with the job once it completes, for its
// retention: LookupTask's TaskInfo.Result.
func (d *Delivery) WriteResult(data []byte) error {
	if d.result == nil {
		return nil
	}
	if _, err := d.result.Write(data); err != nil {
		return fmt.Errorf("writing result of %s: %w", d.ID, err)
	}
	return nil
}

// Handler runs one attempt of a job. Returning nil completes the job; an
// error retries it while retries are left (none when it wraps SkipRetry).
type Handler func(ctx context.Context, d *Delivery) error

// asynqHandler adapts h to asynq.
func (h Handler) asynq() asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		d := &Delivery{Kind: t.Type(), Payload: t.Payload(), result: t.ResultWriter()}
		d.ID, _ = asynq.GetTaskID(ctx)
		d.Retried, _ = asynq.GetRetryCount(ctx)
		d.MaxRetry, _ = asynq.GetMaxRetry(ctx)
		return h(ctx, d)
	})
}

// ErrNoHandler is the error of a job whose kind has no handler in a Mux.
var ErrNoHandler = errors.New("no handler for job kind")

// Mux routes jobs to handlers by kind.
type Mux struct{ routes map[string]Handler }

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{routes: map[string]Handler{}} }

// Handle routes jobs of kind to h.
func (m *Mux) Handle(kind string, h Handler) { m.routes[kind] = h }

// Handler returns the handler that dispatches on a job's kind; a job of an
// unknown kind fails with ErrNoHandler and is retried, as it may be meant
// for a newer worker.
func (m *Mux) Handler() Handler {
	return func(ctx context.Context, d *Delivery) error {
		h, ok := m.routes[d.Kind]
		if !ok {
			return fmt.Errorf("%w %q", ErrNoHandler, d.Kind)
		}
		return h(ctx, d)
	}
}
