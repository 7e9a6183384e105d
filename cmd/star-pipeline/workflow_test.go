package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// The workflow tests run the built binary as separate processes against a
// real redis-server (and the embedded queue), kill them with SIGKILL and
// check that the lineage comes out whole and equal to an uninterrupted run.

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// sharedCLI builds the binary once for every workflow test.
func sharedCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "star-pipeline-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "star-pipeline")
		out, err := exec.Command("go", "build", "-o", cliPath, ".").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("building the CLI: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cliPath != "" {
		os.RemoveAll(filepath.Dir(cliPath))
	}
	os.Exit(code)
}

const staticConfig = `seed: 7
population: 8
generations: 3
objectives: [params, cache_bytes]
search:
  depth: 8
`

// workdir returns a temporary working directory holding the run config.
func workdir(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "search.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// command prepares the binary to run in dir with args.
func command(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(sharedCLI(t), args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	return cmd
}

// cleanEnv is the environment without STAR_ settings of the machine.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAR_") {
			out = append(out, kv)
		}
	}
	return out
}

// runCLI runs the binary to the end and returns stdout, stderr, exit code.
func runCLI(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	out, errb, code, err := runCmd(command(t, dir, env, args...))
	if err != nil {
		t.Fatal(err)
	}
	return out, errb, code
}

// runCmd runs cmd to the end and returns stdout, stderr and the exit code;
// the error is one that kept it from running or ending normally.
func runCmd(cmd *exec.Cmd) (string, string, int, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode(), nil
	}
	return out.String(), errb.String(), 0, err
}

// member is one candidate of a final population, without its ids.
type member struct {
	Genome     string
	Objectives string
}

// finalPopulation reads a finished run's last population from a database.
func finalPopulation(t *testing.T, dbPath, runID string) []member {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != storage.RunFinished {
		t.Fatalf("run %s is %s: %s", runID, run.Status, run.Error)
	}
	gen, err := db.GetGeneration(ctx, runID, run.Generations)
	if err != nil {
		t.Fatal(err)
	}
	var out []member
	for _, id := range gen.Population {
		c, err := db.GetCandidate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := json.Marshal(c.Objectives)
		out = append(out, member{Genome: c.Genome, Objectives: string(obj)})
	}
	return out
}

// checkLineage checks that every generation holds exactly its candidates,
// each evaluated once, with no node left unfinished; it returns the workers
// that trained candidates.
func checkLineage(t *testing.T, dbPath, runID string, population int) map[string]int {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	run, err := db.GetRun(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	workers := map[string]int{}
	for g := 0; g <= run.Generations; g++ {
		cands, err := db.ListCandidates(ctx, runID, g)
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) != population {
			t.Errorf("generation %d has %d candidates, want %d", g, len(cands), population)
		}
		for i, c := range cands {
			if c.Index != i || c.Status != storage.CandEvaluated {
				t.Errorf("generation %d candidate %d: index %d status %s (%s)", g, i, c.Index, c.Status, c.Error)
			}
			workers[c.Worker]++
		}
	}
	unfinished, err := db.ListTaskStates(ctx, runID, storage.Unfinished...)
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) > 0 {
		t.Errorf("%d nodes unfinished, first %s", len(unfinished), unfinished[0].ID)
	}
	return workers
}

// runID extracts the run id from submit's first stderr line.
func runID(t *testing.T, stderr string) string {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "run" && f[2] == "submitted" {
			return f[1]
		}
	}
	t.Fatalf("no run id in stderr:\n%s", stderr)
	return ""
}

// reference runs the static search once, uninterrupted, on the embedded
// queue and returns its final population.
func reference(t *testing.T) []member {
	t.Helper()
	dir := workdir(t, staticConfig)
	_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 0 {
		t.Fatalf("reference submit: exit %d\n%s", code, stderr)
	}
	id := runID(t, stderr)
	checkLineage(t, filepath.Join(dir, "star.db"), id, 8)
	return finalPopulation(t, filepath.Join(dir, "star.db"), id)
}

func TestSubmitEmbeddedIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := reference(t), reference(t)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different final populations:\n%v\n%v", a, b)
	}
	// Another seed explores differently.
	dir := workdir(t, staticConfig)
	_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval", "--seed", "8")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if c := finalPopulation(t, filepath.Join(dir, "star.db"), runID(t, stderr)); slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same final population")
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	t.Parallel()
	dir := workdir(t, "population: 0\nsearch:\n  depth: 1\nbogus: 1\n")
	_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 2 || !strings.Contains(stderr, "population") || !strings.Contains(stderr, "search.depth") || !strings.Contains(stderr, "bogus") {
		t.Errorf("bad config: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bad config wrote a database: %v", err)
	}
	_, stderr, code = runCLI(t, dir, nil, "submit", "--config", "missing.yaml")
	if code != 2 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing config: exit %d\n%s", code, stderr)
	}
	_, _, code = runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--population", "x")
	if code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
}

func TestSubmitRedisUnreachable(t *testing.T) {
	t.Parallel()
	dir := workdir(t, staticConfig)
	sharedCLI(t) // build outside the timed part
	start := time.Now()
	_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval", "--redis", "127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "unreachable") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to give up", d)
	}
	if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database written although Redis was unreachable: %v", err)
	}
}

func TestSubmitRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	dir := workdir(t, staticConfig)
	foreign := []byte("not a database, but somebody's notes\n")
	path := filepath.Join(dir, "notes.db")
	if err := os.WriteFile(path, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval", "--db", "notes.db")
	if code != 1 || !strings.Contains(stderr, "untouched") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, foreign) {
		t.Error("the foreign file was modified")
	}
}

// staticCluster starts a real Redis with the given password and two worker
// processes in static-eval mode on it, in a working directory holding the
// static run config; env carries the password for further commands.
func staticCluster(t *testing.T, password string) (*redistest.Server, string, []string) {
	t.Helper()
	srv := redistest.Start(t, redistest.WithPassword(password))
	dir := workdir(t, staticConfig)
	for range 2 {
		startWorker(t, dir, srv, "--static-eval")
	}
	return srv, dir, []string{"STAR_REDIS_PASSWORD=" + srv.Password}
}

// startWorker starts a worker process on the real Redis.
func startWorker(t *testing.T, dir string, srv *redistest.Server, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"worker", "--redis", srv.Socket, "--poll", "20ms"}, extra...)
	cmd := command(t, dir, []string{"STAR_REDIS_PASSWORD=" + srv.Password}, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("worker %d stderr:\n%s", cmd.Process.Pid, errb.String())
		}
	})
	return cmd
}

// TestCoordinatorCrashes kills the coordinator with SIGKILL at random points
// of a search on a real Redis (workers in their own processes) and resumes
// it until it finishes: the lineage is whole and the final population equals
// the uninterrupted run's.
func TestCoordinatorCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	want := reference(t)
	srv, dir, env := staticCluster(t, "crash-test-pw")
	killUntilFinished(t, dir, env, want, rand.New(rand.NewPCG(1, 2)), "--static-eval", "--redis", srv.Socket)
}

// TestEmbeddedCrash kills a search on the embedded queue (which dies with
// it) and resumes it: reconcile finds every unfinished node missing and
// enqueues it again.
func TestEmbeddedCrash(t *testing.T) {
	t.Parallel()
	want := reference(t)
	dir := workdir(t, staticConfig)
	killUntilFinished(t, dir, nil, want, rand.New(rand.NewPCG(3, 4)), "--static-eval")
}

// killUntilFinished submits the search in dir and kills the coordinator
// with SIGKILL at random points, resuming it, until a start runs to the
// end; then it checks the lineage and compares the final population with
// want.
func killUntilFinished(t *testing.T, dir string, env []string, want []member, r *rand.Rand, flags ...string) {
	t.Helper()
	id, kills := killAndResume(t, dir, env, 100, func() time.Duration { return time.Duration(80+r.IntN(400)) * time.Millisecond }, flags...)
	checkLineage(t, filepath.Join(dir, "star.db"), id, 8)
	if got := finalPopulation(t, filepath.Join(dir, "star.db"), id); !slices.Equal(got, want) {
		t.Errorf("after %d kills the final population differs from the uninterrupted run:\n%v\n%v", kills, got, want)
	}
}

// killAndResume submits the search in dir and kills the coordinator with
// SIGKILL after delay(), resuming it, until a start runs to the end (at
// most starts starts); it returns the run's id and how many kills it
// took, at least one. The delays grow with the kills, so that a machine
// too busy to make progress in the first ones still lets a start finish.
func killAndResume(t *testing.T, dir string, env []string, starts int, delay func() time.Duration, flags ...string) (string, int) {
	t.Helper()
	args := append([]string{"submit", "--config", "search.yaml"}, flags...)
	var id string
	kills := 0
	for range starts {
		cmd := command(t, dir, env, args...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("coordinator exited: %v\n%s", err, errb.String())
			}
			if id == "" {
				id = runID(t, errb.String())
			}
			if kills == 0 {
				t.Fatal("the search finished before any kill; nothing was tested")
			}
			t.Logf("finished after %d coordinator kills", kills)
			return id, kills
		case <-time.After(delay() * time.Duration(1+kills/10)):
			_ = cmd.Process.Kill()
			<-done
			kills++
		}
		if id == "" {
			if !strings.Contains(errb.String(), "submitted") {
				continue // killed before the run was stored: submit again
			}
			id = runID(t, errb.String())
		}
		args = append([]string{"resume", id}, flags...)
	}
	t.Fatalf("the search did not finish after %d coordinator starts", starts)
	return "", 0
}

// TestWorkerCrash kills the only worker with SIGKILL while it trains a
// candidate on a real Redis, then starts another: the queue hands the dead
// worker's task over once its lease expires, training resumes from the
// candidate's checkpoint, and the search ends as an uninterrupted one.
func TestWorkerCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: waits for the queue's lease to expire")
	}
	t.Parallel()
	cfg := strings.Replace(trainConfig, "steps: 6", "steps: 400\n  checkpoint_every: 50", 1)
	one := workdir(t, cfg)
	_, stderr, code := runCLI(t, one, nil, "submit", "--config", "search.yaml")
	if code != 0 {
		t.Fatalf("reference: exit %d\n%s", code, stderr)
	}
	want := finalPopulation(t, filepath.Join(one, "star.db"), runID(t, stderr))

	srv := redistest.Start(t, redistest.WithPassword("worker-crash-pw"))
	dir := workdir(t, cfg)
	env := []string{"STAR_REDIS_PASSWORD=" + srv.Password}
	victim := startWorker(t, dir, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sharedCLI(t), "submit", "--config", "search.yaml", "--redis", srv.Socket, "--workers", "0")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	b, err := runner.Open(ctx, runner.Options{Addr: srv.Socket, Password: srv.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		active, _ := b.ActiveJobs(ctx, tasks.QueueTrain)
		if len(active) > 0 && trainNode(active[0]) {
			time.Sleep(300 * time.Millisecond) // well inside the training
			_ = victim.Process.Kill()
			t.Logf("killed worker %d while it ran %s", victim.Process.Pid, active[0])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no training task became active\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	startWorker(t, dir, srv)
	if err := <-done; err != nil {
		t.Fatalf("submit: %v\n%s", err, errb.String())
	}
	id := runID(t, errb.String())
	checkLineage(t, filepath.Join(dir, "star.db"), id, 4)
	if got := finalPopulation(t, filepath.Join(dir, "star.db"), id); !slices.Equal(got, want) {
		t.Errorf("final population differs after a worker crash:\n%v\n%v", got, want)
	}
}

const trainConfig = `seed: 3
population: 4
generations: 1
objectives: [mad_score, params]
algorithm:
  crossover_points: 1
search:
  depth: 2
  width: 16
training:
  steps: 6
  batch_size: 8
quality:
  mad:
    - name: in_context_recall
      vocab: 8
      length: 16
      train_examples: 128
      test_examples: 16
`

// TestTwoWorkersShareTraining runs a small search trained by the GoMLX
// trainer with two worker processes on one real Redis: both take part, and
// the result equals a one-worker run on the embedded queue.
func TestTwoWorkersShareTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 16 small models")
	}
	t.Parallel()
	one := workdir(t, trainConfig)
	_, stderr, code := runCLI(t, one, nil, "submit", "--config", "search.yaml")
	if code != 0 {
		t.Fatalf("one worker: exit %d\n%s", code, stderr)
	}
	want := finalPopulation(t, filepath.Join(one, "star.db"), runID(t, stderr))

	srv := redistest.Start(t, redistest.WithPassword("two-workers-pw"))
	dir := workdir(t, trainConfig)
	a := startWorker(t, dir, srv)
	b := startWorker(t, dir, srv)
	_, stderr, code = runCLI(t, dir, []string{"STAR_REDIS_PASSWORD=" + srv.Password},
		"submit", "--config", "search.yaml", "--redis", srv.Socket, "--workers", "0")
	if code != 0 {
		t.Fatalf("two workers: exit %d\n%s", code, stderr)
	}
	id := runID(t, stderr)
	workers := checkLineage(t, filepath.Join(dir, "star.db"), id, 4)
	pids := map[int]bool{}
	for w := range workers {
		for _, p := range []*exec.Cmd{a, b} {
			if strings.HasSuffix(w, fmt.Sprintf(":%d", p.Process.Pid)) {
				pids[p.Process.Pid] = true
			}
		}
	}
	if len(pids) != 2 {
		t.Errorf("candidates trained by %v; want both worker processes %d and %d", workers, a.Process.Pid, b.Process.Pid)
	}
	if got := finalPopulation(t, filepath.Join(dir, "star.db"), id); !slices.Equal(got, want) {
		t.Errorf("two workers and one worker disagree:\n%v\n%v", got, want)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess starts the binary in dir in the background; at the end of
// the test it is stopped with SIGTERM (SIGKILL after 40s), and its stderr
// logged if the test failed.
func startProcess(t *testing.T, dir string, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := command(t, dir, env, args...)
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s (pid %d) stderr:\n%s", args[0], cmd.Process.Pid, errb.String())
		}
	})
	return cmd, errb
}

// storeRun stores a pending run of staticConfig in dir's database, as
// submit --detach does, and returns its id.
func storeRun(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Parse([]byte(staticConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Artifacts = filepath.Join(dir, "artifacts")
	db, err := storage.Open(ctx, filepath.Join(dir, "star.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id, err := pipeline.Submit(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pollRun reads run id from dbPath until cond holds for it, failing the
// test after within.
func pollRun(t *testing.T, dbPath, id, what string, within time.Duration, cond func(storage.Run) bool) storage.Run {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(within); ; {
		r, err := db.GetRun(ctx, id)
		if err == nil && cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %s did not happen within %v (status %s, generation %d, %v)", id, what, within, r.Status, r.CurrentGeneration, err)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

// ended reports whether a run has reached a terminal status.
func ended(r storage.Run) bool { return r.Status.Terminal() }

// checkFinal checks the lineage of a run that must have finished and
// compares its final population with want.
func checkFinal(t *testing.T, dbPath, id string, want []member) {
	t.Helper()
	checkLineage(t, dbPath, id, 8)
	if got := finalPopulation(t, dbPath, id); !slices.Equal(got, want) {
		t.Errorf("final population differs from the uninterrupted run's:\n%v\n%v", got, want)
	}
}

const heldNotice = "is driven by another coordinator"

// TestTwoCoordinatorProcesses runs two `coordinator` processes on one
// database and Redis: each run has one owner, the other skips it, and the
// run ends like an uninterrupted one. Without leases both drove it and it
// failed with "UNIQUE constraint failed: candidates.run_id, ...".
func TestTwoCoordinatorProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search with several processes")
	}
	t.Parallel()
	want := reference(t)
	srv, dir, env := staticCluster(t, "two-coordinators-pw")
	stdout, stderr, code := runCLI(t, dir, env, "submit", "--config", "search.yaml", "--static-eval", "--redis", srv.Socket, "--detach")
	if code != 0 {
		t.Fatalf("submit --detach: exit %d\n%s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	var logs []*lockedBuffer
	for range 2 {
		_, l := startProcess(t, dir, env, "coordinator", "--redis", srv.Socket, "--poll", "100ms", "--lease", "3s")
		logs = append(logs, l)
	}
	dbPath := filepath.Join(dir, "star.db")
	if r := pollRun(t, dbPath, id, "the end", 2*time.Minute, ended); r.Status != storage.RunFinished {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	checkFinal(t, dbPath, id, want)
	if !strings.Contains(logs[0].String()+logs[1].String(), heldNotice) {
		t.Errorf("neither coordinator said that the other drove the run")
	}
}

// TestCoordinatorBesideSubmit runs `submit` (not detached) beside a
// `coordinator` of the same database: whichever takes the run first
// drives it, and submit prints the result either way.
func TestCoordinatorBesideSubmit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search with several processes")
	}
	t.Parallel()
	want := reference(t)
	srv, dir, env := staticCluster(t, "beside-submit-pw")
	startProcess(t, dir, env, "coordinator", "--redis", srv.Socket, "--poll", "50ms", "--lease", "3s")
	stdout, stderr, code := runCLI(t, dir, env, "submit", "--config", "search.yaml", "--static-eval",
		"--redis", srv.Socket, "--workers", "0", "--lease", "3s")
	if code != 0 || !strings.Contains(stdout, "finished; Pareto set") {
		t.Fatalf("submit: exit %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("submit waited for the coordinator: %t", strings.Contains(stderr, heldNotice))
	checkFinal(t, filepath.Join(dir, "star.db"), runID(t, stderr), want)
}

// TestTwoResumes resumes one run twice at once, each with its own embedded
// queue and worker: one drives it, the other waits for the lease, then
// finds the run finished; both print the result.
func TestTwoResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search with several processes")
	}
	t.Parallel()
	want := reference(t)
	dir := workdir(t, staticConfig)
	id := storeRun(t, dir)
	type result struct {
		stdout, stderr string
		code           int
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			out, errb, code, err := runCmd(command(t, dir, nil, "resume", id, "--static-eval", "--lease", "3s"))
			if err != nil {
				code = -1
			}
			results <- result{out, errb, code}
		}()
	}
	waited := 0
	for range 2 {
		r := <-results
		if r.code != 0 || !strings.Contains(r.stdout, "finished; Pareto set") {
			t.Errorf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, heldNotice) {
			waited++
		}
	}
	if waited == 0 {
		t.Error("neither resume waited for the other")
	}
	checkFinal(t, filepath.Join(dir, "star.db"), id, want)
}

// TestCoordinatorKilledTakeover kills a `coordinator` with SIGKILL in the
// middle of a run, then resumes the run. A coordinator of this machine
// sees the dead one's process gone and takes over at once; one that
// cannot tell (here the dead owner is made to look like one of another
// machine) waits for its lease to expire, writes nothing before, and takes
// over then. Both runs end like an uninterrupted one. The workers are
// paused (SIGSTOP) until the coordinator is dead, so the kill lands with
// the run in generation 0, its lease held and its first tasks queued,
// however fast or loaded the machine: a static-evaluation run can finish
// within one poll of a loaded test process.
func TestCoordinatorKilledTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search with several processes")
	}
	t.Parallel()
	want := reference(t)
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote=%t", remote), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.WithPassword("takeover-pw"))
			dir := workdir(t, staticConfig)
			env := []string{"STAR_REDIS_PASSWORD=" + srv.Password}
			var workers []*exec.Cmd
			for range 2 {
				w := startWorker(t, dir, srv, "--static-eval")
				if err := w.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = w.Process.Signal(syscall.SIGCONT) }) // before its SIGTERM
				workers = append(workers, w)
			}
			dbPath := filepath.Join(dir, "star.db")
			id := storeRun(t, dir)
			owner, _ := startProcess(t, dir, env, "coordinator", "--redis", srv.Socket, "--poll", "100ms", "--lease", "3s")
			waitForRows(t, dbPath, "the coordinator's lease and generation 0", 8,
				`SELECT count(*) FROM candidates WHERE run_id = ? AND generation = 0 AND EXISTS (SELECT 1 FROM run_leases WHERE run_id = ?)`, id, id)
			_ = owner.Process.Kill()
			killed := time.Now()
			lease := deadLease(t, dbPath, id, remote)
			if lease.expires.Before(killed) {
				t.Fatalf("the lease had expired (%v) before the kill; nothing tested", lease.expires)
			}
			for _, w := range workers {
				if err := w.Process.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
			}

			stdout, stderr, code := runCLI(t, dir, env, "resume", id, "--static-eval", "--redis", srv.Socket,
				"--workers", "0", "--lease", "3s")
			if code != 0 || !strings.Contains(stdout, "finished; Pareto set") {
				t.Fatalf("resume: exit %d\n%s%s", code, stdout, stderr)
			}
			if waited := strings.Contains(stderr, heldNotice+" ("+lease.owner); waited != remote {
				t.Errorf("resume waited for the dead coordinator's lease: %t, want %t\n%s", waited, remote, stderr)
			}
			if remote {
				if first := firstWriteAfter(t, dbPath, id, killed); first.Before(lease.expires) {
					t.Errorf("resume wrote at %v, before the dead coordinator's lease expired at %v", first, lease.expires)
				}
			}
			checkFinal(t, dbPath, id, want)
		})
	}
}

// waitForRows polls query (one count) on dbPath until it returns want,
// failing the test after a minute.
func waitForRows(t *testing.T, dbPath, what string, want int, query string, args ...any) {
	t.Helper()
	db := rawDB(t, dbPath)
	for deadline := time.Now().Add(time.Minute); ; {
		var n int
		err := db.QueryRow(query, args...).Scan(&n)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d rows, want %d (%v)", what, n, want, err)
		}
		time.Sleep(50 * time.Millisecond) // polling with a deadline
	}
}

type leaseRow struct {
	owner   string
	expires time.Time
}

// deadLease returns the lease of run id, left by a killed coordinator.
// With remote, it first makes its owner look like a coordinator of another
// machine, whose death cannot be seen from here.
func deadLease(t *testing.T, dbPath, id string, remote bool) leaseRow {
	t.Helper()
	db := rawDB(t, dbPath)
	if remote {
		if _, err := db.Exec(`UPDATE run_leases SET process = 'linux:another-machine:1:1:1' WHERE run_id = ?`, id); err != nil {
			t.Fatal(err)
		}
	}
	var l leaseRow
	var expires string
	if err := db.QueryRow(`SELECT owner, expires FROM run_leases WHERE run_id = ?`, id).Scan(&l.owner, &expires); err != nil {
		t.Fatalf("the killed coordinator's lease: %v", err)
	}
	var err error
	if l.expires, err = time.Parse("2006-01-02T15:04:05.000000000Z", expires); err != nil {
		t.Fatal(err)
	}
	return l
}

// firstWriteAfter returns when the first DAG node of run id changed after
// t0.
func firstWriteAfter(t *testing.T, dbPath, id string, t0 time.Time) time.Time {
	t.Helper()
	var first sql.NullString
	err := rawDB(t, dbPath).QueryRow(`SELECT min(updated) FROM task_states WHERE run_id = ? AND updated > ?`,
		id, t0.UTC().Format("2006-01-02T15:04:05.000000000Z")).Scan(&first)
	if err != nil || !first.Valid {
		t.Fatalf("no write after the kill: %v", err)
	}
	ts, err := time.Parse("2006-01-02T15:04:05.000000000Z", first.String)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// rawDB opens the lineage database with SQL, for what no storage method
// does.
func rawDB(t *testing.T, dbPath string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestLeaseAndOutageFlags checks that a bad --lease or --redis-outage exits
// 2 naming the flag, before anything connects or is written.
func TestLeaseAndOutageFlags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	wantUsageErrors(t, []usageCase{
		{[]string{"submit", "--config", "search.yaml", "--static-eval", "--lease", "10ms"}, "--lease"},
		{[]string{"resume", "r1", "--lease", "0s"}, "--lease"},
		{[]string{"coordinator", "--redis", "127.0.0.1:1", "--lease", "-1s"}, "--lease"},
		{[]string{"submit", "--config", "search.yaml", "--static-eval", "--redis-outage", "-1s"}, "--redis-outage"},
		{[]string{"worker", "--redis", "127.0.0.1:1", "--redis-outage", "-5m"}, "--redis-outage"},
		{[]string{"coordinator", "--redis", "127.0.0.1:1", "--redis-outage", "x"}, "redis-outage"},
	})
}

// trainNode reports whether the job id names a training node.
func trainNode(id string) bool {
	n, err := tasks.ParseNode(id)
	return err == nil && n.Stage == tasks.StageTrain
}
