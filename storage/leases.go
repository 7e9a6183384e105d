package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lease is a coordinator's claim to drive a run. While one coordinator
// holds it no other writes to the run: the coordinator takes it before it
// drives the run, renews it while it does, and checks it in every
// transaction that writes to the run (CheckLease), so that one that lost it
// (stalled past its expiry and taken over) writes nothing more.
type Lease struct {
	RunID string
	// Owner names the coordinator holding it; unique per process.
	Owner string
	// Process is opaque to storage: what the owner's machine needs to tell
	// whether the owner still lives (see LeaseRequest.TakeOver).
	Process  string
	Acquired time.Time // when Owner took it
	Renewed  time.Time // Owner's last renewal
	Expires  time.Time // from then on another coordinator may take it
}

// Expired reports whether the lease is free for another owner at t.
func (l Lease) Expired(t time.Time) bool { return !t.Before(l.Expires) }

// Lease errors. The errors returned are *LeaseError.
var (
	// ErrLeaseHeld: another coordinator holds the run's lease and it has
	// not expired.
	ErrLeaseHeld = errors.New("run is driven by another coordinator")
	// ErrLeaseLost: the caller no longer holds the run's lease: another
	// coordinator took it over after it expired, or it was released.
	ErrLeaseLost = errors.New("lease of the run lost")
)

// LeaseError says who holds a run's lease when the caller does not. It
// matches ErrLeaseHeld or ErrLeaseLost.
type LeaseError struct {
	Run    string
	Holder Lease // the lease as it stands; Owner "" when nobody holds it
	lost   bool
}

func (e *LeaseError) Error() string {
	if e.lost {
		if e.Holder.Owner == "" {
			return fmt.Sprintf("lost the lease of run %s: it was released", e.Run)
		}
		return fmt.Sprintf("lost the lease of run %s: coordinator %s took it over", e.Run, e.Holder.Owner)
	}
	return fmt.Sprintf("run %s is driven by coordinator %s (lease renewed %s, expires %s)", e.Run, e.Holder.Owner,
		e.Holder.Renewed.Local().Format(time.TimeOnly), e.Holder.Expires.Local().Format(time.TimeOnly))
}

// Is makes errors.Is match ErrLeaseHeld or ErrLeaseLost.
func (e *LeaseError) Is(target error) bool {
	if e.lost {
		return target == ErrLeaseLost
	}
	return target == ErrLeaseHeld
}

// LeaseRequest asks for a run's lease.
type LeaseRequest struct {
	Run   string
	Owner string // required
	// Process is stored with the lease for other coordinators' TakeOver.
	Process string
	// TTL is how long the lease lasts without renewal; required.
	TTL time.Duration
	// TakeOver, if set, is asked about a live lease of another owner; true
	// takes it anyway: its owner is known to be dead. It runs inside the
	// transaction, so it should be quick.
	TakeOver func(Lease) bool
}

const leaseColumns = `run_id, owner, process, acquired, renewed, expires`

func scanLease(s interface{ Scan(...any) error }) (Lease, error) {
	var l Lease
	err := s.Scan(&l.RunID, &l.Owner, &l.Process, timeScan{&l.Acquired}, timeScan{&l.Renewed}, timeScan{&l.Expires})
	return l, err
}

// GetLease returns the lease of a run, or ErrNotFound when nobody holds it.
func (o *ops) GetLease(ctx context.Context, run string) (Lease, error) {
	l, err := scanLease(o.r.QueryRowContext(ctx, `SELECT `+leaseColumns+` FROM run_leases WHERE run_id = ?`, run))
	if err != nil {
		return Lease{}, fmt.Errorf("getting the lease of run %s: %w", run, notFound(err))
	}
	return l, nil
}

// AcquireLease takes, in one immediate transaction, the lease of req.Run
// for req.Owner until req.TTL from now: when nobody holds it, when it is
// already req.Owner's (then it is renewed), when it has expired, or when
// req.TakeOver says its owner is dead. Otherwise it fails with a
// *LeaseError matching ErrLeaseHeld that names the holder. A run that does
// not exist fails with ErrNotFound.
func (o *ops) AcquireLease(ctx context.Context, req LeaseRequest) (Lease, error) {
	return o.acquireLease(ctx, req, now())
}

func (o *ops) acquireLease(ctx context.Context, req LeaseRequest, at time.Time) (Lease, error) {
	if req.Owner == "" || req.TTL <= 0 {
		return Lease{}, fmt.Errorf("taking the lease of run %s: an owner and a positive TTL are required", req.Run)
	}
	var out Lease
	err := o.atomic(ctx, func(o *ops) error {
		cur, err := o.GetLease(ctx, req.Run)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case cur.Owner != req.Owner && !cur.Expired(at) && (req.TakeOver == nil || !req.TakeOver(cur)):
			return &LeaseError{Run: req.Run, Holder: cur}
		}
		out = Lease{RunID: req.Run, Owner: req.Owner, Process: req.Process, Acquired: at, Renewed: at, Expires: at.Add(req.TTL)}
		if err == nil && cur.Owner == req.Owner {
			out.Acquired = cur.Acquired
		}
		_, err = o.exec(ctx, `INSERT INTO run_leases (`+leaseColumns+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, process = excluded.process,
			acquired = excluded.acquired, renewed = excluded.renewed, expires = excluded.expires`,
			out.RunID, out.Owner, out.Process, fmtTime(out.Acquired), fmtTime(out.Renewed), fmtTime(out.Expires))
		return constraint(err)
	})
	var le *LeaseError
	if err != nil && !errors.As(err, &le) {
		return Lease{}, fmt.Errorf("taking the lease of run %s: %w", req.Run, err)
	}
	return out, err
}

// RenewLease extends owner's lease of run to ttl from now. It fails with a
// *LeaseError matching ErrLeaseLost when owner no longer holds it. A lease
// that expired but that nobody took over is still owner's: nobody else
// wrote to the run meanwhile.
func (o *ops) RenewLease(ctx context.Context, run, owner string, ttl time.Duration) (Lease, error) {
	return o.renewLease(ctx, run, owner, ttl, now())
}

func (o *ops) renewLease(ctx context.Context, run, owner string, ttl time.Duration, at time.Time) (Lease, error) {
	var out Lease
	err := o.atomic(ctx, func(o *ops) error {
		cur, err := o.held(ctx, run, owner)
		if err != nil {
			return err
		}
		cur.Renewed, cur.Expires = at, at.Add(ttl)
		out = cur
		_, err = o.exec(ctx, `UPDATE run_leases SET renewed = ?, expires = ? WHERE run_id = ? AND owner = ?`,
			fmtTime(cur.Renewed), fmtTime(cur.Expires), run, owner)
		return err
	})
	var le *LeaseError
	if err != nil && !errors.As(err, &le) {
		return Lease{}, fmt.Errorf("renewing the lease of run %s: %w", run, err)
	}
	return out, err
}

// CheckLease fails with a *LeaseError matching ErrLeaseLost unless owner
// holds run's lease. Called first in a transaction (DB.Update), it makes
// the transaction's writes conditional on the lease: a coordinator that
// was taken over writes nothing.
func (o *ops) CheckLease(ctx context.Context, run, owner string) error {
	_, err := o.held(ctx, run, owner)
	var le *LeaseError
	if err != nil && !errors.As(err, &le) {
		return fmt.Errorf("checking the lease of run %s: %w", run, err)
	}
	return err
}

// held returns run's lease if owner holds it.
func (o *ops) held(ctx context.Context, run, owner string) (Lease, error) {
	cur, err := o.GetLease(ctx, run)
	if errors.Is(err, ErrNotFound) {
		return Lease{}, &LeaseError{Run: run, lost: true}
	}
	if err != nil {
		return Lease{}, err
	}
	if cur.Owner != owner {
		return Lease{}, &LeaseError{Run: run, Holder: cur, lost: true}
	}
	return cur, nil
}

// ReleaseLease gives up owner's lease of run, so that another coordinator
// may take it at once. A lease owner does not hold is left alone.
func (o *ops) ReleaseLease(ctx context.Context, run, owner string) error {
	if _, err := o.exec(ctx, `DELETE FROM run_leases WHERE run_id = ? AND owner = ?`, run, owner); err != nil {
		return fmt.Errorf("releasing the lease of run %s: %w", run, err)
	}
	return nil
}
