package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// ErrInterrupted marks a task whose worker shut down while it ran. Such a
// task goes back to its queue at once and does not count as a failed try.
var ErrInterrupted = errors.New("interrupted by worker shutdown")

// ErrRequeue marks a task that this worker must leave to another worker of
// the same queue: it goes back to its queue at once and, like
// ErrInterrupted, does not count as a failed try. A coordinator returns it
// for a report of a run that another coordinator drives.
var ErrRequeue = errors.New("left to another worker")

// Defaults of WorkerOptions.
const (
	DefaultQueue                    = "default"
	DefaultShutdownTimeout          = 30 * time.Second
	DefaultDelayedTaskCheckInterval = time.Second
)

// WorkerOptions configures a Worker. Every zero field means its default.
type WorkerOptions struct {
	// Concurrency is how many tasks run at once. Default 1.
	Concurrency int

	// Queues maps queue names to priorities (> 0): with the default
	// weighted order, a queue of priority 6 is served 6 times as often as
	// one of priority 1. Default {"default": 1}.
	Queues map[string]int

	// StrictPriority serves a queue only when every queue of higher
	// priority is empty. Default false.
	StrictPriority bool

	// ShutdownTimeout is how long in-flight tasks get, after their context
	// is cancelled, to checkpoint and return; a task still running after
	// it is pushed back to its queue and abandoned. Default 30s.
	ShutdownTimeout time.Duration

	// RetryDelay says when a failed task runs again, given how many
	// attempts failed before and the error. Default RetryDelay.
	RetryDelay func(retried int, err error) time.Duration

	// TaskCheckInterval is how long an idle worker waits before polling
	// empty queues again. Default 1s (asynq's).
	TaskCheckInterval time.Duration

	// DelayedTaskCheckInterval is how often scheduled and retrying tasks
	// whose time has come move to pending. Default 1s.
	DelayedTaskCheckInterval time.Duration

	// HealthCheck, if set, is called every HealthCheckInterval with the
	// result of pinging Redis (nil when healthy).
	HealthCheck func(error)

	// HealthCheckInterval defaults to 15s.
	HealthCheckInterval time.Duration
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if len(o.Queues) == 0 {
		o.Queues = map[string]int{DefaultQueue: 1}
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.RetryDelay == nil {
		o.RetryDelay = RetryDelay
	}
	if o.DelayedTaskCheckInterval <= 0 {
		o.DelayedTaskCheckInterval = DefaultDelayedTaskCheckInterval
	}
	return o
}

func (o WorkerOptions) validate() error {
	for q, p := range o.Queues {
		if strings.TrimSpace(q) == "" {
			return errors.New("worker queues: empty queue name")
		}
		if p <= 0 {
			return fmt.Errorf("worker queues: queue %q has priority %d; want > 0", q, p)
		}
	}
	return nil
}

// RetryDelay is the default retry policy: no delay after a lost lease (the
// worker died; asynq noticed late already), an interrupted shutdown or
// ErrRequeue, and asynq's exponential back-off (15s, 16s, 31s, 96s, ...
// plus jitter) after a handler error.
func RetryDelay(retried int, err error) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) || errors.Is(err, ErrInterrupted) || errors.Is(err, ErrRequeue) {
		return 0
	}
	return asynq.DefaultRetryDelayFunc(retried, err, nil)
}

// isFailure keeps interruptions and requeued tasks out of the retry count.
func isFailure(err error) bool {
	return err != nil && !errors.Is(err, ErrInterrupted) && !errors.Is(err, ErrRequeue)
}

// Worker serves queues with a handler. Create it with Broker.NewWorker;
// use Run, or Start and Shutdown.
type Worker struct {
	srv      *asynq.Server
	rdb      *redis.Client
	opts     WorkerOptions
	log      *slog.Logger
	stopping context.Context // cancelled when shutdown begins
	stop     context.CancelFunc
	once     sync.Once
	handler  asynq.Handler
}

// NewWorker returns a worker that runs h for tasks of opts.Queues. Each
// task's context is cancelled when the worker shuts down; a handler that
// then returns (typically ctx.Err(), after checkpointing) has its task put
// back in the queue without a retry counted.
func (b *Broker) NewWorker(h Handler, opts WorkerOptions) (*Worker, error) {
	if h == nil {
		return nil, errors.New("creating worker: nil handler")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("creating worker: %w", err)
	}
	stopping, stop := context.WithCancel(context.Background())
	w := &Worker{rdb: b.newRedis(), opts: opts, log: b.log, stopping: stopping, stop: stop}
	w.srv = asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
		Concurrency:              opts.Concurrency,
		Queues:                   opts.Queues,
		StrictPriority:           opts.StrictPriority,
		RetryDelayFunc:           func(n int, err error, _ *asynq.Task) time.Duration { return opts.RetryDelay(n, err) },
		IsFailure:                isFailure,
		ShutdownTimeout:          opts.ShutdownTimeout,
		TaskCheckInterval:        opts.TaskCheckInterval,
		DelayedTaskCheckInterval: opts.DelayedTaskCheckInterval,
		HealthCheckFunc:          opts.HealthCheck,
		HealthCheckInterval:      opts.HealthCheckInterval,
		Logger:                   NewLogger(b.log),
		LogLevel:                 logLevel(b.log),
	})
	w.handler = w.wrap(h.asynq())
	return w, nil
}

// wrap gives each task a context that the worker's shutdown cancels, and
// marks errors caused by that cancellation as interruptions.
func (w *Worker) wrap(h asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		tctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		unhook := context.AfterFunc(w.stopping, func() { cancel(ErrInterrupted) })
		defer unhook()
		err := h.ProcessTask(tctx, t)
		if err == nil || !errors.Is(context.Cause(tctx), ErrInterrupted) {
			return err
		}
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		if retried >= maxRetry {
			// asynq archives a failed task with no retries left, even an
			// uncounted failure. Hold it instead until the shutdown
			// timeout pushes it back to the queue as it is.
			w.log.Warn("holding interrupted task until shutdown timeout", "task", id, "retried", retried)
			<-ctx.Done()
			return fmt.Errorf("%w: %v", ErrInterrupted, err)
		}
		w.log.Info("task interrupted; back to its queue", "task", id, "type", t.Type())
		return fmt.Errorf("%w: %v", ErrInterrupted, err)
	})
}

// Start starts serving in the background.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.handler); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	w.log.Info("worker started", "queues", fmtQueues(w.opts.Queues), "concurrency", w.opts.Concurrency)
	return nil
}

// Shutdown stops taking tasks, cancels the context of every running task,
// waits up to ShutdownTimeout for them to return, pushes back to the queue
// any still running, and releases the worker's connections.
func (w *Worker) Shutdown() {
	w.once.Do(func() {
		w.log.Info("worker stopping", "timeout", w.opts.ShutdownTimeout)
		w.srv.Stop()
		w.stop()
		w.srv.Shutdown()
		w.rdb.Close()
		w.log.Info("worker stopped")
	})
}

// Run serves until ctx is cancelled, then shuts down gracefully. It
// returns nil after a graceful shutdown, or the error that kept it from
// starting.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(); err != nil {
		w.stop()
		w.rdb.Close()
		return err
	}
	<-ctx.Done()
	w.Shutdown()
	return nil
}

// ParseQueues parses "name=priority,name=priority" (a bare name has
// priority 1), as given to a --queues flag.
func ParseQueues(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, prio, hasPrio := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		p := 1
		if hasPrio {
			var err error
			p, err = strconv.Atoi(strings.TrimSpace(prio))
			if err != nil || p <= 0 {
				return nil, fmt.Errorf("queue %q: priority %q must be a positive integer", name, prio)
			}
		}
		if name == "" {
			return nil, fmt.Errorf("queue list %q: empty queue name", s)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("queue %q is listed twice", name)
		}
		out[name] = p
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("queue list %q names no queue", s)
	}
	return out, nil
}

func fmtQueues(q map[string]int) string {
	parts := make([]string, 0, len(q))
	for name, p := range q {
		parts = append(parts, name+"="+strconv.Itoa(p))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
