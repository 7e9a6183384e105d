package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/evolve"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/search"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func TestNodeIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []Node{
		{Run: "r1", Generation: 0, Stage: StageTrain, Index: 3},
		{Run: "r20261126-193429-533719", Generation: 12, Stage: StageMutate, Index: 15, Attempt: 2},
		{Run: "x", Generation: 999, Stage: StageSelect},
	} {
		got, err := ParseNode(n.ID())
		if err != nil || got != n {
			t.Errorf("ParseNode(%q) = %+v, %v", n.ID(), got, err)
		}
	}
	for _, bad := range []string{"", "r/g1/train", "r/x001/train/0001", "r/g001/bake/0001", "r/g001/train/-1", "r/g001/train/1/b2", "/g001/train/0001"} {
		if _, err := ParseNode(bad); err == nil {
			t.Errorf("ParseNode(%q) accepted", bad)
		}
	}
}

func FuzzParseNode(f *testing.F) {
	f.Add("r1/g000/train/0003")
	f.Add("r/g001/mutate/0001/a2")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNode(s)
		if err != nil {
			return
		}
		if back, err := ParseNode(n.ID()); err != nil || back != n {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, n, n.ID(), back, err)
		}
	})
}

func FuzzDecodeReport(f *testing.F) {
	f.Add([]byte(`{"node":"r/g001/train/0001","ok":true,"result":{"x":1}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeReport(data)
		if err == nil {
			if _, err := ParseNode(r.Node); err != nil {
				t.Fatalf("decoded a report with a bad node %q", r.Node)
			}
		}
	})
}

func TestPermanentErrors(t *testing.T) {
	t.Parallel()
	err := permanent(errors.New("bad genome"))
	if !IsPermanent(err) || !errors.Is(err, runner.SkipRetry) || err.Error() != "bad genome" {
		t.Errorf("permanent = %v", err)
	}
	if IsPermanent(errors.New("flaky")) || permanent(nil) != nil {
		t.Error("non-permanent errors misclassified")
	}
}

// population evaluates a random population of the default space on static
// costs.
func population(t *testing.T, c config.Config) []Member {
	t.Helper()
	e, err := search.NewEngine(c)
	if err != nil {
		t.Fatal(err)
	}
	seeds, err := search.SeedGenomes(c)
	if err != nil {
		t.Fatal(err)
	}
	xs, err := e.Initial(seeds)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Member, len(xs))
	for i, x := range xs {
		f := []float64{float64(len(genome.Format(x))), float64(x[0].Class)}
		out[i] = Member{ID: fmt.Sprintf("c%d", i), Genome: genome.Format(x), Objectives: f, Failed: i == 3}
	}
	return out
}

// TestStagesMatchTheEngine checks that recombine and mutate, computed node by
// node in reverse order, give exactly the children the engine makes in one
// process, for every algorithm.
func TestStagesMatchTheEngine(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{config.NSGA2, config.GA, config.Firefly} {
		c := config.Default()
		c.Algorithm.Name = alg
		c.Objectives = []string{config.Params, config.CacheBytes}
		yaml, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		pop := population(t, c)
		e, _ := search.NewEngine(c)
		inds := make([]evolve.Individual[genome.Genome], len(pop))
		for i, m := range pop {
			inds[i] = evolve.Individual[genome.Genome]{X: genome.MustParse(m.Genome), F: m.Objectives, Failed: m.Failed}
		}
		gen, err := e.Breed(1, inds)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := gen.Len() - 1; i >= 0; i-- {
			b := Breeding{Node: Node{Run: "r", Generation: 1, Stage: StageRecombine, Index: i}, Config: string(yaml), Population: pop}
			rec, err := Recombine(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			b.Node.Stage = StageMutate
			mut, err := Mutate(ctx, MutatePayload{Breeding: b, Genome: rec.Genome, Attempt: rec.Attempt})
			if err != nil {
				t.Fatal(err)
			}
			want := gen.Child(i)
			if mut.Genome != genome.Format(want.X) || mut.Hash != genome.Hash(want.X) {
				t.Errorf("%s child %d: stages give %s, engine %s", alg, i, mut.Genome, genome.Format(want.X))
			}
			if len(rec.Parents) != len(want.Mating.Parents) {
				t.Errorf("%s child %d: parents %v, mating %v", alg, i, rec.Parents, want.Mating.Parents)
			}
		}
	}
}

func TestSelectKeepsBestAndMeasuresHypervolume(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Population = 4
	c.Objectives = []string{config.Params, config.CacheBytes}
	yaml, _ := c.YAML()
	g := genome.MustParse("11111-92121-13131-94141-15151-96161-17171-98181")
	h := genome.MustParse("51111-92121-53131-94141-55151-96161-17171-98181")
	mk := func(id string, x genome.Genome, f ...float64) Member {
		return Member{ID: id, Genome: genome.Format(x), Objectives: f}
	}
	x3 := genome.MustParse("71111-92121-73131-94141-75151-96161-77171-98181")
	x4 := genome.MustParse("91111-92121-93131-94141-95151-96161-97171-98181")
	x5 := genome.MustParse("61111-92121-63131-94141-65151-96161-67171-98181")
	p := SelectPayload{
		Node: Node{Run: "r", Generation: 0, Stage: StageSelect}, Config: string(yaml),
		Offspring: []Member{mk("a", g, 1, 4), mk("b", h, 2, 2), mk("c", x3, 4, 1), mk("d", x4, 3, 3), mk("e", x5, 5, 5)},
		Ideal:     []float64{1, 1}, Nadir: []float64{5, 5},
	}
	p.Offspring[4].Failed = true
	res, err := Select(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Population) != 4 {
		t.Fatalf("population %v", res.Population)
	}
	for _, id := range res.Population {
		if id == "e" {
			t.Error("a failed candidate survived over healthy ones")
		}
	}
	if fmt.Sprint(res.Front) != "[a b c]" {
		t.Errorf("front %v", res.Front)
	}
	// Normalised front (0,0.75) (0.25,0.25) (0.75,0) at reference 1.1.
	want, _ := evolve.Hypervolume([][]float64{{0, 0.75}, {0.25, 0.25}, {0.75, 0}}, []float64{1.1, 1.1})
	if diff := res.Hypervolume - want; diff > 1e-12 || diff < -1e-12 {
		t.Errorf("hypervolume %v, want %v", res.Hypervolume, want)
	}
}

func TestStaticEvaluator(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Objectives = []string{config.Params, config.CacheBytes}
	yaml, _ := c.YAML()
	dir := t.TempDir()
	g := "11111-92121-13131-94141-15151-96161-17171-98181"
	ctx := context.Background()
	tr, err := StaticEvaluator{}.Train(ctx, TrainPayload{Genome: g, Config: string(yaml), Checkpoint: dir})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := StaticEvaluator{}.Evaluate(ctx, EvaluatePayload{Genome: g, Config: string(yaml), Checkpoint: tr.Checkpoint})
	if err != nil || ev.Objectives[config.Params] <= 0 || ev.Objectives[config.CacheBytes] <= 0 {
		t.Errorf("evaluate = %+v, %v", ev, err)
	}
	_, err = StaticEvaluator{}.Evaluate(ctx, EvaluatePayload{Genome: g, Config: string(yaml), Checkpoint: dir + "/missing"})
	if !IsPermanent(err) || err == nil {
		t.Errorf("missing checkpoint: %v", err)
	}
	c.Objectives = []string{config.MADScore}
	yaml, _ = c.YAML()
	if _, err := (StaticEvaluator{}).Evaluate(ctx, EvaluatePayload{Genome: g, Config: string(yaml), Checkpoint: tr.Checkpoint}); !IsPermanent(err) {
		t.Errorf("quality objective accepted: %v", err)
	}
	data, _ := json.Marshal(ev)
	if len(data) == 0 {
		t.Error("result does not encode")
	}
}

// The run's training recipe, precision included, reaches the trainer.
func TestRecipeCarriesTrainingConfig(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Training.Precision = "bf16"
	c.Training.Steps = 7
	c.Quality.Sweep.LearningRates = []float64{1e-3, 2e-3}
	c.Quality.Sweep.WeightDecays = []float64{0, 0.1}
	rec := NewRecipe(c, 3)
	lrs := map[float64]bool{}
	wds := map[float64]bool{}
	for _, m := range rec.Models {
		r := m.Train
		if r.Precision != trainer.BF16 || r.Steps != 7 || r.Seed != 3 {
			t.Fatalf("recipe of %s = %+v", m.Name, r)
		}
		if err := r.WithDefaults().Validate(); err != nil {
			t.Fatalf("recipe of %s does not validate: %v", m.Name, err)
		}
		lrs[r.LearningRate] = true
		wds[r.WeightDecay] = true
	}
	// Every sweep point trains; weight decay 0 reaches the trainer as none.
	if len(rec.Models) != len(c.Quality.MAD)*4 || !lrs[1e-3] || !lrs[2e-3] || !wds[-1] || !wds[0.1] || len(wds) != 2 {
		t.Errorf("%d models, learning rates %v, weight decays %v", len(rec.Models), lrs, wds)
	}
}

// training.eval_batches bounds the validation set of the text task:
// eval_batches batches of batch_size sequences of the run's context.
func TestEvalBatchesReachTheTextTask(t *testing.T) {
	t.Parallel()
	c := config.Default()
	c.Objectives = []string{config.Perplexity}
	c.Training.EvalBatches, c.Training.BatchSize, c.Search.Dims.Context = 3, 4, 32
	js := NewRecipe(c, 1).Models
	if len(js) != 1 || js[0].Opts.EvalTokens != 3*4*32 || js[0].Opts.Context != 32 || js[0].MADTask != "" {
		t.Fatalf("models = %+v, want one text model evaluating 384 tokens", js)
	}
}

// The control queue's task kind, not the payload, says whether a report
// is a start or an end; other kinds are refused.
func TestDecodeControl(t *testing.T) {
	t.Parallel()
	job, err := NewStartedTask(Report{Node: "r/g000/train/0001", Worker: "w1", OK: true, Result: []byte(`{}`)})
	if err != nil || job.Kind != KindStarted || job.Queue != QueueControl || job.ID != StartedID("r/g000/train/0001") {
		t.Fatalf("NewStartedTask = %+v, %v", job, err)
	}
	r, err := DecodeControl(job.Kind, job.Payload)
	if err != nil || !r.Running || r.OK || r.Result != nil || r.Worker != "w1" {
		t.Errorf("started report decoded as %+v, %v", r, err)
	}
	r, err = DecodeControl(KindReport, []byte(`{"node":"r/g000/train/0001","ok":true,"running":true}`))
	if err != nil || r.Running || !r.OK {
		t.Errorf("final report decoded as %+v, %v", r, err)
	}
	job, err = NewRequeuedTask(Report{Node: "r/g000/train/0001", Worker: "w1", Error: "flaky", OK: true})
	if err != nil || job.Kind != KindRequeued {
		t.Fatalf("NewRequeuedTask = %+v, %v", job, err)
	}
	r, err = DecodeControl(job.Kind, job.Payload)
	if err != nil || !r.Requeued || r.Running || r.OK || r.Error != "flaky" {
		t.Errorf("requeued note decoded as %+v, %v", r, err)
	}
	if _, err := DecodeControl("star:other", job.Payload); err == nil {
		t.Error("an unknown control task kind was accepted")
	}
	if StartedID("r/g000/train/0001") == ReportID("r/g000/train/0001") {
		t.Error("a start and an end of one node share a task id")
	}
}
