package storage

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ttl := 30 * time.Second
	req := func(owner string) LeaseRequest {
		return LeaseRequest{Run: "r1", Owner: owner, Process: "proc-" + owner, TTL: ttl}
	}

	if _, err := db.GetLease(ctx, "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetLease of a fresh run = %v, want ErrNotFound", err)
	}
	a, err := db.acquireLease(ctx, req("a"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.Owner != "a" || a.Process != "proc-a" || !a.Acquired.Equal(t0) || !a.Expires.Equal(t0.Add(ttl)) {
		t.Errorf("lease %+v", a)
	}
	if got, err := db.GetLease(ctx, "r1"); err != nil || got != a {
		t.Errorf("GetLease = %+v, %v; want %+v", got, err, a)
	}

	// Live: another owner is refused and told who holds it.
	_, err = db.acquireLease(ctx, req("b"), t0.Add(ttl-time.Second))
	var le *LeaseError
	if !errors.Is(err, ErrLeaseHeld) || !errors.As(err, &le) || le.Holder.Owner != "a" {
		t.Fatalf("second owner: %v, want ErrLeaseHeld naming a", err)
	}
	// The owner takes it again: a renewal that keeps the first take.
	again, err := db.acquireLease(ctx, req("a"), t0.Add(time.Second))
	if err != nil || !again.Acquired.Equal(t0) || !again.Expires.Equal(t0.Add(time.Second+ttl)) {
		t.Errorf("owner again: %+v, %v", again, err)
	}
	if _, err := db.renewLease(ctx, "r1", "a", ttl, t0.Add(20*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.acquireLease(ctx, req("b"), t0.Add(40*time.Second)); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("after renewal: %v, want ErrLeaseHeld", err)
	}

	// Expired and not renewed: b takes it over; a has lost it.
	b, err := db.acquireLease(ctx, req("b"), t0.Add(51*time.Second))
	if err != nil || b.Owner != "b" || !b.Acquired.Equal(t0.Add(51*time.Second)) {
		t.Fatalf("takeover after expiry: %+v, %v", b, err)
	}
	if _, err := db.renewLease(ctx, "r1", "a", ttl, t0.Add(52*time.Second)); !errors.Is(err, ErrLeaseLost) ||
		!errors.As(err, &le) || le.Holder.Owner != "b" {
		t.Errorf("renewal by the old owner: %v, want ErrLeaseLost naming b", err)
	}
	if err := db.CheckLease(ctx, "r1", "a"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("CheckLease(a) = %v, want ErrLeaseLost", err)
	}
	if err := db.CheckLease(ctx, "r1", "b"); err != nil {
		t.Errorf("CheckLease(b) = %v", err)
	}

	// TakeOver: a live lease whose owner is known dead.
	dead := req("c")
	dead.TakeOver = func(l Lease) bool { return l.Process == "proc-b" }
	if _, err := db.acquireLease(ctx, dead, t0.Add(53*time.Second)); err != nil {
		t.Errorf("takeover of a dead owner: %v", err)
	}

	// Release: only by the owner.
	if err := db.ReleaseLease(ctx, "r1", "b"); err != nil {
		t.Fatal(err)
	}
	if l, err := db.GetLease(ctx, "r1"); err != nil || l.Owner != "c" {
		t.Errorf("release by a non-owner changed the lease: %+v, %v", l, err)
	}
	if err := db.ReleaseLease(ctx, "r1", "c"); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckLease(ctx, "r1", "c"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("CheckLease after release = %v, want ErrLeaseLost", err)
	}
	if _, err := db.acquireLease(ctx, req("b"), t0.Add(54*time.Second)); err != nil {
		t.Errorf("after release: %v", err)
	}

	if _, err := db.AcquireLease(ctx, LeaseRequest{Run: "nope", Owner: "a", TTL: ttl}); !errors.Is(err, ErrNotFound) {
		t.Errorf("lease of a missing run: %v, want ErrNotFound", err)
	}
	if _, err := db.AcquireLease(ctx, LeaseRequest{Run: "r1", TTL: ttl}); err == nil {
		t.Error("a lease without owner was taken")
	}
}

// Writes made conditional on the lease (CheckLease first in the
// transaction) are refused, whole, once another owner took it.
func TestLeaseFencesWrites(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	t0 := time.Now()
	if _, err := db.acquireLease(ctx, LeaseRequest{Run: "r1", Owner: "a", TTL: time.Second}, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AcquireLease(ctx, LeaseRequest{Run: "r1", Owner: "b", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(tx *Tx) error {
		if err := tx.CheckLease(ctx, "r1", "a"); err != nil {
			return err
		}
		return tx.SetCurrentGeneration(ctx, "r1", 2)
	})
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("fenced write: %v, want ErrLeaseLost", err)
	}
	if r, _ := db.GetRun(ctx, "r1"); r.CurrentGeneration != 0 {
		t.Errorf("a coordinator without the lease wrote: generation %d", r.CurrentGeneration)
	}
}

// Coordinators racing for a free lease through their own connections:
// exactly one gets it.
func TestLeaseRace(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	const n = 6
	dbs := []*DB{db}
	for range n - 1 {
		other, err := Open(ctx, db.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		dbs = append(dbs, other)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for i, d := range dbs {
			wg.Go(func() {
				owner := string(rune('a' + i))
				_, err := d.AcquireLease(ctx, LeaseRequest{Run: "r1", Owner: owner, TTL: time.Minute})
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, owner)
					mu.Unlock()
				case !errors.Is(err, ErrLeaseHeld):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %v took the lease", round, won)
		}
		if err := db.ReleaseLease(ctx, "r1", won[0]); err != nil {
			t.Fatal(err)
		}
	}
}
