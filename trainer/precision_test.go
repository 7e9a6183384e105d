package trainer

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// setupMixed is a tiny hybrid of five classes (SA-1, Rec-1, GConv-2,
// GMemless, MoE) on in-context recall, trained for 12 steps.
func setupMixed(t *testing.T) tiny {
	t.Helper()
	s := setup(t)
	s.genome = genome.MustParse("11111-51111-81111-91111-18.1.1.1.1")
	s.cfg.Steps = 12
	return s
}

// A bf16 run of the hybrid counts the same parameters as the float32 run,
// its losses are finite, decrease and stay within 1% of the float32 run's
// at every step, and so does its evaluation loss; a float32 checkpoint's
// header has no precision field (the format float32 runs always wrote).
func TestBF16TrainingTracksFP32(t *testing.T) {
	t.Parallel()
	const tol = 1e-2
	s := setupMixed(t)
	fp32 := s.cfg
	fp32.CheckpointDir = t.TempDir()
	ref, err := Train(context.Background(), s.genome, s.dims, s.task, fp32, nil)
	if err != nil {
		t.Fatal(err)
	}
	bf16 := s.cfg
	bf16.Precision = BF16
	got, err := Train(context.Background(), s.genome, s.dims, s.task, bf16, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := arch.Params(s.genome, ModelDims(s.dims, s.task))
	if err != nil {
		t.Fatal(err)
	}
	if got.Params != ref.Params || got.Params != want {
		t.Fatalf("bf16 run counts %d parameters, float32 run %d, arch.Params %d", got.Params, ref.Params, want)
	}
	if len(got.Losses) != s.cfg.Steps {
		t.Fatalf("bf16 run: %d losses, want %d", len(got.Losses), s.cfg.Steps)
	}
	worst := 0.0
	for i, l := range got.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("bf16 loss of step %d is %v", i, l)
		}
		worst = math.Max(worst, math.Abs(l-ref.Losses[i])/ref.Losses[i])
	}
	if worst > tol {
		t.Errorf("bf16 losses differ from float32 by up to %.3g (relative), want <= %.0e:\nbf16 %v\nfp32 %v", worst, tol, got.Losses, ref.Losses)
	}
	if slices.Equal(got.Losses, ref.Losses) {
		t.Errorf("bf16 and float32 losses are identical: the bf16 run did not compute in bf16")
	}
	if got.FinalLoss >= got.Losses[0] {
		t.Errorf("bf16 loss did not decrease: %v", got.Losses)
	}
	if d := math.Abs(got.EvalLoss-ref.EvalLoss) / ref.EvalLoss; d > tol {
		t.Errorf("bf16 eval loss %.5f, float32 %.5f (relative difference %.3g)", got.EvalLoss, ref.EvalLoss, d)
	}
	t.Logf("bf16 vs float32: max relative loss difference %.2e over %d steps; eval loss %.5f vs %.5f; final loss %.5f vs %.5f",
		worst, len(got.Losses), got.EvalLoss, ref.EvalLoss, got.FinalLoss, ref.FinalLoss)

	raw, err := os.ReadFile(filepath.Join(fp32.CheckpointDir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`"precision"`)) {
		t.Errorf("a float32 checkpoint's header names a precision")
	}
}

// A bf16 run keeps every variable (weights and Adam moments; the RNG state
// aside) in float32 in its checkpoint; a bf16 run cancelled halfway and
// resumed ends with the losses and evaluation of an uninterrupted bf16 run,
// bit for bit, as does Evaluate of its checkpoint; a float32 run does not
// resume it.
func TestBF16CheckpointIsFloat32AndResumesExactly(t *testing.T) {
	t.Parallel()
	s := setupMixed(t)
	cfg := s.cfg
	cfg.Precision = BF16
	straight, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}

	cfg.CheckpointDir = filepath.Join(t.TempDir(), "ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	half := cfg.Steps / 2
	if _, err := Train(ctx, s.genome, s.dims, s.task, cfg, func(p Progress) {
		if p.Step == half {
			cancel()
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v, want context.Canceled", err)
	}
	hdr, err := ReadCheckpoint(cfg.CheckpointDir)
	if err != nil || hdr.Step != half || hdr.Recipe.Precision != BF16 {
		t.Fatalf("checkpoint after cancel: %+v, %v", hdr, err)
	}
	moments := 0
	for _, v := range hdr.Variables {
		if strings.HasPrefix(v.Path, "/#") { // the RNG state
			continue
		}
		if v.DType != "Float32" {
			t.Errorf("checkpoint variable %s is %s, want Float32", v.Path, v.DType)
		}
		if strings.HasPrefix(v.Path, momentScope+"/") {
			moments++
		}
	}
	if moments == 0 {
		t.Fatalf("the checkpoint holds no Adam moments: %+v", hdr.Variables)
	}

	fp32 := cfg
	fp32.Precision = FP32
	if _, err := Train(context.Background(), s.genome, s.dims, s.task, fp32, nil); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "precision bf16, not fp32") {
		t.Fatalf("resuming a bf16 checkpoint in fp32: %v, want ErrInvalid naming the precisions", err)
	}

	resumed, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.ResumedFrom != half || !slices.Equal(resumed.Losses, straight.Losses) {
		t.Fatalf("resumed bf16 losses differ from a straight bf16 run:\n%v\n%v", resumed.Losses, straight.Losses)
	}
	if resumed.EvalLoss != straight.EvalLoss || resumed.Accuracy != straight.Accuracy {
		t.Fatalf("resumed evaluation %+v, straight %+v", resumed.Eval, straight.Eval)
	}
	ev, err := Evaluate(context.Background(), cfg.CheckpointDir, s.task, EvalOptions{Backend: testBackend, ThroughputSeconds: -1})
	if err != nil || ev.EvalLoss != straight.EvalLoss || ev.Accuracy != straight.Accuracy {
		t.Fatalf("Evaluate(bf16 checkpoint) = %+v, %v; want %+v", ev, err, straight.Eval)
	}
}

func TestPrecisionIsValidated(t *testing.T) {
	t.Parallel()
	s := setup(t)
	cfg := s.cfg
	cfg.Precision = "fp16"
	if _, err := Train(context.Background(), s.genome, s.dims, s.task, cfg, nil); !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), `precision must be "fp32" or "bf16", got "fp16"`) {
		t.Fatalf("precision fp16: %v, want ErrInvalid naming the accepted values", err)
	}
	for in, want := range map[string]Precision{"": FP32, "fp32": FP32, "bf16": BF16} {
		if p, err := ParsePrecision(in); err != nil || p != want {
			t.Errorf("ParsePrecision(%q) = %q, %v; want %q", in, p, err, want)
		}
	}
	for _, in := range []string{"BF16", "float32", "fp16"} {
		if _, err := ParsePrecision(in); err == nil {
			t.Errorf("ParsePrecision(%q) accepted it", in)
		}
	}
	if p := (Config{}).WithDefaults().Precision; p != FP32 {
		t.Errorf("default precision %q, want fp32", p)
	}
	if _, err := TimeTraining(context.Background(), testBackend, s.genome, s.dims, 1, 0, 1, "int8"); !errors.Is(err, ErrInvalid) {
		t.Errorf("TimeTraining with precision int8: %v, want ErrInvalid", err)
	}
}
