package runview_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/tasks"
)

func TestSummariseDemo(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Load(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	now := plottest.Created.Add(5 * time.Hour)
	s := runview.Summarise(d, now)
	// Counted independently of the read model.
	var eval, failed, training, pending int
	best := map[string]float64{}
	for _, c := range d.Candidates {
		switch c.Status {
		case storage.CandEvaluated:
			eval++
			for k, v := range c.Objectives {
				if b, ok := best[k]; !ok || v < b {
					best[k] = v
				}
			}
		case storage.CandFailed:
			failed++
		case storage.CandTraining:
			training++
		case storage.CandPending:
			pending++
		}
	}
	if s.Evaluated != eval || s.Failed != failed || s.Training != training || s.Pending != pending ||
		s.Candidates != len(d.Candidates) || failed != 2 || training != 2 || pending != 1 {
		t.Errorf("counts %+v; want evaluated %d failed %d training %d pending %d", s, eval, failed, training, pending)
	}
	if !slices.Equal(s.Objectives, []string{config.MADScore, config.Params}) || len(s.Best) != 2 ||
		s.Best[config.MADScore] != best[config.MADScore] || s.Best[config.Params] != best[config.Params] {
		t.Errorf("best %v over %v, want %v", s.Best, s.Objectives, best)
	}
	if s.Hypervolume == nil || s.TokensPerSecond == nil || *s.TokensPerSecond <= 0 {
		t.Errorf("hypervolume %v, throughput %v", s.Hypervolume, s.TokensPerSecond)
	}
	if s.Status != storage.RunRunning || s.Finished != nil || s.Elapsed() != 5*time.Hour {
		t.Errorf("a running run: status %s finished %v elapsed %v, want 5h to now", s.Status, s.Finished, s.Elapsed())
	}

	// One JSON shape: the fields `runs --json` and /api/runs document.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"id", "status", "algorithm", "seed", "population", "generations", "current_generation",
		"objectives", "best", "candidates", "evaluated", "failed", "training", "pending", "hypervolume",
		"train_tokens_per_s", "created", "updated", "elapsed_seconds", "config_hash"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, b)
		}
	}
}

func TestSummaryElapsed(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(10 * time.Hour)
	for _, tc := range []struct {
		status   storage.RunStatus
		finished time.Time
		want     time.Duration
	}{
		{storage.RunPending, time.Time{}, 10 * time.Hour},
		{storage.RunRunning, time.Time{}, 10 * time.Hour},
		{storage.RunPaused, time.Time{}, 2 * time.Hour},
		{storage.RunFailed, time.Time{}, 2 * time.Hour},
		{storage.RunFinished, created.Add(3 * time.Hour), 3 * time.Hour},
	} {
		d := runview.Run{Run: storage.Run{ID: "r", Status: tc.status, Created: created, Updated: created.Add(2 * time.Hour),
			Finished: tc.finished}}
		if got := runview.Summarise(d, now).Elapsed(); got != tc.want {
			t.Errorf("%s: elapsed %v, want %v", tc.status, got, tc.want)
		}
	}
	d := runview.Run{Run: storage.Run{ID: "r", Status: storage.RunRunning, Created: now.Add(time.Hour)}}
	if got := runview.Summarise(d, now).ElapsedSeconds; got != 0 {
		t.Errorf("created after now: elapsed %v, want 0", got)
	}
}

func TestSummariseGenerations(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Load(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	gs := runview.SummariseGenerations(d)
	if len(gs) != len(d.Generations) || len(gs) != 4 {
		t.Fatalf("%d generation summaries, want 4", len(gs))
	}
	total := 0
	for i, g := range gs {
		if g.Index != d.Generations[i].Index || g.Survivors != len(d.Generations[i].Population) {
			t.Errorf("generation %d: %+v", i, g)
		}
		n := 0
		for _, c := range d.Candidates {
			if c.Generation == g.Index {
				n++
			}
		}
		sum := 0
		for _, v := range g.ByStatus {
			sum += v
		}
		if g.Candidates != n || sum != n || g.Evaluated+g.Failed+g.Unfinished != n {
			t.Errorf("generation %d: %d candidates, by status %v, want %d", g.Index, g.Candidates, g.ByStatus, n)
		}
		if _, ok := g.Duration(); ok != (g.Status == storage.GenDone) {
			t.Errorf("generation %d (%s): duration known %v", g.Index, g.Status, ok)
		}
		total += n
	}
	last := gs[3]
	if last.Unfinished != 3 || last.Evaluated != 3 {
		t.Errorf("generation 3: %+v, want 3 evaluated and 3 unfinished", last)
	}
	if total != len(d.Candidates) {
		t.Errorf("generations hold %d candidates, the run %d", total, len(d.Candidates))
	}
	counts := runview.CountByStatus(d.Candidates)
	if len(counts) != 4 || counts[storage.CandFailed] != 2 {
		t.Errorf("counts %v", counts)
	}
	if counts := runview.CountByStatus(nil); len(counts) != 4 || counts[storage.CandPending] != 0 {
		t.Errorf("no candidates: counts %v, want every status at 0", counts)
	}
}

func TestLastParetoSet(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Load(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	set, err := runview.LastParetoSet(d)
	if err != nil {
		t.Fatal(err)
	}
	if set.Generation != 2 || set.Run != plottest.Demo || set.Population != len(d.Generations[2].Population) {
		t.Errorf("set of generation %d over %d, want generation 2", set.Generation, set.Population)
	}
	// Every member is non-dominated in that population; every other
	// evaluated member is dominated by some member.
	byID := map[string]storage.Candidate{}
	for _, c := range d.Candidates {
		byID[c.ID] = c
	}
	vec := func(c storage.Candidate) []float64 {
		f, ok := runview.ObjectiveVector(c, d.Objectives)
		if !ok {
			t.Fatalf("%s lacks an objective", c.ID)
		}
		return f
	}
	in := map[string]bool{}
	for _, m := range set.Members {
		in[m.ID] = true
	}
	if len(in) == 0 {
		t.Fatal("empty Pareto set")
	}
	for _, id := range d.Generations[2].Population {
		c := byID[id]
		if c.Status != storage.CandEvaluated {
			if in[id] {
				t.Errorf("%s (%s) is in the set", id, c.Status)
			}
			continue
		}
		dominated := false
		for _, o := range d.Generations[2].Population {
			if oc := byID[o]; oc.Status == storage.CandEvaluated && evolve.Dominates(vec(oc), vec(c)) {
				dominated = true
			}
		}
		if in[id] == dominated {
			t.Errorf("%s: in the set %v, dominated %v", id, in[id], dominated)
		}
	}

	empty, err := runview.Load(ctx, db, plottest.Empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runview.LastParetoSet(empty); !errors.Is(err, runview.ErrNoFinishedGeneration) {
		t.Errorf("a run without a finished generation: %v", err)
	}
}

func TestLoadUnknownRun(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	if _, err := runview.Load(ctx, db, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Load: %v, want ErrNotFound", err)
	}
	if _, err := runview.LoadStatus(ctx, db, "nope", 3, time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("LoadStatus: %v, want ErrNotFound", err)
	}
	all, err := runview.LoadAll(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range all {
		ids = append(ids, d.Run.ID)
	}
	if !slices.Equal(ids, []string{plottest.Empty, plottest.Demo, plottest.Perplexity}) {
		t.Errorf("LoadAll: %v, want newest first", ids)
	}
	finished, err := runview.LoadAll(ctx, db, storage.RunFinished)
	if err != nil || len(finished) != 1 || finished[0].Run.ID != plottest.Perplexity {
		t.Errorf("LoadAll(finished): %d runs, %v", len(finished), err)
	}
}

func TestRunObjectivesFallback(t *testing.T) {
	t.Parallel()
	bad := storage.Run{ID: "r", Config: "objectives: [: nope"}
	cands := []storage.Candidate{{Objectives: map[string]float64{"params": 1, "perplexity": 2}}}
	if got := runview.RunObjectives(bad, cands); !slices.Equal(got, []string{"params", "perplexity"}) {
		t.Errorf("unparsable config: %v, want the candidates' names sorted", got)
	}
	if got := runview.RunObjectives(bad, nil); !slices.Equal(got, config.Default().Objectives) {
		t.Errorf("unparsable config, no candidates: %v, want the defaults", got)
	}
	if _, err := runview.Config(bad); err == nil {
		t.Error("Config of an unparsable run: want an error")
	}
	if got := runview.ConfigOrDefault(bad); got.Hash() != config.Default().Hash() {
		t.Error("ConfigOrDefault of an unparsable run: want the default config")
	}
}

func TestStatusTrainingAndEvents(t *testing.T) {
	t.Parallel()
	if runview.TrainStage != string(tasks.StageTrain) {
		t.Fatalf("TrainStage %q, the task graph's %q", runview.TrainStage, tasks.StageTrain)
	}
	db, ctx, must := emptyDB(t)
	cfg := config.Default()
	yml, _ := cfg.YAML()
	must(db.CreateRun(ctx, storage.Run{ID: "r1", Created: time.Now(), Config: string(yml), ConfigHash: cfg.Hash(),
		Algorithm: cfg.Algorithm.Name, Population: 2, Generations: 1}))
	must(db.StartGeneration(ctx, "r1", 0))
	must(db.AddCandidates(ctx, storage.Candidate{RunID: "r1", Index: 0, Genome: "11111", Operator: storage.OpSeed},
		storage.Candidate{RunID: "r1", Index: 1, Genome: "91111", Operator: storage.OpSeed}))
	for i := range 2 {
		n := tasks.Node{Run: "r1", Generation: 0, Stage: tasks.StageTrain, Index: i}
		_, err := db.AddTaskStates(ctx, storage.TaskState{ID: n.ID(), RunID: "r1", Stage: string(n.Stage), Index: i,
			Kind: n.Stage.Kind(), Queue: tasks.QueueTrain})
		must(err)
	}
	must(db.SetTaskStatus(ctx, tasks.Node{Run: "r1", Stage: tasks.StageTrain, Index: 1}.ID(), storage.TaskRunning, ""))
	must(db.StartCandidate(ctx, "r1/g000/c0001", "w7", time.Now()))
	for i := range 4 {
		_, err := db.AppendEvent(ctx, storage.Event{RunID: "r1", Kind: "k", Message: json.RawMessage(`{"i":` + string(rune('0'+i)) + `}`)})
		must(err)
	}

	st, err := runview.LoadStatus(ctx, db, "r1", 3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Training) != 1 || st.Training[0].ID != "r1/g000/c0001" || st.Training[0].Worker != "w7" {
		t.Errorf("training %+v, want c0001 on w7", st.Training)
	}
	if len(st.Events) != 3 || string(st.Events[0].Message) != `{"i":1}` || string(st.Events[2].Message) != `{"i":3}` {
		t.Errorf("events %+v, want the last 3", st.Events)
	}
	if st.Candidates[storage.CandTraining] != 1 || st.Candidates[storage.CandPending] != 1 || len(st.Generations) != 1 {
		t.Errorf("status %+v", st)
	}
	st, err = runview.LoadStatus(ctx, db, "r1", 0, time.Now())
	if err != nil || st.Events == nil || len(st.Events) != 0 {
		t.Errorf("no events asked: %v, %v", st.Events, err)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	d, err := runview.Load(ctx, db, plottest.Demo)
	if err != nil {
		t.Fatal(err)
	}
	if got := runview.GenerationIndices(d); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("generation indices %v", got)
	}
	m := runview.Members(d, 2)
	sel := d.Generations[2].Population
	if m.Status != storage.GenDone || len(m.Selected) != len(sel) {
		t.Errorf("generation 2: status %s, %d selected, want done and %d", m.Status, len(m.Selected), len(sel))
	}
	created, inherited := 0, 0
	for _, c := range m.Candidates {
		switch {
		case c.Generation == 2:
			created++
		case c.Generation < 2 && m.Selected[c.ID]:
			inherited++
		default:
			t.Errorf("%s is not a member of generation 2", c.ID)
		}
	}
	if created != 6 || created+inherited > created+len(sel) {
		t.Errorf("generation 2: %d created, %d inherited", created, inherited)
	}
	if m := runview.Members(d, 7); m.Status != "" || len(m.Candidates) != 0 {
		t.Errorf("a generation that does not exist: %+v", m)
	}
}
