package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// A run has one owner: the coordinator that holds its lease
// (storage.Lease). Drive takes a run's lease, in the same immediate
// transaction that marks the run running, before it drives it; a
// heartbeat renews every lease it holds each Lease/3; and every
// transaction that writes to the run checks first that the lease is still
// this coordinator's (Coordinator.update), so that a coordinator that
// stalled past its lease and was taken over writes nothing more: it drops
// the run (an asked one waits for the lease again). A run whose lease
// another coordinator holds waits (Drive's runs) or is skipped until a
// later tick (Discover's), and a report of it that reaches this
// coordinator's control worker goes back to the queue, uncounted
// (runner.ErrRequeue), for its owner. Drive releases its leases when it
// returns; the lease of a coordinator that dies without releasing it
// expires, or is taken over at once by a coordinator on the same machine
// that sees its process gone (processGone).

// DefaultLease is how long a run's lease lasts without renewal unless
// Options.Lease says otherwise.
const DefaultLease = 30 * time.Second

// MinLease is the shortest lease New accepts. A lease should rather last
// seconds: a coordinator that stalls longer (a loaded machine, a database
// busy for up to storage.BusyTimeout) is taken over.
const MinLease = 100 * time.Millisecond

// newOwner returns a coordinator name unique among live coordinators:
// host:pid:random.
func newOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// leaseRequest asks for run id's lease for this coordinator.
func (c *Coordinator) leaseRequest(id string) storage.LeaseRequest {
	return storage.LeaseRequest{Run: id, Owner: c.owner, Process: c.process, TTL: c.opts.Lease, TakeOver: c.ownerGone}
}

// ownerGone reports whether the holder of lease l is known to be dead: a
// coordinator of this machine whose process is gone.
func (c *Coordinator) ownerGone(l storage.Lease) bool {
	return l.Process != "" && l.Process != c.process && processGone(l.Process)
}

// update runs fn in one immediate transaction that first checks that this
// coordinator holds run's lease: every write to a run goes through it. It
// fails with storage.ErrLeaseLost, having written nothing, when another
// coordinator took the run over.
func (c *Coordinator) update(ctx context.Context, run string, fn func(tx *storage.Tx) error) error {
	return c.db.Update(ctx, func(tx *storage.Tx) error {
		if err := tx.CheckLease(ctx, run, c.owner); err != nil {
			return err
		}
		return fn(tx)
	})
}

// session is the state of one Drive.
type session struct {
	c       *Coordinator
	runs    map[string]*run   // leased and driven
	held    map[string]*run   // leased and paused: their queued tasks' reports are recorded
	asked   map[string]bool   // the runs Drive was asked to drive, and waits for (not with Discover)
	waiting map[string]bool   // asked runs not driven yet: another coordinator holds them
	seen    map[string]string // run -> the holder last passed to Options.Held
	leases  *leaseSet         // the runs whose lease this session holds
	control *runner.Worker    // started once a run is taken up
	stopHB  context.CancelFunc
	hbDone  chan struct{}
}

func (c *Coordinator) newSession() *session {
	s := &session{c: c, runs: map[string]*run{}, held: map[string]*run{}, asked: map[string]bool{},
		waiting: map[string]bool{}, seen: map[string]string{}, leases: newLeaseSet(), hbDone: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopHB = cancel
	go s.heartbeat(ctx)
	return s
}

// close stops the control worker and the heartbeat and releases every
// lease still held.
func (s *session) close(ctx context.Context) {
	if s.control != nil {
		s.control.Shutdown()
	}
	s.stopHB()
	<-s.hbDone
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storage.BusyTimeout)
	defer cancel()
	for _, id := range s.leases.list() {
		s.release(ctx, id)
	}
}

// startControl starts the control worker, which hands the reports of the
// control queue to the driving loop, unless it runs already.
func (s *session) startControl() error {
	if s.control != nil {
		return nil
	}
	control, err := s.c.broker.NewWorker(s.c.receive, runner.WorkerOptions{
		Concurrency:       1,
		Queues:            map[string]int{tasks.QueueControl: 1},
		TaskCheckInterval: pollInterval,
		// A report left to another coordinator comes back at once.
		DelayedTaskCheckInterval: 2 * pollInterval,
	})
	if err != nil {
		return fmt.Errorf("starting control worker: %w", err)
	}
	if err := control.Start(); err != nil {
		return fmt.Errorf("starting control worker: %w", err)
	}
	s.control = control
	return nil
}

// takeState is how taking up a run went.
type takeState int

const (
	taking   takeState = iota // leased, marked running, reconciled: driven
	heldElse                  // another coordinator holds its lease
	skipped                   // not to be driven: paused or ended
)

// take takes up run id: its lease, in the transaction that marks it
// running, then a reconcile against the queue. An error of the reconcile
// stops the run (see stop).
func (s *session) take(ctx context.Context, id string) (takeState, error) {
	c := s.c
	// Loading costs more than a look at the lease: skip a run held
	// elsewhere first. The transaction below decides.
	if l, err := c.db.GetLease(ctx, id); err == nil && l.Owner != c.owner && !l.Expired(time.Now()) && !c.ownerGone(l) {
		s.notice(l)
		return heldElse, nil
	}
	r, err := c.load(ctx, id)
	if err != nil {
		return 0, err
	}
	var lease storage.Lease
	err = c.db.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if lease, err = tx.AcquireLease(ctx, c.leaseRequest(id)); err != nil {
			return err
		}
		return tx.StartRun(ctx, id)
	})
	var le *storage.LeaseError
	var te *storage.TransitionError
	switch {
	case errors.As(err, &le):
		s.notice(le.Holder)
		return heldElse, nil
	case errors.As(err, &te):
		c.log.Info("not driving run", "run", id, "status", te.Status)
		return skipped, nil
	case err != nil:
		return 0, err
	}
	delete(s.seen, id)
	s.leases.add(id)
	c.log.Info("driving run", "run", id, "owner", c.owner, "lease_expires", lease.Expires)
	r.row.Status = storage.RunRunning
	s.runs[id] = r
	if err := s.startControl(); err != nil {
		return 0, err
	}
	if err := c.reconcile(ctx, r); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return taking, s.stop(ctx, r, err)
	}
	return taking, nil
}

// takeWaiting tries again to take up the asked runs that another
// coordinator held (a long-lived coordinator's first runs: once).
func (s *session) takeWaiting(ctx context.Context) error {
	for id := range s.waiting {
		st, err := s.take(ctx, id)
		if err != nil {
			return err
		}
		if st != heldElse || !s.asked[id] {
			delete(s.waiting, id)
		}
	}
	return nil
}

// notice tells, once per holder, that a run to drive is held elsewhere.
func (s *session) notice(l storage.Lease) {
	if s.seen[l.RunID] == l.Owner {
		return
	}
	s.seen[l.RunID] = l.Owner
	s.c.log.Info("run driven by another coordinator; waiting for its lease", "run", l.RunID, "owner", l.Owner,
		"lease_expires", l.Expires)
	if s.c.opts.Held != nil {
		s.c.opts.Held(l)
	}
}

// stop ends the driving of run r after err. A lost lease leaves the run to
// its new owner (an asked run waits for the lease again); any other error
// fails the run and ends Drive, unless Drive is long-lived (Discover),
// which goes on with its other runs.
func (s *session) stop(ctx context.Context, r *run, err error) error {
	id := r.row.ID
	if errors.Is(err, storage.ErrLeaseLost) {
		s.lose(id, err)
		return nil
	}
	ferr := s.c.fail(ctx, r, err)
	if errors.Is(ferr, storage.ErrLeaseLost) {
		s.lose(id, ferr)
		return nil
	}
	delete(s.runs, id)
	s.release(ctx, id)
	if ferr != nil {
		err = errors.Join(err, ferr)
	}
	if s.c.opts.Discover != nil {
		return nil
	}
	return fmt.Errorf("run %s: %w", id, err)
}

// ended drops a run that advance found no longer to be driven: a paused
// one is held, with its lease, for the reports of its queued tasks.
func (s *session) ended(ctx context.Context, r *run) {
	id := r.row.ID
	delete(s.runs, id)
	if r.row.Status == storage.RunPaused {
		s.c.log.Info("run paused; its queued tasks are still recorded", "run", id)
		s.held[id] = r
		return
	}
	s.release(ctx, id)
}

// lose drops a run whose lease another coordinator took over.
func (s *session) lose(id string, err error) {
	s.leases.remove(id)
	delete(s.runs, id)
	delete(s.held, id)
	s.c.log.Warn("lost the lease of a run; no longer driving it", "run", id, "err", err)
	if s.asked[id] {
		s.waiting[id] = true
	}
}

// dropLost drops the runs whose lease the heartbeat found taken over.
func (s *session) dropLost() {
	for id, err := range s.leases.takeLost() {
		s.lose(id, err)
	}
}

// release gives up the lease of run id.
func (s *session) release(ctx context.Context, id string) {
	s.leases.remove(id)
	if err := s.c.db.ReleaseLease(ctx, id, s.c.owner); err != nil {
		s.c.log.Warn("releasing a run's lease; it expires on its own", "run", id, "err", err)
	}
}

// heartbeat renews the session's leases every Lease/3 until ctx ends, and
// marks those found taken over.
func (s *session) heartbeat(ctx context.Context) {
	defer close(s.hbDone)
	c := s.c
	t := time.NewTicker(c.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, id := range s.leases.list() {
			_, err := c.db.RenewLease(ctx, id, c.owner, c.opts.Lease)
			switch {
			case errors.Is(err, storage.ErrLeaseLost):
				s.leases.markLost(id, err)
			case err != nil && ctx.Err() == nil:
				c.log.Warn("renewing a run's lease", "run", id, "err", err)
			}
		}
	}
}

// leaseSet is the runs whose lease a session holds, shared by the driving
// loop and the heartbeat.
type leaseSet struct {
	mu   sync.Mutex
	ids  map[string]bool
	lost map[string]error
}

func newLeaseSet() *leaseSet {
	return &leaseSet{ids: map[string]bool{}, lost: map[string]error{}}
}

func (l *leaseSet) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids[id] = true
	delete(l.lost, id)
}

func (l *leaseSet) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.ids, id)
	delete(l.lost, id)
}

func (l *leaseSet) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.ids))
	for id := range l.ids {
		out = append(out, id)
	}
	return out
}

// markLost records that the lease of id, if still held, was taken over.
func (l *leaseSet) markLost(id string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids[id] {
		delete(l.ids, id)
		l.lost[id] = err
	}
}

// takeLost returns and forgets the leases found taken over.
func (l *leaseSet) takeLost() map[string]error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lost
	l.lost = map[string]error{}
	return out
}
