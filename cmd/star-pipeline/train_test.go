package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/trainer"
)

// trainBuildCLI builds the binary into a temporary directory.
func trainBuildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "star-pipeline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	return bin
}

// trainCLICommand prepares bin with args in an environment without STAR_
// variables.
func trainCLICommand(bin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

func trainExitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return 0
}

func trainRunCLI(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd, stdout, stderr := trainCLICommand(bin, args...)
	code := trainExitCode(t, cmd.Run())
	return stdout.String(), stderr.String(), code
}

// tiny training flags: width 16, short sequences, few steps.
var trainTinyFlags = []string{"--width", "16", "--head-dim", "8", "--context", "16", "--batch", "4",
	"--train-examples", "64", "--test-examples", "16"}

func TestTrainCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := trainBuildCLI(t)
	corpus := filepath.Join(t.TempDir(), "corpus.txt")
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log. ", 200)
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	bad := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"parse error", []string{"11111-9x111", "--task", "mad:in-context-recall"}, "slot 2 gene feat_group"},
		{"unknown class", []string{"11111-19.1.1.1.1", "--task", "mad:in-context-recall"}, "slot 2 gene class"},
		{"illegal sharing", []string{"11211-71211", "--task", "mad:in-context-recall"}, "slot 1 gene feat_strategy"},
		{"no genome", []string{"--task", "mad:in-context-recall"}, "give a genome"},
		{"no task", []string{"11111-91111"}, "--task is required"},
		{"unknown task", []string{"11111-91111", "--task", "mad:sorting"}, "unknown MAD task"},
		{"unknown kind", []string{"11111-91111", "--task", "image:x"}, "unknown kind"},
		{"missing corpus", []string{"11111-91111", "--task", "text:/no/such/file"}, "no such file"},
		{"head dim", []string{"11111-91111", "--task", "mad:in-context-recall", "--width", "16", "--head-dim", "5"}, "head dim 5"},
		{"negative lr", []string{"11111-91111", "--task", "mad:in-context-recall", "--lr", "-1"}, "--lr"},
		{"zero steps", []string{"11111-91111", "--task", "mad:in-context-recall", "--steps", "0"}, "steps"},
		{"odd MAD length", []string{"11111-91111", "--task", "mad:in-context-recall", "--context", "33"}, "even"},
		{"unknown backend", []string{"11111-91111", "--task", "mad:in-context-recall", "--backend", "tpu"}, "unknown backend"},
		{"bad preset depth", []string{"--preset", "transformer++", "--depth", "3", "--task", "mad:in-context-recall"}, "even depth"},
		{"bad precision", []string{"11111-91111", "--task", "mad:in-context-recall", "--precision", "fp16"},
			`--precision: precision must be "fp32" or "bf16", got "fp16"`},
	}
	for _, tc := range bad {
		_, stderr, code := trainRunCLI(t, bin, append([]string{"train"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, stderr, tc.stderr)
		}
	}

	// A MAD run prints JSON only on stdout, progress on stderr.
	stdout, stderr, code := trainRunCLI(t, bin, append([]string{"train", "11111-91111", "--task", "mad:in-context-recall",
		"--steps", "6", "--json"}, trainTinyFlags...)...)
	if code != 0 {
		t.Fatalf("mad run: exit %d\n%s", code, stderr)
	}
	var mad map[string]any
	if err := json.Unmarshal([]byte(stdout), &mad); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"params", "vocab", "final_loss", "forward_tokens_per_s", "train_tokens_per_s", "accuracy"} {
		if _, ok := mad[k]; !ok {
			t.Errorf("mad JSON lacks %q: %s", k, stdout)
		}
	}
	if _, ok := mad["tokens_per_s"]; ok {
		t.Errorf("mad JSON keeps the ambiguous tokens_per_s: %s", stdout)
	}
	if _, ok := mad["val_perplexity"]; ok || mad["vocab"] != 8.0*2 || mad["precision"] != "fp32" {
		t.Errorf("mad JSON: %s", stdout)
	}
	if !strings.Contains(stderr, "step 6/6") {
		t.Errorf("no progress line on stderr: %q", stderr)
	}

	// The same run in mixed precision says so and reports the same parameters.
	stdout, stderr, code = trainRunCLI(t, bin, append([]string{"train", "11111-91111", "--task", "mad:in-context-recall",
		"--steps", "6", "--precision", "bf16", "--json"}, trainTinyFlags...)...)
	if code != 0 {
		t.Fatalf("bf16 mad run: exit %d\n%s", code, stderr)
	}
	var madBF16 map[string]any
	if err := json.Unmarshal([]byte(stdout), &madBF16); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if madBF16["precision"] != "bf16" || madBF16["params"] != mad["params"] || madBF16["final_loss"] == mad["final_loss"] {
		t.Errorf("bf16 mad JSON: %s\nfp32: %s", stdout, mad)
	}

	// A text run reports perplexity next to the unigram baseline.
	stdout, stderr, code = trainRunCLI(t, bin, "train", "--preset", "transformer++", "--depth", "2", "--task", "text:"+corpus,
		"--width", "16", "--head-dim", "8", "--context", "16", "--steps", "4", "--batch", "4", "--json")
	if code != 0 {
		t.Fatalf("text run: exit %d\n%s", code, stderr)
	}
	var txt map[string]any
	if err := json.Unmarshal([]byte(stdout), &txt); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if _, ok := txt["val_perplexity"]; !ok || txt["vocab"] != 256.0 || txt["unigram_perplexity"] == nil {
		t.Errorf("text JSON: %s", stdout)
	}

	// Interrupted with a checkpoint: exit 130, then the same command resumes.
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	args := append([]string{"train", "11111-91111", "--task", "mad:in-context-recall", "--steps", "100000",
		"--checkpoint", ckpt, "--checkpoint-every", "1"}, trainTinyFlags...)
	cmd, _, stderrBuf := trainCLICommand(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if hdr, err := trainer.ReadCheckpoint(ckpt); err == nil && hdr.Step >= 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := trainExitCode(t, cmd.Wait()); code != 130 || !strings.Contains(stderrBuf.String(), "run the same command again") {
		t.Fatalf("interrupted run: exit %d, stderr %q", code, stderrBuf.String())
	}
	hdr, err := trainer.ReadCheckpoint(ckpt)
	if err != nil || hdr.Step < 2 || hdr.Finished() {
		t.Fatalf("checkpoint after interrupt: %+v, %v", hdr, err)
	}
	// Another recipe is refused.
	_, stderr, code = trainRunCLI(t, bin, append([]string{"train", "11111-91111", "--task", "mad:in-context-recall",
		"--steps", "100000", "--seed", "9", "--checkpoint", ckpt}, trainTinyFlags...)...)
	if code != 2 || !strings.Contains(stderr, "checkpoint") {
		t.Fatalf("resume with another seed: exit %d, %q", code, stderr)
	}
}

func TestDataAndBenchCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := trainBuildCLI(t)
	if _, _, code := trainRunCLI(t, bin, "data", "brown", "extra"); code != 2 {
		t.Errorf("data brown with an argument: exit %d, want 2", code)
	}
	if _, _, code := trainRunCLI(t, bin, "bench", "trainer", "--matmul", "0"); code != 2 {
		t.Errorf("bench trainer --matmul 0: exit %d, want 2", code)
	}
	if _, stderr, code := trainRunCLI(t, bin, "bench", "trainer", "--precision", "tf32"); code != 2 || !strings.Contains(stderr, "--precision") {
		t.Errorf("bench trainer --precision tf32: exit %d, stderr %q; want 2", code, stderr)
	}
	if _, stderr, code := trainRunCLI(t, bin, "bench", "trainer", "--op-profile", "-1"); code != 2 || !strings.Contains(stderr, "--op-profile") {
		t.Errorf("bench trainer --op-profile -1: exit %d, stderr %q; want 2", code, stderr)
	}
	if _, stderr, code := trainRunCLI(t, bin, "bench", "trainer", "--genome", "nope"); code != 2 || !strings.Contains(stderr, "genome") {
		t.Errorf("bench trainer --genome nope: exit %d, stderr %q; want 2", code, stderr)
	}
	// A preset instead of the reference, with the op profile on stderr.
	_, stderr, code := trainRunCLI(t, bin, "bench", "trainer", "--genome", "transformer++", "--width", "16", "--context", "16",
		"--batch", "2", "--steps", "1", "--class-width", "0", "--matmul", "64", "--op-profile", "3")
	if code != 0 || !strings.Contains(stderr, "reference 11111-92121-13131") || !strings.Contains(stderr, "op profile:") ||
		!strings.Contains(stderr, "DotGeneral") {
		t.Errorf("bench trainer --genome transformer++ --op-profile 3: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := trainRunCLI(t, bin, "bench", "trainer", "--width", "16", "--context", "16", "--batch", "2",
		"--steps", "1", "--class-width", "0", "--matmul", "64", "--precision", "bf16", "--json")
	if code != 0 {
		t.Fatalf("bench trainer --precision bf16: exit %d\n%s", code, stderr)
	}
	var bf16 struct {
		Precision string             `json:"precision"`
		Reference trainer.StepTiming `json:"reference"`
	}
	if err := json.Unmarshal([]byte(stdout), &bf16); err != nil || bf16.Precision != "bf16" ||
		bf16.Reference.Precision != "bf16" || bf16.Reference.TokensPerS <= 0 {
		t.Fatalf("bench trainer --precision bf16: %v\n%s", err, stdout)
	}
	stdout, stderr, code = trainRunCLI(t, bin, "bench", "trainer", "--width", "16", "--context", "16", "--batch", "2",
		"--steps", "1", "--class-width", "16", "--class-steps", "1", "--matmul", "64", "--json")
	if code != 0 {
		t.Fatalf("bench trainer: exit %d\n%s", code, stderr)
	}
	var out struct {
		Reference    trainer.StepTiming `json:"reference"`
		MatMulGFLOPs float64            `json:"matmul_gflops"`
		Ratio        float64            `json:"ratio"`
		Classes      []struct {
			Class  string  `json:"class"`
			StepMS float64 `json:"step_ms"`
		} `json:"classes"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if out.Reference.TokensPerS <= 0 || out.Reference.GFLOPs <= 0 || out.MatMulGFLOPs <= 0 || out.Ratio <= 0 || len(out.Classes) != 18 {
		t.Fatalf("bench trainer: %s", stdout)
	}
}
