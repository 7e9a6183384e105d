package study

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestStat(t *testing.T) {
	t.Parallel()
	s := NewStat([]float64{10, 11, 12})
	if s.N != 3 || !near(s.Mean, 11) || !near(s.SD, 1) || !near(s.SE(), 1/math.Sqrt(3)) {
		t.Errorf("NewStat(10, 11, 12) = %+v, se %g", s, s.SE())
	}
	if s := NewStat([]float64{4}); s.N != 1 || s.Mean != 4 || s.SD != 0 || s.SE() != 0 {
		t.Errorf("one value: %+v", s)
	}
	if s := NewStat(nil); s.N != 0 || s.SE() != 0 {
		t.Errorf("no value: %+v", s)
	}
}

func TestSpearman(t *testing.T) {
	t.Parallel()
	cases := []struct {
		xs, ys []float64
		want   float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8},
		// Ties share the mean rank: ranks 1, 2.5, 2.5, 4 against 1..4.
		{[]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}, 4.5 / math.Sqrt(22.5)},
		// Only ranks matter.
		{[]float64{0.1, 100, 5}, []float64{-3, 7, 6.9}, 1},
	}
	for _, tc := range cases {
		if got := Spearman(tc.xs, tc.ys); !near(got, tc.want) {
			t.Errorf("Spearman(%v, %v) = %g, want %g", tc.xs, tc.ys, got, tc.want)
		}
	}
	if got := Spearman([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(got) {
		t.Errorf("no spread: %g, want NaN", got)
	}
}

// fixture is a run of 2 generations with a final stage of 3 seeds over
// two baselines and two evolved architectures, with known values.
func fixture(t *testing.T) Input {
	t.Helper()
	cfg, err := config.Parse([]byte(`
objectives: [perplexity, params]
generations: 2
training: {steps: 50}
final: {seeds: 3, top_k: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	run := storage.Run{ID: "r", Status: storage.RunFinished, Generations: 2}
	fg := storage.FinalGeneration(run)
	cand := func(g, i int, obj map[string]float64) storage.Candidate {
		metrics := fmt.Sprintf(`{"train":{"jobs":[{"steps":%d}]}}`, map[bool]int{true: 200, false: 50}[g == fg])
		return storage.Candidate{ID: storage.CandidateID("r", g, i), RunID: "r", Generation: g, Index: i,
			Status: storage.CandEvaluated, Objectives: obj, Metrics: json.RawMessage(metrics)}
	}
	in := Input{Run: run, Config: cfg,
		Generations: []storage.Generation{{Index: 0, Hypervolume: ptr(0.5)}, {Index: 1, Hypervolume: ptr(0.7)}, {Index: 2, Hypervolume: ptr(0.8)}},
		Entries: []storage.FinalEntry{
			{Index: 0, Name: "transformer++", Role: storage.RoleBaseline, Genome: "T", Source: storage.CandidateID("r", 0, 0)},
			{Index: 1, Name: "striped", Role: storage.RoleBaseline, Genome: "S", Source: storage.CandidateID("r", 0, 1)},
			{Index: 2, Name: "STAR-1", Role: storage.RoleCandidate, Genome: "A", Source: storage.CandidateID("r", 2, 3),
				Aliases: []string{"baseline-1"}},
			{Index: 3, Name: "STAR-2", Role: storage.RoleCandidate, Genome: "B", Source: storage.CandidateID("r", 1, 0)},
		},
	}
	// Short-budget results of the sources (the proxy) and one cache hit.
	in.Candidates = append(in.Candidates,
		cand(0, 0, map[string]float64{"perplexity": 12, "params": 100}),
		cand(0, 1, map[string]float64{"perplexity": 11, "params": 90}),
		cand(1, 0, map[string]float64{"perplexity": 11.5, "params": 95}),
		cand(2, 3, map[string]float64{"perplexity": 9, "params": 80}),
	)
	hit := cand(1, 1, map[string]float64{"perplexity": 12, "params": 100})
	hit.Worker, hit.Metrics = "cache:"+storage.CandidateID("r", 0, 0), nil
	in.Candidates = append(in.Candidates, hit)
	ppl := [][]float64{
		{10, 11, 12},      // transformer++: mean 11, sd 1
		{10.6, 11, 11.4},  // striped: mean 11, sd 0.4
		{9, 9.5, 10},      // STAR-1: mean 9.5, sd 0.5
		{10.4, 11.2, 9.0}, // STAR-2, one seed failed below: mean 10.8
	}
	params := []float64{100, 90, 80, 95}
	for e := range 4 {
		for s := range 3 {
			c := cand(fg, e*3+s, map[string]float64{"perplexity": ppl[e][s], "params": params[e]})
			if e == 3 && s == 2 {
				c.Status, c.Objectives, c.Error, c.Metrics = storage.CandFailed, nil, "training: loss is NaN", nil
			}
			in.Candidates = append(in.Candidates, c)
		}
	}
	return in
}

func ptr(x float64) *float64 { return &x }

func TestComputeOnFixture(t *testing.T) {
	t.Parallel()
	rep, err := Compute(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Steps != 200 || rep.Seeds != 3 || len(rep.Rows) != 4 {
		t.Fatalf("report header: complete %v steps %d seeds %d rows %d", rep.Complete, rep.Steps, rep.Seeds, len(rep.Rows))
	}
	tp, star1, star2 := rep.Rows[0], rep.Rows[2], rep.Rows[3]
	if v := tp.Values["perplexity"]; !near(v.Mean, 11) || !near(v.SD, 1) || v.N != 3 {
		t.Errorf("transformer++ perplexity %+v, want 11 +- 1 over 3", v)
	}
	if v := star1.Values["perplexity"]; !near(v.Mean, 9.5) || !near(v.SD, 0.5) {
		t.Errorf("STAR-1 perplexity %+v, want 9.5 +- 0.5", v)
	}
	if v := star2.Values["perplexity"]; !near(v.Mean, 10.8) || v.N != 2 || star2.Seeds != 2 || star2.Failed != 1 ||
		star2.Errors[0] != "training: loss is NaN" {
		t.Errorf("STAR-2: %+v seeds %d failed %d errors %v", v, star2.Seeds, star2.Failed, star2.Errors)
	}
	// STAR-1 against transformer++: perplexity 9.5 vs 11, combined SE
	// sqrt(1/3 + 0.25/3) = 0.645: better; params 80 vs 100: better.
	vs := star1.Versus[0]
	if vs.Baseline != "transformer++" || vs.Verdicts["perplexity"] != Better || vs.Verdicts["params"] != Better ||
		!vs.Dominates || !near(vs.Change["perplexity"], 100*(9.5-11)/11) || !near(vs.Change["params"], -20) {
		t.Errorf("STAR-1 vs transformer++: %+v", vs)
	}
	// STAR-2 against transformer++: 10.8 vs 11 is inside the combined
	// standard error (a tie), params 95 < 100: dominates.
	if vs := star2.Versus[0]; vs.Verdicts["perplexity"] != Tie || vs.Verdicts["params"] != Better || !vs.Dominates {
		t.Errorf("STAR-2 vs transformer++: %+v", vs)
	}
	// STAR-2 against striped: params 95 > 90 is worse: no dominance.
	if vs := star2.Versus[1]; vs.Baseline != "striped" || vs.Verdicts["params"] != Worse || vs.Dominates {
		t.Errorf("STAR-2 vs striped: %+v", vs)
	}
	if rep.Dominating["transformer++"] != 2 || rep.Dominating["striped"] != 1 {
		t.Errorf("dominating = %v, want transformer++ 2, striped 1", rep.Dominating)
	}
	// Baselines are compared with the other baselines, not themselves.
	if len(tp.Versus) != 1 || tp.Versus[0].Baseline != "striped" {
		t.Errorf("transformer++ versus %+v", tp.Versus)
	}
	// Spend: 4 search trainings of 50 steps and one cache hit; 11 final
	// retrainings of 200 steps and one failure (no metrics).
	if rep.Search != (Spend{Trainings: 4, CacheHits: 1, TrainSteps: 200}) {
		t.Errorf("search spend %+v", rep.Search)
	}
	if rep.Final != (Spend{Trainings: 12, TrainSteps: 11 * 200}) {
		t.Errorf("final spend %+v", rep.Final)
	}
	// Proxy: short budget 12, 11, 9, 11.5 against final 11, 11, 9.5, 10.8.
	want := Spearman([]float64{12, 11, 9, 11.5}, []float64{11, 11, 9.5, 10.8})
	if rep.Proxy == nil || !near(*rep.Proxy, want) || rep.ProxyN != 4 || rep.ProxyObjective != "perplexity" {
		t.Errorf("proxy %v over %d (%s), want %g over 4", rep.Proxy, rep.ProxyN, rep.ProxyObjective, want)
	}
	if len(rep.Hypervolume) != 3 || *rep.Hypervolume[2].Hypervolume != 0.8 {
		t.Errorf("hypervolume %+v", rep.Hypervolume)
	}
}

func TestComputeIncomplete(t *testing.T) {
	t.Parallel()
	in := fixture(t)
	in.Candidates[len(in.Candidates)-1].Status = storage.CandTraining
	rep, err := Compute(in)
	if err != nil || rep.Complete {
		t.Fatalf("complete %v, %v; want an incomplete report", rep.Complete, err)
	}
}

func TestComputeWithoutFinalStage(t *testing.T) {
	t.Parallel()
	in := fixture(t)
	in.Config.Final = nil
	if _, err := Compute(in); !errors.Is(err, ErrNoFinalStage) {
		t.Fatalf("err = %v, want ErrNoFinalStage", err)
	}
}

func TestTableAndNotes(t *testing.T) {
	t.Parallel()
	rep, err := Compute(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	header, rows := rep.Table()
	wantHeader := []string{"architecture", "genome", "params", "cache_bytes", "perplexity (mean ± sd)",
		"vs transformer++", "vs striped"}
	if fmt.Sprint(header) != fmt.Sprint(wantHeader) {
		t.Errorf("header %q, want %q", header, wantHeader)
	}
	want := [][]string{
		{"transformer++", "T", "100", "-", "11 ± 1 (n=3)", "-", "no: ppl +0.0%, params +11.1%"},
		{"striped", "S", "90", "-", "11 ± 0.4 (n=3)", "DOMINATES: ppl +0.0%, params -10.0%", "-"},
		{"STAR-1 (baseline-1)", "A", "80", "-", "9.5 ± 0.5 (n=3)", "DOMINATES: ppl -13.6%, params -20.0%", "DOMINATES: ppl -13.6%, params -11.1%"},
		{"STAR-2", "B", "95", "-", "10.8 ± 0.57 (n=2), 1 failed", "DOMINATES: ppl -1.8%, params -5.0%", "no: ppl -1.8%, params +5.6%"},
	}
	for i := range want {
		if fmt.Sprint(rows[i]) != fmt.Sprint(want[i]) {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
	notes := rep.Notes()
	for _, w := range []string{
		"final stage: 4 architectures x 3 seeds, 200 steps each (search: 50 steps); complete",
		"evolved architectures that dominate transformer++ on perplexity, params: 2 of 2",
		"evolved architectures that dominate striped on perplexity, params: 1 of 2",
		"hypervolume per generation: 0: 0.5000, 1: 0.7000, 2: 0.8000",
		"spent: search 4 trainings (1 cache hits), 200 train steps; final 12 retrainings, 2200 train steps",
		"STAR-2: a retraining failed: training: loss is NaN",
	} {
		found := false
		for _, n := range notes {
			found = found || n == w
		}
		if !found {
			t.Errorf("notes lack %q:\n%s", w, notes)
		}
	}
}
