// Package pipeline is the coordinator of searches: it owns the lineage
// database as its only writer, builds each generation's DAG of queue tasks
// (recombine -> mutate -> train -> evaluate, fanning in at select), enqueues
// a node when its parents are done, records the reports workers send on the
// control queue, and on every start reconciles each unfinished node against
// the queue so that a search survives the loss of any process, Redis
// included. A coordinator drives a run only while it holds the run's lease
// in the database, so that two coordinators never write to one run; and it
// rides out Redis outages shorter than its broker's
// runner.Options.OutageLimit.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// DB is the lineage database; the coordinator that holds a run's lease
	// is the only writer of the run.
	DB *storage.DB
	// Broker is the queue. Its runner.Options.OutageLimit is how long the
	// coordinator rides out a Redis outage (reconcile and enqueue wait,
	// retrying) before the run fails.
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
	// Owner names this coordinator in the leases of the runs it drives; it
	// must be unique among live coordinators. Default host:pid:random.
	Owner string
	// Lease is how long a run's lease lasts without renewal; Drive renews
	// the leases it holds every Lease/3. A coordinator that dies without
	// releasing them (SIGKILL, power loss) keeps its runs from others that
	// long, except from coordinators on its own machine, which see at once
	// that its process is gone. Default DefaultLease (30s); at least
	// MinLease.
	Lease time.Duration
	// Held, if set, is called when a run to drive is held by another
	// coordinator, once per holder: Drive waits for the lease of a run it
	// was asked to drive, and tries a discovered one again on later ticks.
	Held func(storage.Lease)
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
	owner   string // Options.Owner
	process string // this process, as its machine tells whether it lives
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
	if opts.Lease == 0 {
		opts.Lease = DefaultLease
	}
	if opts.Lease < MinLease {
		return nil, fmt.Errorf("coordinator: lease %v is shorter than %v", opts.Lease, MinLease)
	}
	if opts.Owner == "" {
		opts.Owner = newOwner()
	}
	return &Coordinator{db: opts.DB, broker: opts.Broker, log: opts.Logger, opts: opts, owner: opts.Owner,
		process: selfProcess(), reports: make(chan delivery)}, nil
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
// cancelled or paused, or ctx ends. It drives a run only while it holds
// the run's lease (see lease.go): a run that another coordinator drives
// waits until that one lets it go, or dies and its lease expires. Taking a
// run up, it first reconciles every unfinished node against the queue. A
// paused run is not taken up (StartRun refuses it) and a run paused while
// driven is dropped: nothing of it is enqueued until it is resumed, but
// the reports of its tasks already in the queue are still recorded while
// Drive runs, so their work is kept for the resume. Drive must not run
// twice at once on one Coordinator.
func (c *Coordinator) Drive(ctx context.Context, runIDs ...string) error {
	s := c.newSession()
	defer s.close(ctx)
	for _, id := range runIDs {
		// A long-lived coordinator tries them once here; Discover finds
		// them again while they are pending or running.
		s.asked[id], s.waiting[id] = c.opts.Discover == nil, true
	}
	if c.opts.Discover != nil {
		if err := s.startControl(); err != nil {
			return err
		}
	}
	if err := s.takeWaiting(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(c.opts.ReconcileEvery)
	defer tick.Stop()
	leaseTick := time.NewTicker(c.opts.Lease / 3)
	defer leaseTick.Stop()
	for {
		s.dropLost()
		for _, r := range s.runs {
			done, err := c.advance(ctx, r)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := s.stop(ctx, r, err); err != nil {
					return err
				}
				continue
			}
			if done {
				s.ended(ctx, r)
			}
		}
		if len(s.runs) == 0 && len(s.waiting) == 0 && c.opts.Discover == nil {
			return nil
		}
		select {
		case d := <-c.reports:
			if err := s.deliver(ctx, d); err != nil {
				return err
			}
		case <-tick.C:
			if err := s.tick(ctx); err != nil {
				return err
			}
		case <-leaseTick.C:
			if err := s.takeWaiting(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tick releases the held runs no longer paused, tries again the asked runs
// held elsewhere, takes up the runs that Discover finds, and reconciles
// the runs driven.
func (s *session) tick(ctx context.Context) error {
	c := s.c
	s.releaseHeld(ctx)
	if err := s.takeWaiting(ctx); err != nil {
		return err
	}
	if c.opts.Discover != nil {
		ids, err := c.opts.Discover(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		took := false
		for _, id := range ids {
			if _, ok := s.runs[id]; ok {
				continue
			}
			st, err := s.take(ctx, id)
			if err != nil {
				return err
			}
			took = took || st == taking
		}
		if took {
			return nil // reconciled as they were taken up; the others next time
		}
	}
	for _, r := range s.runs {
		if err := c.reconcile(ctx, r); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := s.stop(ctx, r, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliver records a report handed over by the control worker and tells it
// how that went: a report of a run driven elsewhere goes back to the
// queue (runner.ErrRequeue) for its coordinator.
func (s *session) deliver(ctx context.Context, d delivery) error {
	id := nodeRun(d.rep.Node)
	r, ok := s.runs[id]
	if !ok {
		d.done <- s.recordPaused(ctx, d.rep)
		return nil
	}
	err := s.c.record(ctx, r, d.rep)
	if errors.Is(err, storage.ErrLeaseLost) {
		err = fmt.Errorf("%w: %w", runner.ErrRequeue, err)
	}
	d.done <- err
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return s.stop(ctx, r, err)
}

// recordPaused records a report of a run that is not driven here if the
// run is paused: a task queued before the pause finished. It takes the
// run's lease first and keeps it while the run stays paused. Nothing is
// enqueued for it; what the report unblocks waits for the resume.
func (s *session) recordPaused(ctx context.Context, rep tasks.Report) error {
	c := s.c
	id := nodeRun(rep.Node)
	r, ok := s.held[id]
	if !ok {
		row, err := c.db.GetRun(ctx, id)
		if err != nil || row.Status != storage.RunPaused {
			if l, lerr := c.db.GetLease(ctx, id); lerr == nil && l.Owner != c.owner && !l.Expired(time.Now()) {
				return fmt.Errorf("%w: report for %s: run %s is driven by coordinator %s", runner.ErrRequeue, rep.Node, id, l.Owner)
			}
			return fmt.Errorf("report for %s: no such run is driven here", rep.Node)
		}
		if _, err := c.db.AcquireLease(ctx, c.leaseRequest(id)); err != nil {
			if errors.Is(err, storage.ErrLeaseHeld) {
				return fmt.Errorf("%w: report for %s: %w", runner.ErrRequeue, rep.Node, err)
			}
			return err
		}
		s.leases.add(id)
		if r, err = c.load(ctx, id); err != nil {
			s.release(ctx, id)
			return err
		}
		s.held[id] = r
	}
	// An error leaves the report in the queue, retried until the run is
	// driven again; the run stays paused.
	err := c.record(ctx, r, rep)
	if errors.Is(err, storage.ErrLeaseLost) {
		s.lose(id, err)
		return fmt.Errorf("%w: %w", runner.ErrRequeue, err)
	}
	return err
}

// releaseHeld drops the held runs that are no longer paused, with their
// leases: resumed (a coordinator with Discover takes them up again),
// cancelled, or finished by the last reports.
func (s *session) releaseHeld(ctx context.Context) {
	for id := range s.held {
		row, err := s.c.db.GetRun(ctx, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.c.log.Warn("reading a paused run", "run", id, "err", err)
			continue
		}
		if err != nil || row.Status != storage.RunPaused {
			delete(s.held, id)
			s.release(ctx, id)
		}
	}
}

// receive is the control worker's handler: it hands the report to the
// driving loop and waits until it is recorded, so an unrecorded report
// stays in the queue.
func (c *Coordinator) receive(ctx context.Context, job *runner.Delivery) error {
	rep, err := tasks.DecodeControl(job.Kind, job.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", err, runner.SkipRetry)
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

// fail marks a run failed, while this coordinator holds its lease, after
// an error the coordinator cannot get past.
func (c *Coordinator) fail(ctx context.Context, r *run, cause error) error {
	c.log.Error("run failed", "run", r.row.ID, "err", cause)
	ctx = context.WithoutCancel(ctx)
	return c.update(ctx, r.row.ID, func(tx *storage.Tx) error {
		if err := tx.SetRunStatus(ctx, r.row.ID, storage.RunFailed, cause.Error()); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, storage.Event{RunID: r.row.ID, Kind: "run.failed",
			Message: mustJSON(map[string]any{"error": cause.Error()})})
		return err
	})
}

func nodeRun(id string) string {
	n, err := tasks.ParseNode(id)
	if err != nil {
		return ""
	}
	return n.Run
}
