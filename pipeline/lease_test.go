package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// referenceLineage runs the static search of seed uninterrupted and
// returns its lineage and final population.
func referenceLineage(t *testing.T, seed uint64) (cands, final []string) {
	t.Helper()
	ctx := context.Background()
	ref := newHarness(t, tasks.StaticEvaluator{})
	id, err := pipeline.Submit(ctx, ref.db, staticConfig(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.coordinator(t, nil).Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	return lineage(t, ref.db, id)
}

// sameLineage fails the test unless run id ended like the reference.
func sameLineage(t *testing.T, db *storage.DB, id string, wantCands, wantFinal []string) {
	t.Helper()
	r, err := db.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != storage.RunFinished {
		t.Fatalf("run %s (%s), want finished", r.Status, r.Error)
	}
	gotCands, gotFinal := lineage(t, db, id)
	if !slices.Equal(gotCands, wantCands) {
		t.Errorf("lineage differs from the uninterrupted run:\n got %v\nwant %v", gotCands, wantCands)
	}
	if !slices.Equal(gotFinal, wantFinal) {
		t.Errorf("final population %v, uninterrupted run %v", gotFinal, wantFinal)
	}
}

// openAgain opens a second connection to h's database, as a second
// coordinator process would.
func (h *harness) openAgain(t *testing.T) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), h.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Two coordinators drive one run at once, each with its own connection to
// the database, on one queue: one drives it, the other waits for its lease
// and, when it gets it, finds the run finished. Without leases both wrote
// and the run failed with "UNIQUE constraint failed: candidates.run_id".
func TestTwoCoordinatorsOneRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wantCands, wantFinal := referenceLineage(t, 13)

	h := newHarness(t, tasks.StaticEvaluator{})
	id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 13))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []string // owners seen holding the run by the other
	errs := make(chan error, 2)
	for i, db := range []*storage.DB{h.db, h.openAgain(t)} {
		co, err := pipeline.New(pipeline.Options{DB: db, Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
			Owner: fmt.Sprintf("coordinator-%d", i), Lease: 3 * time.Second,
			Held: func(l storage.Lease) {
				mu.Lock()
				defer mu.Unlock()
				held = append(held, l.Owner)
			}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { errs <- co.Drive(ctx, id) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	sameLineage(t, h.db, id, wantCands, wantFinal)
	if len(held) == 0 {
		t.Error("neither coordinator waited for the other")
	}
	if _, err := h.db.GetLease(ctx, id); err == nil {
		t.Error("the lease outlived both coordinators")
	}
}

// A coordinator that died without releasing its lease (here: one of
// another machine, which this one cannot check) keeps the run from others
// until the lease expires; then another takes it over and the run ends
// like an uninterrupted one.
func TestLeaseExpiryTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wantCands, wantFinal := referenceLineage(t, 19)

	h := newHarness(t, tasks.StaticEvaluator{})
	id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 19))
	if err != nil {
		t.Fatal(err)
	}
	// The first coordinator drives into generation 1 and stops there.
	first, stop := context.WithCancel(ctx)
	co := h.coordinator(t, func(p pipeline.Progress) {
		if p.Generation >= 1 && p.Done >= 2 {
			stop()
		}
	})
	if err := co.Drive(first, id); err == nil {
		t.Fatal("the first coordinator finished the run before it was stopped")
	}
	// It dies holding the lease: its process is unknown here.
	dead, err := h.db.AcquireLease(ctx, storage.LeaseRequest{Run: id, Owner: "elsewhere:4242:dead00",
		Process: "linux:another-boot:1:4242:77", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	var heldBy atomic.Value
	var firstWrite atomic.Value
	second, err := pipeline.New(pipeline.Options{DB: h.openAgain(t), Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
		Lease: 600 * time.Millisecond,
		Held:  func(l storage.Lease) { heldBy.Store(l.Owner) },
		Progress: func(pipeline.Progress) {
			firstWrite.CompareAndSwap(nil, time.Now())
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Drive(ctx, id); err != nil {
		t.Fatal(err)
	}
	if heldBy.Load() != "elsewhere:4242:dead00" {
		t.Errorf("the second coordinator did not wait for the dead one's lease (held by %v)", heldBy.Load())
	}
	if w, ok := firstWrite.Load().(time.Time); !ok || w.Before(dead.Expires) {
		t.Errorf("the second coordinator recorded its first report at %v, before the lease expired at %v", w, dead.Expires)
	}
	sameLineage(t, h.db, id, wantCands, wantFinal)
}

// A coordinator whose lease another one took over (it stalled past its
// expiry) writes nothing more to the run: the reports of the tasks it
// queued go back to the queue. When the lease is free again it takes the
// run up and ends it like an uninterrupted run.
func TestLostLeaseStopsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wantCands, wantFinal := referenceLineage(t, 23)

	h := newHarness(t, tasks.StaticEvaluator{})
	id, err := pipeline.Submit(ctx, h.db, staticConfig(t, 23))
	if err != nil {
		t.Fatal(err)
	}
	thief := storage.LeaseRequest{Run: id, Owner: "thief", TTL: time.Hour, TakeOver: func(storage.Lease) bool { return true }}
	var before string // the run when the lease was stolen
	held := make(chan string, 10)
	co, err := pipeline.New(pipeline.Options{DB: h.db, Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
		// No renewal comes during the test: only the check in each
		// write can see the lease gone.
		Lease: time.Hour,
		Held:  func(l storage.Lease) { held <- l.Owner },
		Progress: func(p pipeline.Progress) {
			// Called by the driving loop, which writes nothing meanwhile.
			if p.Generation >= 1 && p.Done >= 2 && before == "" {
				if _, err := h.db.AcquireLease(ctx, thief); err != nil {
					t.Error(err)
				}
				before = snapshot(t, h.db, id)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	driven := make(chan error, 1)
	go func() { driven <- co.Drive(ctx, id) }()

	select {
	case owner := <-held:
		if owner != "thief" {
			t.Fatalf("waiting for %s, want thief", owner)
		}
	case err := <-driven:
		t.Fatalf("Drive returned (%v) without noticing the stolen lease; the run is now: %s", err, snapshot(t, h.db, id))
	case <-time.After(time.Minute):
		t.Fatal("the coordinator did not notice the stolen lease within a minute")
	}
	// Every task it queued ends; their reports wait in the queue.
	waitFor(t, "the queued tasks to end and report", func() bool {
		busy, reports := 0, 0
		stats, err := h.broker.QueueStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range stats {
			q := info.Queue
			n := info.Pending + info.Active + info.Scheduled + info.Retry
			if q == tasks.QueueControl {
				reports += n
			} else {
				busy += n
			}
		}
		return busy == 0 && reports > 0
	})
	if after := snapshot(t, h.db, id); after != before {
		t.Errorf("the coordinator wrote after it lost the lease:\nbefore %s\nafter  %s", before, after)
	}
	if err := h.db.ReleaseLease(ctx, id, "thief"); err != nil {
		t.Fatal(err)
	}
	if err := <-driven; err != nil {
		t.Fatal(err)
	}
	sameLineage(t, h.db, id, wantCands, wantFinal)
}

// snapshot summarises what a coordinator writes to a run.
func snapshot(t *testing.T, db *storage.DB, id string) string {
	t.Helper()
	ctx := context.Background()
	r, err := db.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := db.ListTaskStates(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	states := map[storage.TaskStatus]int{}
	for _, n := range nodes {
		states[n.Status]++
	}
	cands, err := db.ListCandidates(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	cs := map[storage.CandidateStatus]int{}
	for _, c := range cands {
		cs[c.Status]++
	}
	events, err := db.ListEvents(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("run %s gen %d updated %v; nodes %v; candidates %v; events %d",
		r.Status, r.CurrentGeneration, r.Updated, states, cs, len(events))
}

// Two long-lived coordinators (Discover) share a database and a queue with
// two runs: each run is driven by one of them, the reports that reach the
// other's control worker go back to the queue for the owner, and both runs
// end like uninterrupted ones.
func TestTwoLongLivedCoordinators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seeds := []uint64{29, 31}
	type ref struct{ cands, final []string }
	var refs []ref
	for _, seed := range seeds {
		c, f := referenceLineage(t, seed)
		refs = append(refs, ref{c, f})
	}

	h := newHarness(t, tasks.StaticEvaluator{})
	var ids []string
	for _, seed := range seeds {
		id, err := pipeline.Submit(ctx, h.db, staticConfig(t, seed))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	driveCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, 2)
	for i, db := range []*storage.DB{h.db, h.openAgain(t)} {
		co, err := pipeline.New(pipeline.Options{DB: db, Broker: h.broker, ReconcileEvery: 100 * time.Millisecond,
			Owner: fmt.Sprintf("long-lived-%d", i), Lease: 3 * time.Second,
			Discover: func(ctx context.Context) ([]string, error) {
				runs, err := db.ListRuns(ctx, storage.RunPending, storage.RunRunning)
				var out []string
				for _, r := range runs {
					out = append(out, r.ID)
				}
				return out, err
			}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { errs <- co.Drive(driveCtx) }()
	}
	waitFor(t, "both runs to end", func() bool {
		for _, id := range ids {
			r, err := h.db.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Status.Terminal() {
				return false
			}
		}
		return true
	})
	stop()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("Drive = %v, want context.Canceled", err)
		}
	}
	for i, id := range ids {
		sameLineage(t, h.db, id, refs[i].cands, refs[i].final)
	}
}
