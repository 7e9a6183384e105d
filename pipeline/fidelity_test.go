package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/pipeline"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
	"github.com/star-pipeline/star-pipeline/tasks"
)

// fidelityConfig is staticConfig with rungs of 10, 20 and 40 steps.
func fidelityConfig(t *testing.T, seed uint64) config.Config {
	t.Helper()
	return staticConfig(t, seed, "training: {steps: 40}", "fidelity: {rungs: [10, 20, 40], eta: 3}")
}

// rungEval is the static evaluator made rung-aware: training keeps the
// steps trained so far in a marker beside the static checkpoint and must
// continue it (never go back), and evaluation adds to params a noise that
// shrinks with the steps trained, so that a candidate's rank can change
// from rung to rung. One genome in four (by hash) is stopped early at
// rung 0, as the hopeless check would.
type rungEval struct {
	tasks.StaticEvaluator
	mu      sync.Mutex
	trained int // steps trained in total
}

func (e *rungEval) Train(ctx context.Context, p tasks.TrainPayload) (tasks.TrainResult, error) {
	marker := filepath.Join(p.Checkpoint, "steps")
	prior := 0
	if b, err := os.ReadFile(marker); err == nil {
		prior, _ = strconv.Atoi(string(b))
	}
	target := p.Steps
	if target == 0 {
		target = 40
	}
	if prior > target {
		return tasks.TrainResult{}, fmt.Errorf("checkpoint at %d steps, asked for %d", prior, target)
	}
	if h := fnv.New32a(); p.Node.Rung == 0 && func() bool { h.Write([]byte(p.Genome)); return h.Sum32()%4 == 0 }() {
		m, _ := json.Marshal(map[string]any{"losses": []float64{5.5, 5.6, 5.7}})
		return tasks.TrainResult{Checkpoint: p.Checkpoint, Metrics: m, FailedEarly: "text: hopeless (fixture)"}, nil
	}
	res, err := e.StaticEvaluator.Train(ctx, p)
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(marker, []byte(strconv.Itoa(target)), 0o644); err != nil {
		return res, err
	}
	e.mu.Lock()
	e.trained += target - prior
	e.mu.Unlock()
	return res, nil
}

func (e *rungEval) Evaluate(ctx context.Context, p tasks.EvaluatePayload) (tasks.EvaluateResult, error) {
	res, err := e.StaticEvaluator.Evaluate(ctx, p)
	if err != nil {
		return res, err
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(p.Checkpoint), "steps"))
	if err != nil {
		return res, err
	}
	steps, _ := strconv.Atoi(string(b))
	h := fnv.New32a()
	fmt.Fprintf(h, "%s@%d", p.Genome, steps)
	res.Objectives[config.Params] += float64(h.Sum32()%20000) * 10 / float64(steps)
	return res, nil
}

func TestMultiFidelityRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := &rungEval{}
	h := newHarness(t, ev)
	cfg := fidelityConfig(t, 3)
	id, _ := runToEnd(t, h, h.coordinator(t, nil), cfg)
	all, err := h.db.ListCandidates(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := h.db.ListRungEvaluations(ctx, id, -1)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		cand string
		rung int
	}
	at := map[key]storage.RungEvaluation{}
	for _, e := range evs {
		at[key{e.CandidateID, e.Rung}] = e
	}
	steps, early := 0, 0
	defer func() {
		if early == 0 {
			t.Error("no candidate failed early; the fixture should stop some")
		}
	}()
	for g := 0; g <= cfg.Generations; g++ {
		var gen []storage.Candidate
		for _, c := range all {
			if c.Generation == g {
				gen = append(gen, c)
			}
		}
		// Rung by rung: who entered, and that the promoted are the best
		// ceil(n/3) of the rung by rank (none dominated by one left
		// behind).
		entered := gen
		for k := range 3 {
			var healthy, next []storage.Candidate
			for _, c := range entered {
				e, ok := at[key{c.ID, k}]
				if !ok {
					t.Fatalf("%s entered rung %d without an evaluation there", c.ID, k)
				}
				if e.Steps != cfg.Fidelity.Rungs[k] {
					t.Errorf("%s rung %d: %d steps", c.ID, k, e.Steps)
				}
				switch e.Status {
				case "evaluated":
					healthy = append(healthy, c)
				case "failed_early":
					early++
					if c.Status != storage.CandFailed || !strings.HasPrefix(c.Error, "failed early") || !strings.Contains(string(c.Metrics), "losses") {
						t.Errorf("%s failed early: status %s, error %q, metrics %s", c.ID, c.Status, c.Error, c.Metrics)
					}
				default:
					t.Errorf("%s rung %d: %s", c.ID, k, e.Status)
				}
				if _, ok := at[key{c.ID, k + 1}]; ok {
					next = append(next, c)
				}
			}
			if k == 2 {
				if len(next) != 0 {
					t.Errorf("generation %d: evaluations above the last rung", g)
				}
				break
			}
			if want := min(len(healthy), (len(entered)+2)/3); len(next) != want {
				t.Errorf("generation %d rung %d: %d of %d promoted (%d healthy), want %d", g, k, len(next), len(entered), len(healthy), want)
			}
			for _, p := range next {
				for _, o := range healthy {
					if slices.ContainsFunc(next, func(c storage.Candidate) bool { return c.ID == o.ID }) {
						continue
					}
					if evolve.Dominates(vector(t, cfg, at[key{o.ID, k}].Objectives), vector(t, cfg, at[key{p.ID, k}].Objectives)) {
						t.Errorf("generation %d rung %d: promoted %s is dominated by %s, left behind", g, k, p.ID, o.ID)
					}
				}
			}
			entered = next
		}
		for _, c := range gen {
			if c.Status == storage.CandEvaluated {
				steps += c.Steps
				if top := at[key{c.ID, c.Rung}]; top.Objectives[config.Params] != c.Objectives[config.Params] {
					t.Errorf("%s: objectives %v are not those of its highest rung %d", c.ID, c.Objectives, c.Rung)
				}
			}
		}
	}
	// Each candidate trained once to its highest rung, continuing its
	// checkpoint: no step was trained twice.
	if ev.trained != steps {
		t.Errorf("%d steps trained, the candidates' highest rungs add up to %d", ev.trained, steps)
	}
	if full := 40 * len(all); steps*2 > full {
		t.Errorf("%d train steps, more than half of the %d of a single budget", steps, full)
	}
	t.Logf("%d train steps against %d for one budget; %d failed early", steps, 40*len(all), early)

	// Survival ranks a higher rung first: no candidate left out of a
	// population reached a higher rung than one kept.
	gens, err := h.db.ListGenerations(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]storage.Candidate{}
	for _, c := range all {
		byID[c.ID] = c
	}
	for g := 1; g < len(gens); g++ {
		pool := slices.Clone(gens[g-1].Population)
		for _, c := range all {
			if c.Generation == g {
				pool = append(pool, c.ID)
			}
		}
		lowKept, highLeft := 1<<30, -1
		for _, cid := range pool {
			c := byID[cid]
			if c.Status != storage.CandEvaluated {
				continue
			}
			if slices.Contains(gens[g].Population, cid) {
				lowKept = min(lowKept, c.Rung)
			} else {
				highLeft = max(highLeft, c.Rung)
			}
		}
		if highLeft > lowKept {
			t.Errorf("generation %d kept a rung-%d candidate and dropped a rung-%d one", g, lowKept, highLeft)
		}
	}

	// The proxy check: one event per generation; the run's correlations.
	events, err := h.db.ListEvents(ctx, id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Kind == "fidelity.correlation" {
			n++
		}
	}
	if n != cfg.Generations+1 {
		t.Errorf("%d fidelity.correlation events, want %d", n, cfg.Generations+1)
	}
	cs, err := study.RungCorrelations(ctx, h.db, id, -1, cfg.Fidelity.Rungs, cfg.Objectives[0])
	if err != nil || len(cs) != 2 || cs[0].Candidates < 3 || cs[0].Spearman == nil {
		t.Fatalf("rung correlations %+v, %v", cs, err)
	}
	for _, c := range cs {
		t.Logf("rungs %d -> %d steps: Spearman %v over %d", c.FromSteps, c.ToSteps, *c.Spearman, c.Candidates)
	}
}

func vector(t *testing.T, cfg config.Config, obj map[string]float64) []float64 {
	t.Helper()
	v, err := search.Vector(cfg.Objectives, obj)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMultiFidelityInterruptedEndsLikeUninterrupted stops the coordinator
// again and again, during every rung and promotion, and resumes the run:
// its lineage, every rung evaluation and the final population equal the
// uninterrupted run's.
func TestMultiFidelityInterruptedEndsLikeUninterrupted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := newHarness(t, &rungEval{})
	co := ref.coordinator(t, nil)
	refID, err := co.Submit(ctx, fidelityConfig(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	if err := co.Drive(ctx, refID); err != nil {
		t.Fatal(err)
	}
	wantCands, wantFinal := lineage(t, ref.db, refID)
	wantRungs := rungLineage(t, ref.db, refID)

	h := newHarness(t, &rungEval{})
	id, err := h.coordinator(t, nil).Submit(ctx, fidelityConfig(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	stops := 0
	for range 200 {
		if r, _ := h.db.GetRun(ctx, id); r.Status == storage.RunFinished {
			break
		}
		stopCtx, stop := context.WithCancel(ctx)
		reports := 0
		co := h.coordinator(t, func(pipeline.Progress) {
			reports++
			if reports == 3 {
				stop()
			}
		})
		if err := co.Drive(stopCtx, id); err != nil && stopCtx.Err() == nil {
			t.Fatal(err)
		}
		stop()
		stops++
	}
	if r, _ := h.db.GetRun(ctx, id); r.Status != storage.RunFinished {
		t.Fatalf("run not finished after %d coordinator starts: %s %s", stops, r.Status, r.Error)
	}
	gotCands, gotFinal := lineage(t, h.db, id)
	if !slices.Equal(gotCands, wantCands) || !slices.Equal(gotFinal, wantFinal) {
		t.Errorf("lineage differs from the uninterrupted run:\n got %v\nwant %v\nfinal %v\nwant %v", gotCands, wantCands, gotFinal, wantFinal)
	}
	if got := rungLineage(t, h.db, id); !slices.Equal(got, wantRungs) {
		t.Errorf("rung evaluations differ from the uninterrupted run:\n got %v\nwant %v", got, wantRungs)
	}
	t.Logf("finished after %d coordinator starts", stops)
}

// rungLineage is every rung evaluation of a run, without its ids.
func rungLineage(t *testing.T, db *storage.DB, run string) []string {
	t.Helper()
	evs, err := db.ListRungEvaluations(context.Background(), run, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		obj, _ := json.Marshal(e.Objectives)
		out = append(out, fmt.Sprintf("%s r%d %d %s %s", strings.TrimPrefix(e.CandidateID, run+"/"), e.Rung, e.Steps, e.Status, obj))
	}
	return out
}
