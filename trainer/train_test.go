package trainer

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/compute"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/model"
)

// testBackend is shared by the tests of this package: one CPU backend.
var testBackend = func() compute.Backend {
	b, err := model.NewBackend("")
	if err != nil {
		panic(err)
	}
	return b
}()

// tiny is a small setting every fast test trains: an attention slot and a
// SwiGLU slot at width 16 on in-context recall of length 16.
type tiny struct {
	genome genome.Genome
	dims   arch.Config
	task   data.Task
	cfg    Config
}

func setup(t *testing.T) tiny {
	t.Helper()
	task, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Vocab: 8, Length: 16,
		TrainExamples: 64, TestExamples: 16})
	if err != nil {
		t.Fatal(err)
	}
	return tiny{
		genome: genome.MustParse("11111-91111"),
		dims:   arch.Config{Width: 16, HeadDim: 8},
		task:   task,
		cfg: Config{Steps: 8, BatchSize: 4, LearningRate: 3e-3, Seed: 5, Backend: testBackend,
			ThroughputSeconds: -1},
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Losses) != s.cfg.Steps || !slices.Equal(a.Losses, b.Losses) {
		t.Fatalf("same seed, different losses:\n%v\n%v", a.Losses, b.Losses)
	}
	if a.EvalLoss != b.EvalLoss || a.Accuracy != b.Accuracy {
		t.Fatalf("same seed, different evaluations: %+v vs %+v", a.Eval, b.Eval)
	}
	s.cfg.Seed++
	c, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.Losses, c.Losses) {
		t.Fatal("seeds 5 and 6 gave the same losses")
	}
	if a.Losses[len(a.Losses)-1] >= a.Losses[0] {
		t.Errorf("loss did not decrease: %v", a.Losses)
	}
	if a.FinalLoss != a.Losses[len(a.Losses)-1] || a.Steps != s.cfg.Steps || a.Vocab != 8 || a.Context != 16 {
		t.Errorf("result fields: %+v", a)
	}
}

func TestParamsMatchArch(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.cfg.Steps = 1
	for _, text := range []string{"11111-91111", "51111-81111", "11111-12121-71111", "18.1.1.1.1-10.1.1.1.1"} {
		g := genome.MustParse(text)
		res, err := Train(context.Background(), g, s.dims, s.task, s.cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		want, err := arch.Params(g, ModelDims(s.dims, s.task))
		if err != nil {
			t.Fatal(err)
		}
		if res.Params != want {
			t.Errorf("%s: trainer counts %d parameters, arch.Params %d", text, res.Params, want)
		}
	}
}

func TestResumeIsExact(t *testing.T) {
	t.Parallel()
	s := setup(t)
	straight, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "ckpt")
	cfg := s.cfg
	cfg.CheckpointDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	half := cfg.Steps / 2
	first, err := Train(ctx, s.genome, s.dims, s.task, cfg, func(p Progress) {
		if p.Step == half {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v, want context.Canceled", err)
	}
	if first.Steps != half || !slices.Equal(first.Losses, straight.Losses[:half]) {
		t.Fatalf("cancelled run: %d steps, losses %v", first.Steps, first.Losses)
	}
	hdr, err := ReadCheckpoint(dir)
	if err != nil || hdr.Step != half || hdr.Finished() {
		t.Fatalf("checkpoint after cancel: %+v, %v", hdr, err)
	}

	resumed, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.ResumedFrom != half || !slices.Equal(resumed.Losses, straight.Losses) {
		t.Fatalf("resumed losses differ from a straight run:\n%v\n%v", resumed.Losses, straight.Losses)
	}
	if resumed.EvalLoss != straight.EvalLoss || resumed.Accuracy != straight.Accuracy {
		t.Fatalf("resumed evaluation %+v, straight %+v", resumed.Eval, straight.Eval)
	}

	// A finished checkpoint is evaluated again, not trained.
	again, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, func(Progress) { t.Error("trained a finished run") })
	if err != nil || again.EvalLoss != straight.EvalLoss || !slices.Equal(again.Losses, straight.Losses) {
		t.Fatalf("rerun of a finished run: %+v, %v", again.Eval, err)
	}
	ev, err := Evaluate(context.Background(), dir, s.task, EvalOptions{Backend: testBackend, ThroughputSeconds: -1})
	if err != nil || ev.EvalLoss != straight.EvalLoss || ev.Accuracy != straight.Accuracy {
		t.Fatalf("Evaluate(checkpoint) = %+v, %v; want %+v", ev, err, straight.Eval)
	}

	// Another recipe must not resume this checkpoint.
	other := cfg
	other.Seed++
	if _, err := Train(context.Background(), s.genome, s.dims, s.task, other, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("resuming with another seed: %v, want ErrInvalid", err)
	}
}

func TestCheckpointEveryAndResumeFromIt(t *testing.T) {
	t.Parallel()
	s := setup(t)
	dir := t.TempDir()
	cfg := s.cfg
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 3
	var seen []int
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Train(ctx, s.genome, s.dims, s.task, cfg, func(p Progress) {
		hdr, err := ReadCheckpoint(dir)
		if err == nil {
			seen = append(seen, hdr.Step)
		}
		if p.Step == 5 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	// Checkpoints after steps 3 (periodic) and 5 (cancel); the callback sees
	// the periodic one from step 4 on.
	if want := []int{3, 3}; !slices.Equal(seen, want) {
		t.Fatalf("checkpoint steps seen after each step: %v, want %v", seen, want)
	}
	if hdr, _ := ReadCheckpoint(dir); hdr.Step != 5 {
		t.Fatalf("checkpoint after cancel at step 5 holds step %d", hdr.Step)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("checkpoint directory holds %d entries, want only %s", len(entries), CheckpointFile)
	}
}

func TestCancelBeforeFirstStepCheckpointsInitialWeights(t *testing.T) {
	t.Parallel()
	s := setup(t)
	dir := t.TempDir()
	cfg := s.cfg
	cfg.CheckpointDir = dir
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Train(ctx, s.genome, s.dims, s.task, cfg, nil)
	if !errors.Is(err, context.Canceled) || res.Steps != 0 {
		t.Fatalf("Train with a cancelled context: %d steps, %v", res.Steps, err)
	}
	if hdr, err := ReadCheckpoint(dir); err != nil || hdr.Step != 0 {
		t.Fatalf("checkpoint: %+v, %v", hdr, err)
	}
}

func TestNonFiniteLossIsReported(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.cfg.LearningRate = 1e12
	s.cfg.WarmupFraction = -1
	s.cfg.CheckpointDir = t.TempDir()
	res, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	var nf *NonFiniteError
	if !errors.Is(err, ErrNonFinite) || !errors.As(err, &nf) {
		t.Fatalf("absurd learning rate: %v, want a *NonFiniteError", err)
	}
	if nf.Step < 1 || nf.Step >= s.cfg.Steps || res.Steps != nf.Step {
		t.Fatalf("diverged at step %d after %d good steps", nf.Step, res.Steps)
	}
	if _, err := ReadCheckpoint(s.cfg.CheckpointDir); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("a diverged run left a checkpoint: %v", err)
	}
}

func TestBadInputIsInvalid(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for name, tc := range map[string]struct {
		g    genome.Genome
		dims arch.Config
		cfg  Config
	}{
		"zero steps":         {s.genome, s.dims, Config{Steps: 0}},
		"negative lr":        {s.genome, s.dims, Config{Steps: 1, LearningRate: -1}},
		"head dim":           {s.genome, arch.Config{Width: 16, HeadDim: 5}, s.cfg},
		"unknown class":      {genome.Genome{{Class: 42, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}}, s.dims, s.cfg},
		"illegal sharing":    {genome.MustParse("11211-71211"), s.dims, s.cfg},
		"betas out of range": {s.genome, s.dims, Config{Steps: 1, Beta1: 1}},
	} {
		tc.cfg.Backend = testBackend
		if _, err := Train(context.Background(), tc.g, tc.dims, s.task, tc.cfg, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestLRSchedule(t *testing.T) {
	t.Parallel()
	c := Config{Steps: 100, LearningRate: 1e-3}.WithDefaults()
	if c.WarmupSteps() != 10 {
		t.Fatalf("warmup steps %d", c.WarmupSteps())
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	if !near(c.LR(0), 1e-4) || !near(c.LR(9), 1e-3) || !near(c.LR(10), 1e-3) || !near(c.LR(99), 1e-4) {
		t.Fatalf("LR(0,9,10,99) = %v %v %v %v", c.LR(0), c.LR(9), c.LR(10), c.LR(99))
	}
	if mid := c.LR(10 + 89/2); math.Abs(mid-5.5e-4) > 1e-5 {
		t.Fatalf("LR halfway through the decay = %v, want about 5.5e-4", mid)
	}
	for i := 11; i < 100; i++ {
		if c.LR(i) > c.LR(i-1) {
			t.Fatalf("LR rises after warmup at step %d", i)
		}
	}
	none := Config{Steps: 10, LearningRate: 1, WarmupFraction: -1, MinLRFraction: -1}.WithDefaults()
	if none.LR(0) != 1 || none.LR(9) != 0 {
		t.Fatalf("no warmup, no floor: LR(0)=%v LR(9)=%v", none.LR(0), none.LR(9))
	}
}

// A compression model is built at the width's vocabulary and scores the
// reconstruction targets of every test sequence.
func TestReconstruction(t *testing.T) {
	t.Parallel()
	s := setup(t)
	comp, err := data.NewMAD(data.MADConfig{Task: data.Compression, Vocab: 8, Length: 8, TrainExamples: 32, TestExamples: 8})
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Steps = 3
	r, err := Train(context.Background(), s.genome, s.dims, comp, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Vocab != 16 || r.Scored != 8*7 || r.Accuracy < 0 || r.Accuracy > 1 {
		t.Fatalf("compression: model vocab %d (want the width, 16), %d scored targets, accuracy %v", r.Vocab, r.Scored, r.Accuracy)
	}
}
