package main

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/storage"
)

// chaosConfig is a static search long enough for every mishap of
// TestChaos to strike in the middle of it.
const chaosConfig = `seed: 5
population: 8
generations: 7
objectives: [params, cache_bytes]
search:
  depth: 8
`

// TestChaos runs one search on a real Redis (append-only, so a restart
// keeps the queue) with two worker processes and, at random points of it
// (seeded): starts a second coordinator (resume) while the first
// (coordinator) drives, kills a worker with SIGKILL and starts another,
// stalls Redis with SIGSTOP for a few seconds, kills the first coordinator
// with SIGKILL (the second takes over), and kills Redis with SIGKILL and
// restarts it. The run finishes with every candidate once and the final
// population of an uninterrupted run.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: kills processes; up to a few minutes")
	}
	t.Parallel()
	rnd := rand.New(rand.NewPCG(2026, 12))
	jitter := func() time.Duration { return time.Duration(rnd.IntN(400)) * time.Millisecond }

	ref := workdir(t, chaosConfig)
	_, stderr, code := runCLI(t, ref, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 0 {
		t.Fatalf("reference: exit %d\n%s", code, stderr)
	}
	want := finalPopulation(t, filepath.Join(ref, "star.db"), runID(t, stderr))

	srv := redistest.Start(t, redistest.WithPassword("chaos-pw"), redistest.WithAppendOnly())
	dir := workdir(t, chaosConfig)
	dbPath := filepath.Join(dir, "star.db")
	env := []string{"STAR_REDIS_PASSWORD=" + srv.Password}
	victim := startWorker(t, dir, srv, "--static-eval")
	startWorker(t, dir, srv, "--static-eval")
	_, stderr, code = runCLI(t, dir, env, "submit", "--config", "search.yaml", "--static-eval", "--redis", srv.Socket, "--detach")
	if code != 0 {
		t.Fatalf("submit --detach: exit %d\n%s", code, stderr)
	}
	id := runID(t, stderr)
	first, firstLog := startProcess(t, dir, env, "coordinator", "--redis", srv.Socket, "--poll", "200ms", "--lease", "3s")

	// The mishaps strike in turn, each once a random share of the run's
	// candidates (in its own slice of 10% to 75%) is evaluated.
	const mishaps, total = 5, 8 * 8
	step := 0
	raw := rawDB(t, dbPath)
	at := func(what string) {
		t.Helper()
		lo, hi := 0.10+0.65*float64(step)/mishaps, 0.10+0.65*float64(step+1)/mishaps
		step++
		want := int((lo + (hi-lo)*rnd.Float64()) * total)
		<-time.After(jitter())
		var done int
		r := pollRun(t, dbPath, id, fmt.Sprintf("%d candidates evaluated", want), 3*time.Minute, func(r storage.Run) bool {
			done = evaluated(t, raw, id)
			return done >= want || ended(r)
		})
		if ended(r) {
			t.Fatalf("the run ended (%s) before %s: nothing left to test", r.Status, what)
		}
		t.Logf("%d of %d candidates evaluated: %s", done, total, what)
	}

	at("a second coordinator starts")
	second := command(t, dir, env, "resume", id, "--static-eval", "--redis", srv.Socket, "--workers", "0", "--lease", "3s")
	secondOut, secondErr := &lockedBuffer{}, &lockedBuffer{}
	second.Stdout, second.Stderr = secondOut, secondErr
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	secondDone := make(chan error, 1)
	go func() { secondDone <- second.Wait() }()
	t.Cleanup(func() {
		_ = second.Process.Kill()
		if t.Failed() {
			t.Logf("resume stderr:\n%s", secondErr.String())
			t.Logf("coordinator stderr:\n%s", firstLog.String())
		}
	})
	waitText(t, secondErr, heldNotice, "the second coordinator to wait for the first")

	at("a worker is killed and another started")
	_ = victim.Process.Kill()
	startWorker(t, dir, srv, "--static-eval")

	at("redis stalls (SIGSTOP) for a few seconds")
	srv.Pause()
	<-time.After(3*time.Second + jitter())
	srv.Resume()

	at("the first coordinator is killed")
	_ = first.Process.Kill()

	at("redis is killed and restarted")
	srv.Kill()
	<-time.After(500*time.Millisecond + jitter())
	srv.Restart()

	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatalf("resume: %v\n%s", err, secondErr.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the run did not finish within 3 minutes of the last mishap")
	}
	if !strings.Contains(secondOut.String(), "finished; Pareto set") {
		t.Errorf("resume printed no result:\n%s", secondOut.String())
	}
	checkLineage(t, dbPath, id, 8)
	if got := finalPopulation(t, dbPath, id); !slices.Equal(got, want) {
		t.Errorf("final population differs from the uninterrupted run's:\n%v\n%v", got, want)
	}
	if out := firstLog.String() + secondErr.String(); strings.Contains(out, "redis unreachable") {
		t.Log("a coordinator logged the outage")
	}
}

// evaluated counts the evaluated candidates of run id.
func evaluated(t *testing.T, db *sql.DB, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM candidates WHERE run_id = ? AND status = 'evaluated'`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitText polls b until it holds text, failing after a minute.
func waitText(t *testing.T, b *lockedBuffer, text, what string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(b.String(), text); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}
