package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// buildCLI builds the star-pipeline binary into a fresh temporary directory
// and returns its path.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "star-pipeline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	return bin
}

// inspectFixture is what seedInspectDB stored.
type inspectFixture struct {
	path string
	gens [2][]string // genomes of the candidates of generations 0 and 1
}

// seedInspectDB writes a lineage database with two runs: r1 (running, two
// finished generations, a third started) and r2 (pending, created later,
// no generation).
//
// r1 objectives are mad_score and params. Generation 1's population is
// g1c0, g1c1, g1c2, g0c1, g0c2 and the failed g1c3; its non-dominated set
// is g1c0, g1c1, g1c2. Generation 2 has two unfinished candidates.
func seedInspectDB(t *testing.T) inspectFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "star.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := config.Default()
	yml, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, r := range []storage.Run{
		{ID: "r1", Created: created, Seed: 1, Config: string(yml), ConfigHash: cfg.Hash(), Algorithm: cfg.Algorithm.Name,
			Population: cfg.Population, Generations: cfg.Generations},
		{ID: "r2", Created: created.Add(time.Hour), Seed: 2, Config: string(yml), ConfigHash: cfg.Hash(),
			Algorithm: cfg.Algorithm.Name, Population: cfg.Population, Generations: cfg.Generations},
	} {
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetRunStatus(ctx, "r1", storage.RunRunning, ""); err != nil {
		t.Fatal(err)
	}

	id := func(g, i int) string { return storage.CandidateID("r1", g, i) }
	var fx inspectFixture
	fx.path = path
	space := genome.Space{Depth: cfg.Search.Depth}
	for _, name := range []string{"transformer++", "striped"} {
		g, err := genome.Preset(name, cfg.Search.Depth)
		if err != nil {
			t.Fatal(err)
		}
		fx.gens[0] = append(fx.gens[0], genome.Format(genome.Repair(g, space)))
	}
	for i := range 2 {
		fx.gens[0] = append(fx.gens[0], genome.Format(genome.Random(rand.New(rand.NewPCG(uint64(i), 1)), space)))
	}
	for i := range 4 {
		fx.gens[1] = append(fx.gens[1], genome.Format(genome.Random(rand.New(rand.NewPCG(uint64(10+i), 1)), space)))
	}
	type spec struct {
		op      storage.Operator
		parents []string
		obj     []float64 // mad_score, params; nil: failed
	}
	specs := [2][]spec{
		{
			{storage.OpSeed, nil, []float64{0.50, 1000}},
			{storage.OpSeed, nil, []float64{0.40, 2000}},
			{storage.OpRandom, nil, []float64{0.60, 1500}},
			{storage.OpRandom, nil, []float64{0.30, 5000}},
		},
		{
			{storage.OpCrossMut, []string{id(0, 0), id(0, 1)}, []float64{0.35, 1200}},
			{storage.OpMutation, []string{id(0, 3)}, []float64{0.45, 900}},
			{storage.OpFirefly, []string{id(0, 1), id(0, 3)}, []float64{0.30, 4000}},
			{storage.OpCrossMut, []string{id(0, 2), id(0, 0)}, nil},
		},
	}
	populations := [2][]string{
		{id(0, 0), id(0, 1), id(0, 2), id(0, 3)},
		{id(1, 0), id(1, 1), id(1, 2), id(0, 1), id(0, 2), id(1, 3)},
	}
	for gen := range 2 {
		if err := db.StartGeneration(ctx, "r1", gen); err != nil {
			t.Fatal(err)
		}
		var cands []storage.Candidate
		for i, s := range specs[gen] {
			g := genome.MustParse(fx.gens[gen][i])
			cands = append(cands, storage.Candidate{RunID: "r1", Generation: gen, Index: i, Genome: fx.gens[gen][i],
				GenomeHash: genome.Hash(g), Parents: s.parents, Operator: s.op, Seed: uint64(100*gen + i)})
		}
		if err := db.AddCandidates(ctx, cands...); err != nil {
			t.Fatal(err)
		}
		for i, s := range specs[gen] {
			if s.obj == nil {
				if err := db.FailCandidate(ctx, id(gen, i), "NaN loss at step 12"); err != nil {
					t.Fatal(err)
				}
				continue
			}
			err := db.CompleteCandidate(ctx, id(gen, i), storage.Result{
				Objectives: map[string]float64{config.MADScore: s.obj[0], config.Params: s.obj[1]},
				Metrics:    json.RawMessage(`{"mad":{"in_context_recall":0.75}}`),
				Worker:     "w1", TrainSeconds: 3.5,
				Checkpoint: "artifacts/" + id(gen, i) + ".ckpt"})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.FinishGeneration(ctx, "r1", gen, 0.25*float64(gen+1), populations[gen]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AppendEvent(ctx, storage.Event{RunID: "r1", Kind: "generation.finished",
			Message: json.RawMessage(fmt.Sprintf(`{"generation":%d}`, gen))}); err != nil {
			t.Fatal(err)
		}
	}
	// Generation 2 is under way: g2c0 training, g2c1 (a crossover of g1c0
	// with itself) pending.
	if err := db.StartGeneration(ctx, "r1", 2); err != nil {
		t.Fatal(err)
	}
	for i, parents := range [][]string{{id(1, 0), id(1, 2)}, {id(1, 0), id(1, 0)}} {
		g := fx.gens[1][i]
		err := db.AddCandidates(ctx, storage.Candidate{RunID: "r1", Generation: 2, Index: i, Genome: g,
			GenomeHash: genome.Hash(genome.MustParse(g)), Parents: parents, Operator: storage.OpCrossMut})
		if err != nil {
			t.Fatal(err)
		}
	}
	// g2c0's training started on w1 (its train node running); g2c1's
	// train node waits in the queue.
	for i := range 2 {
		n := tasks.Node{Run: "r1", Generation: 2, Stage: tasks.StageTrain, Index: i}
		if _, err := db.AddTaskStates(ctx, storage.TaskState{ID: n.ID(), RunID: "r1", Generation: 2, Stage: string(n.Stage),
			Index: i, Kind: n.Stage.Kind(), Queue: tasks.QueueTrain}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetTaskStatus(ctx, tasks.Node{Run: "r1", Generation: 2, Stage: tasks.StageTrain}.ID(), storage.TaskRunning, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.StartCandidate(ctx, id(2, 0), "w1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return fx
}

func TestInspectCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildCLI(t)
	fx := seedInspectDB(t)
	db := []string{"STAR_DB=" + fx.path}
	run := func(t *testing.T, wantCode int, args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := genomeCLI(t, bin, db, args...)
		if code != wantCode {
			t.Fatalf("%v: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, stdout, stderr)
		}
		return stdout, stderr
	}
	contains := func(t *testing.T, out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	decode := func(t *testing.T, out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("decoding JSON: %v\n%s", err, out)
		}
	}
	id := func(g, i int) string { return storage.CandidateID("r1", g, i) }

	t.Run("runs", func(t *testing.T) {
		out, _ := run(t, 0, "runs")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a header and 2 rows:\n%s", out)
		}
		contains(t, lines[0], "ID", "STATUS", "ALGORITHM", "GENERATION", "POPULATION", "BEST", "CREATED", "ELAPSED")
		if !strings.HasPrefix(lines[1], "r2 ") || !strings.HasPrefix(lines[2], "r1 ") {
			t.Errorf("want newest first:\n%s", out)
		}
		contains(t, lines[2], "running", "nsga2", "2/18", "mad_score=0.3 params=900")
		contains(t, lines[1], "pending", "0/18")
	})
	t.Run("runs json", func(t *testing.T) {
		out, _ := run(t, 0, "runs", "--json")
		var runs []struct {
			ID         string             `json:"id"`
			Status     string             `json:"status"`
			Best       map[string]float64 `json:"best"`
			Objectives []string           `json:"objectives"`
			Evaluated  int                `json:"evaluated"`
		}
		decode(t, out, &runs)
		if len(runs) != 2 || runs[0].ID != "r2" || runs[1].ID != "r1" || runs[1].Status != "running" || runs[0].Status != "pending" {
			t.Fatalf("runs: %+v", runs)
		}
		r1 := runs[1]
		if r1.Evaluated != 7 || r1.Best[config.MADScore] != 0.30 || r1.Best[config.Params] != 900 ||
			!slices.Equal(r1.Objectives, []string{config.MADScore, config.Params}) {
			t.Errorf("r1: %+v", r1)
		}
	})
	t.Run("status", func(t *testing.T) {
		out, _ := run(t, 0, "status", "r1")
		flat := strings.Join(strings.Fields(out), " ")
		contains(t, flat, "run r1 status running algorithm nsga2 (seed 1) generation 2/18 population 16",
			"objectives mad_score, params (each minimised: lower is better) best mad_score=0.3 params=900", "created ",
			"GEN STATUS CANDIDATES EVALUATED FAILED UNFINISHED HYPERVOLUME SURVIVORS DURATION",
			"candidates: 7 evaluated, 1 failed, 1 in training or evaluation, 1 pending",
			"training now: "+id(2, 0)+" on w1 since ",
			"last 2 events:", "generation.finished", `{"generation":1}`)
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 8 && f[0] == "1" && f[1] == "done" {
				if want := []string{"1", "done", "4", "3", "1", "0", "0.5", "6"}; !slices.Equal(f[:8], want) {
					t.Errorf("generation 1 row %q, want %v...", l, want)
				}
			}
		}
	})
	t.Run("status json flag after arg", func(t *testing.T) {
		out, _ := run(t, 0, "status", "r1", "--json", "--events", "1")
		var st struct {
			Run struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"run"`
			Generations []struct {
				Index       int      `json:"index"`
				Status      string   `json:"status"`
				Evaluated   int      `json:"evaluated"`
				Failed      int      `json:"failed"`
				Hypervolume *float64 `json:"hypervolume"`
			} `json:"generations"`
			Candidates map[string]int `json:"candidates"`
			Events     []struct {
				Kind string `json:"kind"`
			} `json:"events"`
		}
		decode(t, out, &st)
		if st.Run.ID != "r1" || st.Run.Status != "running" || len(st.Generations) != 3 || len(st.Events) != 1 {
			t.Fatalf("status: %+v", st)
		}
		g1 := st.Generations[1]
		if g1.Status != "done" || g1.Evaluated != 3 || g1.Failed != 1 || g1.Hypervolume == nil || *g1.Hypervolume != 0.5 {
			t.Errorf("generation 1: %+v", g1)
		}
		if g2 := st.Generations[2]; g2.Status != "running" || g2.Hypervolume != nil || g2.Evaluated != 0 {
			t.Errorf("generation 2: %+v", st.Generations[2])
		}
		if st.Candidates["evaluated"] != 7 || st.Candidates["failed"] != 1 || st.Candidates["pending"] != 1 ||
			st.Candidates["training"] != 1 {
			t.Errorf("candidates: %v", st.Candidates)
		}
	})
	t.Run("status json training", func(t *testing.T) {
		out, _ := run(t, 0, "status", "r1", "--json")
		var st struct {
			Training []struct {
				ID      string    `json:"id"`
				Worker  string    `json:"worker"`
				Started time.Time `json:"started"`
			} `json:"training"`
		}
		decode(t, out, &st)
		if len(st.Training) != 1 || st.Training[0].ID != id(2, 0) || st.Training[0].Worker != "w1" || st.Training[0].Started.IsZero() {
			t.Errorf("training: %+v", st.Training)
		}
	})
	t.Run("status of the newest run", func(t *testing.T) {
		out, stderr := run(t, 0, "status")
		flat := strings.Join(strings.Fields(out), " ")
		contains(t, flat, "run r2 status pending")
		contains(t, stderr, "newest run r2")
		out, _ = run(t, 0, "status", "--json", "--events", "0")
		contains(t, out, `"id": "r2"`)
	})
	t.Run("pareto", func(t *testing.T) {
		out, _ := run(t, 0, "pareto", "r1")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 {
			t.Fatalf("want a header, 3 rows and a summary:\n%s", out)
		}
		contains(t, lines[0], "ID", "GENOME", "mad_score", "params")
		for i, want := range [][]string{
			{id(1, 0), fx.gens[1][0], "0.35", "1200"},
			{id(1, 1), fx.gens[1][1], "0.45", "900"},
			{id(1, 2), fx.gens[1][2], "0.3", "4000"},
		} {
			if f := strings.Fields(lines[i+1]); !slices.Equal(f, want) {
				t.Errorf("row %d = %v, want %v", i, f, want)
			}
		}
		contains(t, lines[4], "3 of 6 in the population of generation 1", "every objective is minimised (lower is better)")
	})
	t.Run("pareto json", func(t *testing.T) {
		out, _ := run(t, 0, "pareto", "--json", "r1")
		var set []struct {
			ID         string             `json:"id"`
			Genome     string             `json:"genome"`
			Generation int                `json:"generation"`
			Objectives map[string]float64 `json:"objectives"`
			Metrics    json.RawMessage    `json:"metrics"`
		}
		decode(t, out, &set)
		var ids []string
		for _, e := range set {
			ids = append(ids, e.ID)
		}
		if want := []string{id(1, 0), id(1, 1), id(1, 2)}; !slices.Equal(ids, want) {
			t.Fatalf("ids %v, want %v", ids, want)
		}
		if e := set[1]; e.Genome != fx.gens[1][1] || e.Generation != 1 || e.Objectives[config.Params] != 900 ||
			!strings.Contains(string(e.Metrics), "in_context_recall") {
			t.Errorf("entry: %+v", e)
		}
	})
	t.Run("pareto without finished generation", func(t *testing.T) {
		_, stderr := run(t, 1, "pareto", "r2")
		contains(t, stderr, "run r2 has no finished generation")
	})
	t.Run("lineage", func(t *testing.T) {
		out, _ := run(t, 0, "lineage", id(1, 3))
		want := strings.Join([]string{
			id(1, 3) + "  crossover+mutation  " + fx.gens[1][3] + "  failed: NaN loss at step 12",
			"├── " + id(0, 2) + "  random  " + fx.gens[0][2] + "  mad_score=0.6 params=1500",
			"└── " + id(0, 0) + "  seed  " + fx.gens[0][0] + "  mad_score=0.5 params=1000",
		}, "\n") + "\n"
		if out != want {
			t.Errorf("lineage:\n%s\nwant:\n%s", out, want)
		}
		out, _ = run(t, 0, "lineage", id(1, 2))
		contains(t, out, id(1, 2)+"  firefly  ", "├── "+id(0, 1)+"  seed  ", "└── "+id(0, 3)+"  random  ")
		out, _ = run(t, 0, "lineage", id(2, 1))
		want = strings.Join([]string{
			id(2, 1) + "  crossover+mutation  " + fx.gens[1][1] + "  pending",
			"├── " + id(1, 0) + "  crossover+mutation  " + fx.gens[1][0] + "  mad_score=0.35 params=1200",
			"│   ├── " + id(0, 0) + "  seed  " + fx.gens[0][0] + "  mad_score=0.5 params=1000",
			"│   └── " + id(0, 1) + "  seed  " + fx.gens[0][1] + "  mad_score=0.4 params=2000",
			"└── " + id(1, 0) + "  crossover+mutation  " + fx.gens[1][0] + "  mad_score=0.35 params=1200  (ancestry shown above)",
		}, "\n") + "\n"
		if out != want {
			t.Errorf("lineage with a repeated parent:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("lineage json", func(t *testing.T) {
		out, _ := run(t, 0, "lineage", id(1, 0), "--json")
		type node struct {
			ID         string             `json:"id"`
			Operator   string             `json:"operator"`
			Genome     string             `json:"genome"`
			Objectives map[string]float64 `json:"objectives"`
			Repeated   bool               `json:"repeated"`
			Parents    []node             `json:"parents"`
		}
		var n node
		decode(t, out, &n)
		if n.ID != id(1, 0) || n.Operator != "crossover+mutation" || n.Objectives[config.MADScore] != 0.35 ||
			len(n.Parents) != 2 || n.Parents[0].ID != id(0, 0) || n.Parents[1].ID != id(0, 1) ||
			n.Parents[0].Operator != "seed" || n.Parents[0].Genome != fx.gens[0][0] || len(n.Parents[0].Parents) != 0 {
			t.Errorf("lineage: %+v", n)
		}
		out, _ = run(t, 0, "lineage", id(2, 1), "--json")
		n = node{}
		decode(t, out, &n)
		if len(n.Parents) != 2 || n.Parents[0].Repeated || len(n.Parents[0].Parents) != 2 ||
			!n.Parents[1].Repeated || n.Parents[1].ID != id(1, 0) || len(n.Parents[1].Parents) != 0 {
			t.Errorf("lineage with a repeated parent: %+v", n)
		}
	})
	t.Run("export", func(t *testing.T) {
		out, _ := run(t, 0, "export", id(1, 1))
		var ex struct {
			ID         string             `json:"id"`
			Genome     string             `json:"genome"`
			Slots      []genome.Slot      `json:"slots"`
			Hash       string             `json:"hash"`
			Parents    []string           `json:"parents"`
			Operator   string             `json:"operator"`
			Config     config.Config      `json:"config"`
			ConfigYAML string             `json:"config_yaml"`
			Costs      arch.CostReport    `json:"costs"`
			Objectives map[string]float64 `json:"objectives"`
			Metrics    json.RawMessage    `json:"metrics"`
			Checkpoint string             `json:"checkpoint"`
		}
		decode(t, out, &ex)
		g := genome.MustParse(fx.gens[1][1])
		cfg := config.Default()
		costs, err := arch.Costs(g, cfg.Search.Dims.WithDefaults())
		if err != nil {
			t.Fatal(err)
		}
		if ex.ID != id(1, 1) || ex.Genome != fx.gens[1][1] || ex.Hash != genome.Hash(g) || len(ex.Slots) != len(g) ||
			ex.Slots[0] != g[0] || !slices.Equal(ex.Parents, []string{id(0, 3)}) || ex.Operator != "mutation" {
			t.Errorf("candidate fields: %+v", ex)
		}
		if !slices.Equal(ex.Config.Objectives, cfg.Objectives) || ex.Config.Population != cfg.Population {
			t.Errorf("config: %+v", ex.Config)
		}
		if parsed, err := config.Parse([]byte(ex.ConfigYAML)); err != nil || parsed.Hash() != cfg.Hash() {
			t.Errorf("config_yaml does not parse back to the run config: %v", err)
		}
		if ex.Costs.Params != costs.Params || ex.Costs.CacheBytes != costs.CacheBytes || len(ex.Costs.PerSlot) != len(g) {
			t.Errorf("costs %+v, want params %d cache %d", ex.Costs, costs.Params, costs.CacheBytes)
		}
		if ex.Objectives[config.Params] != 900 || !strings.Contains(string(ex.Metrics), "in_context_recall") ||
			ex.Checkpoint != "artifacts/"+id(1, 1)+".ckpt" {
			t.Errorf("results: %v %s %q", ex.Objectives, ex.Metrics, ex.Checkpoint)
		}
	})

	for _, tc := range []struct {
		name   string
		code   int
		args   []string
		stderr string
	}{
		{"status unknown run", 1, []string{"status", "nope"}, "no run nope in DB"},
		{"pareto unknown run", 1, []string{"pareto", "nope", "--json"}, "no run nope in DB"},
		{"lineage unknown candidate", 1, []string{"lineage", "r1/g009/c0000"}, "no candidate r1/g009/c0000 in DB"},
		{"export unknown candidate", 1, []string{"export", "nope"}, "no candidate nope in DB"},
		{"pareto missing arg", 2, []string{"pareto", "--json"}, "missing RUN_ID"},
		{"lineage missing arg", 2, []string{"lineage"}, "missing CANDIDATE_ID"},
		{"export missing arg", 2, []string{"export"}, "missing CANDIDATE_ID"},
		{"status two args", 2, []string{"status", "r1", "r2"}, "want one RUN_ID"},
		{"runs with arg", 2, []string{"runs", "r1"}, "no arguments"},
		{"unknown flag", 2, []string{"status", "r1", "--colour"}, "flag provided but not defined"},
		{"bad events", 2, []string{"status", "r1", "--events", "-1"}, "--events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr := run(t, tc.code, tc.args...)
			contains(t, stderr, tc.stderr)
		})
	}

	t.Run("missing db", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.db")
		for _, args := range [][]string{{"runs", "--db", path}, {"status", "r1", "--db", path}} {
			_, stderr, code := genomeCLI(t, bin, []string{"STAR_DB=" + fx.path}, args...)
			if code != 1 || !strings.Contains(stderr, "no database at "+path) {
				t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
			}
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("a read command created %s (stat: %v)", path, err)
		}
		// After `make demo` the runs are in demo.db: the default star.db
		// is missing, and the message names the database that is there.
		dir := t.TempDir()
		copyFile(t, fx.path, filepath.Join(dir, "demo.db"))
		cmd := exec.Command(bin, "runs")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "STAR_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "no database at star.db") ||
			!strings.Contains(stderr.String(), "--db demo.db") {
			t.Errorf("runs beside demo.db: %v, stderr %q", err, stderr.String())
		}
	})
	t.Run("refused files", func(t *testing.T) {
		dir := t.TempDir()
		text := filepath.Join(dir, "notes.db")
		if err := os.WriteFile(text, []byte("these are not the runs you are looking for\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		foreign := filepath.Join(dir, "foreign.db")
		sdb, err := sql.Open("sqlite3", foreign)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.Exec(`CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('a')`); err != nil {
			t.Fatal(err)
		}
		if err := sdb.Close(); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ path, stderr string }{
			{text, "not a SQLite database"},
			{foreign, "not a star-pipeline database"},
		} {
			before, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			_, stderr, code := genomeCLI(t, bin, []string{"STAR_DB=" + tc.path}, "runs")
			if code != 1 || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stderr, "left untouched") {
				t.Errorf("%s: exit %d, stderr %q", tc.path, code, stderr)
			}
			after, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("%s was modified", tc.path)
			}
			for _, suffix := range []string{"-wal", "-shm", "-journal"} {
				if _, err := os.Stat(tc.path + suffix); err == nil {
					t.Errorf("%s%s was created", tc.path, suffix)
				}
			}
		}
	})

	t.Run("empty db", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "star.db")
		db, err := openDBForWrite(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := genomeCLI(t, bin, nil, "runs", "--db", path, "--json")
		if code != 0 || strings.TrimSpace(stdout) != "[]" {
			t.Errorf("runs --json on an empty DB: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		stdout, _, code = genomeCLI(t, bin, nil, "runs", "--db", path)
		if code != 0 || !strings.Contains(stdout, "no runs in") {
			t.Errorf("runs on an empty DB: exit %d, stdout %q", code, stdout)
		}
		_, stderr, code = genomeCLI(t, bin, nil, "status", "--db", path)
		if code != 1 || !strings.Contains(stderr, "no runs in") || !strings.Contains(stderr, "submit") {
			t.Errorf("status without RUN_ID on an empty DB: exit %d, stderr %q", code, stderr)
		}
		_, err = openDBForWrite(context.Background(), filepath.Join(filepath.Dir(path), "missing", "star.db"))
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("openDBForWrite in a missing directory: %v", err)
		}
	})
}
