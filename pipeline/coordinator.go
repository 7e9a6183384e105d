// Package pipeline is the coordinator of searches: it owns the lineage
// database as its only writer, builds each generation's DAG of queue tasks
// (recombine -> mutate -> train -> evaluate, fanning in at select), enqueues
// a node when its parents are done, records the reports workers send on the
// control queue, and on every start reconciles each unfinished node against
// the queue so that a search survives the loss of any process, Redis
// included.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// pollInterval is how long an idle control worker waits before looking at
// the control queue again: short, since every DAG hop passes through it.
const pollInterval = 50 * time.Millisecond

// Options configures a Coordinator. Zero fields take the defaults in their
// comments.
type Options struct {
	// DB is the lineage database; the coordinator is its only writer.
	DB *storage.DB
	// Broker is the queue.
	Broker *runner.Broker
	// Logger; default discards.
	Logger *slog.Logger
	// Progress, if set, receives a line of progress after every recorded
	// report and every generation.
	Progress func(Progress)
	// ReconcileEvery is how often unfinished nodes are checked against the
	// queue while the run goes on, catching reports that never came (a
	// worker that died after its last retry). Default 10s.
	ReconcileEvery time.Duration
	// TrainQueue routes train and evaluate nodes; default tasks.QueueTrain.
	TrainQueue string
	// Discover, if set, is asked for more runs to drive on every reconcile
	// tick, and Drive keeps going while none is left: a long-lived
	// coordinator picks up runs submitted elsewhere (submit --detach).
	Discover func(ctx context.Context) ([]string, error)
}

// Progress is a snapshot of a run for progress displays.
type Progress struct {
	Run         string
	Generation  int
	Generations int
	Done        int // candidates of this generation evaluated or failed
	Total       int // candidates of this generation
	Failed      int
	Training    int      // candidates of this generation whose training a worker has started and not ended
	Hypervolume *float64 // of the last finished generation
	Message     string
	// Final is set during the run's final stage: Done and Total count its
	// retrainings then.
	Final bool
}

// Coordinator drives runs to the end.
type Coordinator struct {
	db      *storage.DB
	broker  *runner.Broker
	log     *slog.Logger
	opts    Options
	reports chan delivery
}

// delivery is a report handed from the control worker to the driving loop,
// which acknowledges it once recorded.
type delivery struct {
	rep  tasks.Report
	done chan error
}

// New returns a coordinator.
func New(opts Options) (*Coordinator, error) {
	if opts.DB == nil || opts.Broker == nil {
		return nil, errors.New("coordinator: a database and a broker are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = 10 * time.Second
	}
	if opts.TrainQueue == "" {
		opts.TrainQueue = tasks.QueueTrain
	}
	return &Coordinator{db: opts.DB, broker: opts.Broker, log: opts.Logger, opts: opts,
		reports: make(chan delivery)}, nil
}

// NewRunID returns a fresh run id: time-ordered and unique.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "r" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Submit stores a new run of cfg (already validated) and returns its id.
// Nothing is enqueued until a coordinator drives it.
func (c *Coordinator) Submit(ctx context.Context, cfg config.Config) (string, error) {
	return Submit(ctx, c.db, cfg)
}

// Submit stores a new pending run of cfg in db and returns its id.
func Submit(ctx context.Context, db *storage.DB, cfg config.Config) (string, error) {
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	y, err := cfg.YAML()
	if err != nil {
		return "", fmt.Errorf("encoding run config: %w", err)
	}
	id := NewRunID()
	err = db.CreateRun(ctx, storage.Run{
		ID: id, Status: storage.RunPending, Seed: cfg.Seed, Config: string(y), ConfigHash: cfg.Hash(),
		Algorithm: cfg.Algorithm.Name, Population: cfg.Population, Generations: cfg.Generations,
	})
	if err != nil {
		return "", fmt.Errorf("creating run: %w", err)
	}
	return id, nil
}

// Drive coordinates the given runs until each is finished, failed,
// cancelled or paused, or ctx ends. It first reconciles every unfinished
// node against the queue. A paused run is not taken up (StartRun refuses
// it) and a run paused while driven is dropped: nothing of it is enqueued
// until it is resumed, but the reports of its tasks already in the queue
// are still recorded while Drive runs, so their work is kept for the
// resume.
func (c *Coordinator) Drive(ctx context.Context, runIDs ...string) error {
	runs := make(map[string]*run, len(runIDs))
	held := map[string]*run{} // paused runs whose reports are recorded
	if err := c.adopt(ctx, runs, runIDs); err != nil {
		return err
	}
	if len(runs) == 0 && c.opts.Discover == nil {
		return nil
	}

	control, err := c.broker.NewWorker(asynq.HandlerFunc(c.receive), runner.WorkerOptions{
		Concurrency:       1,
		Queues:            map[string]int{tasks.QueueControl: 1},
		TaskCheckInterval: pollInterval,
	})
	if err != nil {
		return fmt.Errorf("starting control worker: %w", err)
	}
	if err := control.Start(); err != nil {
		return fmt.Errorf("starting control worker: %w", err)
	}
	defer control.Shutdown()

	// failRun records a run's failure; a long-lived coordinator drops the
	// run and goes on with the others.
	failRun := func(r *run, err error) error {
		ferr := c.fail(ctx, r, err)
		if c.opts.Discover == nil {
			return ferr
		}
		delete(runs, r.row.ID)
		return nil
	}
	for _, r := range runs {
		if err := c.reconcile(ctx, r); err != nil {
			if err := failRun(r, err); err != nil {
				return err
			}
			continue
		}
	}
	tick := time.NewTicker(c.opts.ReconcileEvery)
	defer tick.Stop()
	for {
		for id, r := range runs {
			done, err := c.advance(ctx, r)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := failRun(r, err); err != nil {
					return err
				}
				continue
			}
			if done {
				delete(runs, id)
				if r.row.Status == storage.RunPaused {
					c.log.Info("run paused; its queued tasks are still recorded", "run", id)
					held[id] = r
				}
			}
		}
		if len(runs) == 0 && c.opts.Discover == nil {
			return nil
		}
		select {
		case d := <-c.reports:
			r, ok := runs[nodeRun(d.rep.Node)]
			if !ok {
				d.done <- c.recordPaused(ctx, held, d.rep)
				continue
			}
			err := c.record(ctx, r, d.rep)
			d.done <- err
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := failRun(r, err); err != nil {
					return err
				}
				continue
			}
		case <-tick.C:
			c.release(ctx, held)
			if c.opts.Discover != nil {
				ids, err := c.opts.Discover(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return err
				}
				var fresh []string
				for _, id := range ids {
					if _, ok := runs[id]; !ok {
						fresh = append(fresh, id)
					}
				}
				before := len(runs)
				if err := c.adopt(ctx, runs, fresh); err != nil {
					return err
				}
				for id, r := range runs {
					if slices.Contains(fresh, id) {
						if err := c.reconcile(ctx, r); err != nil {
							if err := failRun(r, err); err != nil {
								return err
							}
							continue
						}
					}
				}
				if len(runs) > before {
					continue
				}
			}
			for _, r := range runs {
				if err := c.reconcile(ctx, r); err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					if err := failRun(r, err); err != nil {
						return err
					}
					continue
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// adopt loads runs to drive and marks them running; ended and paused runs
// are skipped.
func (c *Coordinator) adopt(ctx context.Context, runs map[string]*run, ids []string) error {
	for _, id := range ids {
		r, err := c.load(ctx, id)
		if err != nil {
			return err
		}
		err = c.db.StartRun(ctx, id)
		if errors.Is(err, storage.ErrInvalidTransition) {
			c.log.Info("not driving run", "run", id, "status", r.row.Status)
			continue
		}
		if err != nil {
			return err
		}
		r.row.Status = storage.RunRunning
		runs[id] = r
	}
	return nil
}

// recordPaused records a report of a run that is not driven here if the
// run is paused: a task queued before the pause finished. Nothing is
// enqueued for it; what the report unblocks waits for the resume.
func (c *Coordinator) recordPaused(ctx context.Context, held map[string]*run, rep tasks.Report) error {
	id := nodeRun(rep.Node)
	r, ok := held[id]
	if !ok {
		row, err := c.db.GetRun(ctx, id)
		if err != nil || row.Status != storage.RunPaused {
			return fmt.Errorf("report for %s: no such run is driven here", rep.Node)
		}
		if r, err = c.load(ctx, id); err != nil {
			return err
		}
		held[id] = r
	}
	// An error leaves the report in the queue, retried until the run is
	// driven again; the run stays paused.
	return c.record(ctx, r, rep)
}

// release drops the held runs that are no longer paused: resumed (a
// coordinator with Discover takes them up again), cancelled, or finished by
// the last reports.
func (c *Coordinator) release(ctx context.Context, held map[string]*run) {
	for id := range held {
		row, err := c.db.GetRun(ctx, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			c.log.Warn("reading a paused run", "run", id, "err", err)
			continue
		}
		if err != nil || row.Status != storage.RunPaused {
			delete(held, id)
		}
	}
}

// receive is the control worker's handler: it hands the report to the
// driving loop and waits until it is recorded, so an unrecorded report
// stays in the queue.
func (c *Coordinator) receive(ctx context.Context, t *asynq.Task) error {
	rep, err := tasks.DecodeControl(t.Type(), t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	d := delivery{rep: rep, done: make(chan error, 1)}
	select {
	case c.reports <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-d.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail marks a run failed after an error the coordinator cannot get past.
func (c *Coordinator) fail(ctx context.Context, r *run, err error) error {
	c.log.Error("run failed", "run", r.row.ID, "err", err)
	ctx = context.WithoutCancel(ctx)
	if serr := c.db.SetRunStatus(ctx, r.row.ID, storage.RunFailed, err.Error()); serr != nil {
		return errors.Join(err, serr)
	}
	c.event(ctx, r, "run.failed", map[string]any{"error": err.Error()})
	return fmt.Errorf("run %s: %w", r.row.ID, err)
}

func nodeRun(id string) string {
	n, err := tasks.ParseNode(id)
	if err != nil {
		return ""
	}
	return n.Run
}
