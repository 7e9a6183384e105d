// Package compose tests docker-compose.yml end to end: Redis, a
// coordinator and three workers in their own containers run a seeded text
// search while a worker is killed and Redis and the coordinator are
// restarted, and the search must end with the population of the same
// search run in one process on the embedded queue.
//
// It runs from test/compose/run.sh, which starts a Docker engine of its
// own, builds the images and sets STAR_COMPOSE_TEST=1; elsewhere it skips.
package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

// project is the compose project name: its containers, networks and
// volumes carry it as a label and a name prefix.
const project = "starci"

const (
	projectLabel = "com.docker.compose.project=" + project
	artifactRoot = "/var/lib/star/artifacts" // STAR_ARTIFACT_ROOT in docker-compose.yml
	workers      = 3
)

// env runs docker and docker-compose against the engine run.sh started.
type env struct {
	t        *testing.T
	root     string // repository root
	docker   string // docker client
	password string // STAR_REDIS_PASSWORD
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if os.Getenv("STAR_COMPOSE_TEST") != "1" {
		t.Skip("the docker compose test runs from test/compose/run.sh, which starts a Docker engine and builds the images")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docker := os.Getenv("DOCKER")
	if docker == "" {
		docker = "docker"
	}
	return &env{t: t, root: root, docker: docker, password: fmt.Sprintf("ci-%d", time.Now().UnixNano())}
}

// run runs name with args and returns its stdout; a failure fails the test
// with stderr.
func (e *env) run(name string, args ...string) string {
	e.t.Helper()
	out, err := e.try(name, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
	return out
}

// try runs name with args and returns its stdout, or an error with its
// stderr.
func (e *env) try(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "STAR_REDIS_PASSWORD="+e.password)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w\n%s%s", err, out.String(), errb.String())
	}
	return out.String(), nil
}

// compose runs docker-compose on the user's docker-compose.yml with the CI
// override, which only swaps in local images and the test's run config.
func (e *env) compose(args ...string) string {
	e.t.Helper()
	return e.run("docker-compose", e.composeArgs(args...)...)
}

func (e *env) composeArgs(args ...string) []string {
	return append([]string{"-p", project, "-f", filepath.Join(e.root, "docker-compose.yml"),
		"-f", filepath.Join(e.root, "test", "compose", "docker-compose.ci.yml")}, args...)
}

// redisCLI runs redis-cli in the Redis container with the password.
func (e *env) redisCLI(args ...string) (string, error) {
	return e.try("docker-compose", e.composeArgs(append([]string{"exec", "-T", "redis", "redis-cli",
		"-a", e.password, "--no-auth-warning"}, args...)...)...)
}

// container is what the test reads of docker inspect.
type container struct {
	ID     string
	Name   string
	Config struct {
		Hostname string
		Labels   map[string]string
	}
	State struct {
		Pid      int
		Running  bool
		Paused   bool
		ExitCode int
	}
	NetworkSettings struct {
		Networks map[string]json.RawMessage
	}
}

func (c container) service() string { return c.Config.Labels["com.docker.compose.service"] }

// containers returns the project's containers by service, each service's
// in container-number order.
func (e *env) containers() map[string][]container {
	e.t.Helper()
	ids := strings.Fields(e.run(e.docker, "ps", "-aq", "--filter", "label="+projectLabel))
	out := map[string][]container{}
	if len(ids) == 0 {
		return out
	}
	var cs []container
	if err := json.Unmarshal([]byte(e.run(e.docker, append([]string{"inspect"}, ids...)...)), &cs); err != nil {
		e.t.Fatalf("decoding docker inspect: %v", err)
	}
	for _, c := range cs {
		out[c.service()] = append(out[c.service()], c)
	}
	for _, list := range out {
		slices.SortFunc(list, func(a, b container) int {
			return strings.Compare(a.Config.Labels["com.docker.compose.container-number"], b.Config.Labels["com.docker.compose.container-number"])
		})
	}
	return out
}

// down removes the project and checks that nothing of it is left.
func (e *env) down() {
	e.t.Helper()
	if _, err := e.try("docker-compose", e.composeArgs("down", "-v", "--remove-orphans", "--timeout", "5")...); err != nil {
		e.t.Errorf("docker-compose down -v: %v", err)
	}
	for _, kind := range []string{"container", "volume", "network"} {
		args := []string{kind, "ls", "-q", "--filter", "label=" + projectLabel}
		if kind == "container" {
			args = []string{"ps", "-aq", "--filter", "label=" + projectLabel}
		}
		if left := strings.Fields(e.run(e.docker, args...)); len(left) > 0 {
			e.t.Errorf("after docker-compose down -v: %d %ss of the project left: %v", len(left), kind, left)
		}
	}
}

func TestCompose(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	// What the same seeded search gives in one process on the embedded
	// queue, computed while the compose search runs.
	type result struct {
		pop []member
		err error
	}
	ref := make(chan result, 1)
	go func() {
		pop, err := localReference(e.root, os.Getenv("STAR_CLI"), t.TempDir())
		ref <- result{pop, err}
	}()

	e.run("docker-compose", e.composeArgs("down", "-v", "--remove-orphans")...)
	t.Cleanup(e.down)
	e.compose("up", "-d", "--no-build", "--scale", fmt.Sprintf("worker=%d", workers))
	cs := e.containers()
	checkIsolation(t, cs)
	coord := cs["coordinator"][0]
	ws := cs["worker"]
	t.Logf("up: redis, coordinator and %d workers in their own network namespaces on %s_default (%s)", len(ws), project, since(start))

	// Redis asks for the password and appends to its AOF.
	if out, _ := e.try("docker-compose", e.composeArgs("exec", "-T", "redis", "redis-cli", "ping")...); !strings.Contains(out, "NOAUTH") {
		t.Errorf("redis-cli ping without the password: %q, want NOAUTH", out)
	}
	if out, err := e.redisCLI("config", "get", "appendonly"); err != nil || !slices.Equal(strings.Fields(out), []string{"appendonly", "yes"}) {
		t.Errorf("config get appendonly: %q %v, want yes", out, err)
	}

	// The corpus goes into its volume through the coordinator, as "star-pipeline
	// data brown" run there would put it, and every worker sees it.
	e.run(e.docker, "cp", filepath.Join(e.root, "data", "brown")+"/.", coord.ID+":/work/data/brown/")
	for _, w := range ws {
		n := len(strings.Fields(e.run(e.docker, "exec", w.ID, "ls", "/work/data/brown")))
		if n < 500 {
			t.Fatalf("worker %s sees %d corpus files in /work/data/brown, want 500", w.Name, n)
		}
	}

	// Submitted as the README says.
	id := strings.TrimSpace(e.compose("exec", "-T", "coordinator", "star-pipeline", "submit", "--config", "/work/config.yaml", "--detach"))
	t.Logf("run %s submitted (%s)", id, since(start))
	dbPath := filepath.Join(strings.TrimSpace(e.run(e.docker, "volume", "inspect", "-f", "{{.Mountpoint}}", project+"_star-db")), "star.db")
	lin := lineageReader{t: t, path: dbPath, id: id}

	// Kill a worker (SIGKILL) once every worker has trained a candidate,
	// while it trains another if it gets to one soon.
	victim := ws[len(ws)-1]
	s := lin.wait("every worker to train a candidate", 5*time.Minute, func(s snapshot) bool {
		for _, w := range ws {
			if s.evaluatedBy[w.Config.Hostname] == 0 {
				return false
			}
		}
		return s.trainingBy[victim.Config.Hostname] > 0 || time.Since(s.first) > 20*time.Second
	})
	e.run(e.docker, "kill", victim.ID)
	t.Logf("killed %s (SIGKILL) while it trained %d candidates (%s)", victim.Name, s.trainingBy[victim.Config.Hostname], since(start))

	// Restart Redis with the coordinator and the other workers paused, so
	// that nothing writes to the queue meanwhile: the queue after the
	// restart, read back from the append-only file, must equal the queue
	// before it.
	live := []string{coord.ID}
	for _, w := range ws[:len(ws)-1] {
		live = append(live, w.ID)
	}
	e.run(e.docker, append([]string{"pause"}, live...)...)
	before := e.queueKeys()
	e.compose("restart", "redis")
	e.waitRedis()
	after := e.queueKeys()
	e.run(e.docker, append([]string{"unpause"}, live...)...)
	if !slices.Equal(before, after) {
		t.Errorf("the queue changed across the Redis restart:\nbefore %v\nafter  %v", before, after)
	}
	tasks := 0
	for _, k := range before {
		if strings.Contains(k, "}:t:") {
			tasks++
		}
	}
	if tasks == 0 {
		t.Errorf("no task in the queue before the Redis restart: %v", before)
	}
	if logs, _ := e.try(e.docker, "logs", cs["redis"][0].ID); !strings.Contains(logs, "DB loaded from append only file") {
		logs, _ = e.try(e.docker, "logs", "--tail", "30", cs["redis"][0].ID)
		t.Errorf("Redis did not load the append-only file after the restart; its log ends:\n%s", logs)
	}
	t.Logf("restarted redis: %d persistent queue keys (%d tasks) kept (%s)", len(before), tasks, since(start))

	// Restart the coordinator once the first bred generation is under way.
	lin.wait("generation 1 to start", 5*time.Minute, func(s snapshot) bool { return s.run.Status.Terminal() || s.generations > 1 })
	if s := lin.read(); s.run.Status.Terminal() {
		t.Fatalf("run %s ended (%s) before the coordinator restart: the search is too short to test anything", id, s.run.Status)
	}
	e.compose("restart", "coordinator")
	t.Logf("restarted the coordinator (%s)", since(start))

	final := lin.wait("the run to end", 10*time.Minute, func(s snapshot) bool { return s.run.Status.Terminal() })
	if final.run.Status != storage.RunFinished {
		t.Fatalf("run %s is %s: %s", id, final.run.Status, final.run.Error)
	}
	t.Logf("run finished (%s); trained per worker: %v", since(start), final.evaluatedBy)

	// Every candidate exactly once, evaluated, no node unfinished; every
	// worker container trained some, and nothing else did.
	cfg := lin.check(final)
	hosts := map[string]bool{}
	for _, w := range ws {
		hosts[w.Config.Hostname] = true
		if final.evaluatedBy[w.Config.Hostname] == 0 {
			t.Errorf("worker %s (hostname %s) trained no candidate", w.Name, w.Config.Hostname)
		}
	}
	for h := range final.evaluatedBy {
		if !hosts[h] {
			t.Errorf("candidates trained by %q, not a worker container", h)
		}
	}

	// A front candidate's checkpoint is on the shared volume, seen by the
	// coordinator and a worker; nothing went to a container's own disk.
	var front []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(e.compose("exec", "-T", "coordinator", "star-pipeline", "pareto", id, "--json")), &front); err != nil || len(front) == 0 {
		t.Fatalf("pareto --json: %v (%d candidates)", err, len(front))
	}
	var ex struct {
		Checkpoint string `json:"checkpoint"`
	}
	if err := json.Unmarshal([]byte(e.compose("exec", "-T", "coordinator", "star-pipeline", "export", front[0].ID, "--json")), &ex); err != nil {
		t.Fatalf("export --json: %v", err)
	}
	wantDir := filepath.Join(artifactRoot, cfg.relArtifacts)
	if !strings.HasPrefix(ex.Checkpoint, wantDir+"/") {
		t.Errorf("export %s: checkpoint %q, want one under %s", front[0].ID, ex.Checkpoint, wantDir)
	}
	for _, c := range []container{coord, ws[0]} {
		out, err := e.try(e.docker, "exec", c.ID, "find", ex.Checkpoint, "-type", "f", "-size", "+0")
		if err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("checkpoint %s in %s: %q %v", ex.Checkpoint, c.Name, out, err)
		}
	}
	for _, c := range append([]container{coord}, ws[:len(ws)-1]...) {
		if _, err := e.try(e.docker, "exec", c.ID, "test", "!", "-e", filepath.Join("/work", cfg.relArtifacts)); err != nil {
			t.Errorf("%s wrote artifacts into its own working directory /work/%s", c.Name, cfg.relArtifacts)
		}
	}
	t.Logf("export %s: checkpoint %s exists in the coordinator and a worker", front[0].ID, ex.Checkpoint)

	// The same final population as the embedded queue's.
	r := <-ref
	if r.err != nil {
		t.Fatalf("local reference search: %v", r.err)
	}
	if got := final.population(t); !slices.Equal(got, r.pop) {
		t.Errorf("final population differs from the local embedded-queue run's:\ncompose %v\nlocal   %v", got, r.pop)
	} else {
		t.Logf("final population of %d equals the local embedded-queue run's (%s)", len(got), since(start))
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

// checkIsolation checks that Redis, the coordinator and the workers run,
// each in a network namespace of its own, on the compose network only.
func checkIsolation(t *testing.T, cs map[string][]container) {
	t.Helper()
	for svc, n := range map[string]int{"redis": 1, "coordinator": 1, "worker": workers} {
		if len(cs[svc]) != n {
			t.Fatalf("%d %s containers, want %d", len(cs[svc]), svc, n)
		}
	}
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{hostNS: "the host"}
	for _, list := range cs {
		for _, c := range list {
			if !c.State.Running {
				t.Fatalf("%s is not running", c.Name)
			}
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", c.State.Pid))
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if other, ok := seen[ns]; ok {
				t.Errorf("%s shares its network namespace with %s", c.Name, other)
			}
			seen[ns] = c.Name
			var nets []string
			for n := range c.NetworkSettings.Networks {
				nets = append(nets, n)
			}
			if len(nets) != 1 || nets[0] != project+"_default" {
				t.Errorf("%s is on networks %v, want only %s_default", c.Name, nets, project)
			}
		}
	}
}

// queueKeys returns asynq's keys that do not expire, each with its type
// and size, sorted: the queues and their tasks.
func (e *env) queueKeys() []string {
	e.t.Helper()
	const script = `local out = {}
for _, k in ipairs(redis.call('KEYS', 'asynq:*')) do
  if redis.call('TTL', k) == -1 then
    local t = redis.call('TYPE', k).ok
    local n = -1
    if t == 'list' then n = redis.call('LLEN', k)
    elseif t == 'zset' then n = redis.call('ZCARD', k)
    elseif t == 'hash' then n = redis.call('HLEN', k)
    elseif t == 'set' then n = redis.call('SCARD', k)
    elseif t == 'string' then n = redis.call('STRLEN', k) end
    table.insert(out, k .. ' ' .. t .. ' ' .. n)
  end
end
table.sort(out)
return out`
	out, err := e.redisCLI("eval", script, "0")
	if err != nil {
		e.t.Fatalf("reading the queue: %v", err)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

// waitRedis waits until Redis answers with the password.
func (e *env) waitRedis() {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := e.redisCLI("ping")
		if err == nil && strings.TrimSpace(out) == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("Redis did not come back within a minute: %q %v", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// member is one candidate of a final population, without its ids.
type member struct {
	Genome     string
	Objectives string
}

// snapshot is what the lineage database says of the run at one moment.
type snapshot struct {
	first       time.Time // when the wait that took it began
	run         storage.Run
	generations int                         // generations with candidates
	cands       [][]storage.Candidate       // per generation
	evaluatedBy map[string]int              // worker hostname -> candidates evaluated
	trainingBy  map[string]int              // worker hostname -> candidates in training
	db          func() (*storage.DB, error) // opens the database again
}

// lineageReader reads the coordinator's lineage database read-only from
// the star-db volume on the host, as a machine sharing that volume would.
type lineageReader struct {
	t    *testing.T
	path string
	id   string
}

func (l lineageReader) open() (*storage.DB, error) {
	return storage.OpenReadOnly(context.Background(), l.path)
}

func (l lineageReader) read() snapshot {
	l.t.Helper()
	s, err := l.tryRead()
	if err != nil {
		l.t.Fatal(err)
	}
	return s
}

func (l lineageReader) tryRead() (snapshot, error) {
	s := snapshot{evaluatedBy: map[string]int{}, trainingBy: map[string]int{}, db: l.open}
	ctx := context.Background()
	db, err := l.open()
	if err != nil {
		return s, err
	}
	defer db.Close()
	if s.run, err = db.GetRun(ctx, l.id); err != nil {
		return s, err
	}
	for g := 0; g <= s.run.Generations; g++ {
		cands, err := db.ListCandidates(ctx, l.id, g)
		if err != nil {
			return s, err
		}
		if len(cands) == 0 {
			break
		}
		s.generations++
		s.cands = append(s.cands, cands)
		for _, c := range cands {
			host, _, _ := strings.Cut(c.Worker, ":")
			switch c.Status {
			case storage.CandEvaluated:
				s.evaluatedBy[host]++
			case storage.CandTraining:
				s.trainingBy[host]++
			}
		}
	}
	return s, nil
}

// wait polls the lineage until cond holds.
func (l lineageReader) wait(what string, within time.Duration, cond func(snapshot) bool) snapshot {
	l.t.Helper()
	first := time.Now()
	var last snapshot
	var lastErr error
	for time.Since(first) < within {
		s, err := l.tryRead()
		s.first = first
		if err == nil && cond(s) {
			return s
		}
		last, lastErr = s, err
		time.Sleep(time.Second)
	}
	l.t.Fatalf("waited %s for %s; last: run %s, %d generations, trained by %v, training %v, error %v",
		within, what, last.run.Status, last.generations, last.evaluatedBy, last.trainingBy, lastErr)
	return last
}

// runInfo is what the checks need of the run config.
type runInfo struct {
	relArtifacts string // artifacts: as written in test/compose/search.yaml
}

// check checks that every generation holds exactly its candidates, each
// evaluated once, and that no node is left unfinished.
func (l lineageReader) check(s snapshot) runInfo {
	l.t.Helper()
	cfg, err := config.Load("search.yaml")
	if err != nil {
		l.t.Fatal(err)
	}
	if s.generations != cfg.Generations+1 {
		l.t.Errorf("%d generations with candidates, want %d", s.generations, cfg.Generations+1)
	}
	for g, cands := range s.cands {
		// NSGA-II breeds as many offspring as the population.
		if len(cands) != cfg.Population {
			l.t.Errorf("generation %d has %d candidates, want %d", g, len(cands), cfg.Population)
		}
		for i, c := range cands {
			if c.Index != i || c.Status != storage.CandEvaluated {
				l.t.Errorf("generation %d candidate %d: index %d, status %s (%s)", g, i, c.Index, c.Status, c.Error)
			}
		}
	}
	db, err := l.open()
	if err != nil {
		l.t.Fatal(err)
	}
	defer db.Close()
	unfinished, err := db.ListTaskStates(context.Background(), l.id, storage.Unfinished...)
	if err != nil {
		l.t.Fatal(err)
	}
	if len(unfinished) > 0 {
		l.t.Errorf("%d nodes unfinished, first %s", len(unfinished), unfinished[0].ID)
	}
	return runInfo{relArtifacts: cfg.Artifacts}
}

// population returns the run's final population.
func (s snapshot) population(t *testing.T) []member {
	t.Helper()
	db, err := s.db()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pop, err := finalPopulation(db, s.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	return pop
}

func finalPopulation(db *storage.DB, runID string) ([]member, error) {
	ctx := context.Background()
	run, err := db.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	gen, err := db.GetGeneration(ctx, runID, run.Generations)
	if err != nil {
		return nil, err
	}
	var out []member
	for _, id := range gen.Population {
		c, err := db.GetCandidate(ctx, id)
		if err != nil {
			return nil, err
		}
		obj, _ := json.Marshal(c.Objectives)
		out = append(out, member{Genome: c.Genome, Objectives: string(obj)})
	}
	return out, nil
}

// localReference runs the test's search with the host's binary in one
// process on the embedded queue and returns its final population.
func localReference(root, cli, dir string) ([]member, error) {
	if cli == "" {
		cli = filepath.Join(root, "bin", "star-pipeline")
	}
	// data/brown, the corpus path of the run config, through a link to
	// the repository's data directory.
	if err := os.Symlink(filepath.Join(root, "data"), filepath.Join(dir, "data")); err != nil {
		return nil, err
	}
	cmd := exec.Command(cli, "submit", "--config", filepath.Join(root, "test", "compose", "search.yaml"), "--db", "local.db")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAR_") && !strings.HasPrefix(kv, "GOMLX_BLAS") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// The containers have no OpenBLAS (test/compose/docker-compose.ci.yml
	// says so too): the host computes with the same Go kernels, whose
	// results are the containers' to the bit.
	cmd.Env = append(cmd.Env, "GOMLX_BLAS=off")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s submit: %w\n%s", cli, err, errb.String())
	}
	var id string
	for _, line := range strings.Split(errb.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "run" && f[2] == "submitted" {
			id = f[1]
		}
	}
	db, err := storage.OpenReadOnly(context.Background(), filepath.Join(dir, "local.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return finalPopulation(db, id)
}
