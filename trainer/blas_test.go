package trainer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/compute/gobackend"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
)

// blasLossesEnv names the file the helper process writes its losses to.
const blasLossesEnv = "STAR_TEST_BLAS_LOSSES"

// trainBLASModel trains the reference hybrid of bench trainer at width 128
// for 3 steps: its matmuls are large enough that the BLAS executor cuts them
// into several units run in parallel.
func trainBLASModel(t *testing.T) []float64 {
	t.Helper()
	task, err := data.NewMAD(data.MADConfig{Task: data.InContextRecall, Vocab: 16, Length: 64,
		TrainExamples: 64, TestExamples: 8})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Steps: 3, BatchSize: 4, LearningRate: 3e-3, Seed: 3, Backend: testBackend, ThroughputSeconds: -1}
	res, err := Train(context.Background(), genome.MustParse("11111-91111-51111-91111-81111-91111-11111-91111"),
		arch.Config{Width: 128, HeadDim: 32}, task, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Losses
}

// TestBLASTrainingIsDeterministic: with OpenBLAS behind float32 DotGeneral
// (when installed), two runs give bit-identical losses, and a run on the Go
// kernels (GOMLX_BLAS=off, in a child process: the switch is read at start)
// agrees to float32 rounding.
func TestBLASTrainingIsDeterministic(t *testing.T) {
	if out := os.Getenv(blasLossesEnv); out != "" { // the child
		b, err := json.Marshal(trainBLASModel(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if testing.Short() {
		t.Skip("trains a width-128 hybrid three times")
	}
	t.Logf("backend: %s (BLAS: %q, load error: %q)", testBackend.Description(), gobackend.BLAS(), gobackend.BLASLoadError())
	a, b := trainBLASModel(t), trainBLASModel(t)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different losses:\n%v\n%v", a, b)
	}
	file := filepath.Join(t.TempDir(), "losses.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBLASTrainingIsDeterministic$", "-test.count=1")
	cmd.Env = append(os.Environ(), blasLossesEnv+"="+file, "GOMLX_BLAS=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with GOMLX_BLAS=off: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var goKernels []float64
	if err := json.Unmarshal(raw, &goKernels); err != nil {
		t.Fatal(err)
	}
	if len(goKernels) != len(a) {
		t.Fatalf("Go kernels: %d losses, BLAS: %d", len(goKernels), len(a))
	}
	for i := range a {
		if d := math.Abs(a[i]-goKernels[i]) / math.Abs(goKernels[i]); d > 1e-4 {
			t.Fatalf("step %d: loss %v with %q, %v with the Go kernels (relative %.2g)", i, a[i], gobackend.BLAS(), goKernels[i], d)
		}
	}
	t.Logf("losses %v (Go kernels %v)", a, goKernels)
}
