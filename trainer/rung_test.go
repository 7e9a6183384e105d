package trainer

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// TestRungsContinueExactly trains to two rungs and the full budget, each
// call continuing the last one's checkpoint, and checks that every rung
// has the losses and the evaluation of a run trained that far at once, and
// that the end matches a straight run to Steps: the schedule is defined
// over Steps whatever StopAt is.
func TestRungsContinueExactly(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.cfg.Steps = 9
	straight, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rungs")
	for _, stop := range []int{2, 5, 0} {
		cfg := s.cfg
		cfg.StopAt = stop
		cfg.CheckpointDir = dir
		got, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		once := s.cfg
		once.StopAt = stop
		want, err := Train(context.Background(), s.genome, s.dims, s.task, once, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := cfg.Target()
		if got.Steps != n || !slices.Equal(got.Losses, straight.Losses[:n]) || !slices.Equal(want.Losses, straight.Losses[:n]) {
			t.Fatalf("rung %d: %d steps, losses %v; at once %v; straight %v", stop, got.Steps, got.Losses, want.Losses, straight.Losses[:n])
		}
		if got.EvalLoss != want.EvalLoss || got.Accuracy != want.Accuracy {
			t.Fatalf("rung %d: continued evaluation %+v, trained at once %+v", stop, got.Eval, want.Eval)
		}
		hdr, err := ReadCheckpoint(dir)
		if err != nil || hdr.Step != n || hdr.Finished() != (stop == 0) {
			t.Fatalf("rung %d: checkpoint %+v, %v", stop, hdr, err)
		}
	}
	// The schedule over Steps differs from a run whose budget is the rung:
	// a rung is not a shorter run.
	short := s.cfg
	short.Steps = 5
	if sh, err := Train(context.Background(), s.genome, s.dims, s.task, short, nil); err != nil || slices.Equal(sh.Losses, straight.Losses[:5]) {
		t.Fatalf("a 5-step budget trained like the first 5 steps of 9: %v", err)
	}
}

// TestStopWhenEndsAtOnce checks that StopWhen's error ends training after
// the step it refuses, with the losses so far and no checkpoint.
func TestStopWhenEndsAtOnce(t *testing.T) {
	t.Parallel()
	s := setup(t)
	s.cfg.CheckpointDir = t.TempDir()
	hopeless := errors.New("hopeless")
	s.cfg.StopWhen = func(losses []float64) error {
		if len(losses) == 3 {
			return hopeless
		}
		return nil
	}
	res, err := Train(context.Background(), s.genome, s.dims, s.task, s.cfg, nil)
	if !errors.Is(err, hopeless) || res.Steps != 3 || len(res.Losses) != 3 {
		t.Fatalf("StopWhen at step 3: %v, %d steps, %d losses", err, res.Steps, len(res.Losses))
	}
	if _, err := ReadCheckpoint(s.cfg.CheckpointDir); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("a stopped run left a checkpoint: %v", err)
	}
}
