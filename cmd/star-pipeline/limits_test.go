package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/genome"
)

// TestSizeLimitsCLI checks that every command refuses a size past its
// limit with exit code 2 and a message naming the flag or field, at once:
// before it allocates or computes anything proportional to the size.
func TestSizeLimitsCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	huge := "1000000000"
	tooDeep := strings.Repeat("91111-", genome.MaxDepth) + "91111"
	preset := []string{"train", "--preset", "transformer++", "--depth", "4"}
	mad := append(append([]string(nil), preset...), "--task", "mad:in-context-recall")
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"genome", "show", "--preset", "striped", "--depth", huge}, "--depth"},
		{[]string{"genome", "show", "--preset", "striped", "--depth", fmt.Sprint(genome.MaxDepth + 2)}, "--depth"},
		{[]string{"genome", "show", tooDeep}, "slots"},
		{[]string{"genome", "cost", "--preset", "striped", "--depth", huge}, "--depth"},
		{[]string{"genome", "cost", "--preset", "striped", "--depth", "8", "--width", "2000000000"}, "--width"},
		{[]string{"genome", "cost", "--preset", "striped", "--depth", "8", "--vocab", "2000000000"}, "--vocab"},
		{[]string{"genome", "cost", "--preset", "striped", "--depth", "8", "--context", "2000000000"}, "--context"},
		{[]string{"genome", "cost", "--preset", "striped", "--depth", "8", "--head-dim", "2000000000"}, "--head-dim"},
		{[]string{"genome", "random", "--seed", "1", "--depth", huge}, "--depth"},
		{[]string{"genome", "mutate", tooDeep, "--seed", "1"}, "slots"},
		{[]string{"genome", "repair", tooDeep}, "slots"},
		{[]string{"train", "--preset", "striped", "--depth", huge, "--task", "mad:in-context-recall"}, "--depth"},
		{with(mad, "--steps", huge), "--steps"},
		{with(mad, "--batch", huge), "--batch"},
		{with(mad, "--width", huge), "--width"},
		{with(mad, "--head-dim", huge), "--head-dim"},
		{with(mad, "--context", huge), "--context"},
		{with(mad, "--train-examples", huge), "--train-examples"},
		{with(mad, "--test-examples", huge), "--test-examples"},
		{with(mad, "--train-examples", "1000000", "--context", "1024"), "tokens"},
		{with(mad, "--batch", "16384", "--context", "2048", "--train-examples", "64", "--test-examples", "64"), "tokens per step"},
		{[]string{"bench", "trainer", "--batch", "16384", "--context", "4096"}, "tokens per step"},
		{with(mad, "--checkpoint-every", huge), "--checkpoint-every"},
		{with(preset, "--task", "text:"+os.DevNull, "--eval-tokens", "100000000000"), "--eval-tokens"},
		{[]string{"bench", "trainer", "--batch", huge}, "--batch"},
		{[]string{"bench", "trainer", "--steps", huge}, "--steps"},
		{[]string{"bench", "trainer", "--class-steps", huge}, "--class-steps"},
		{[]string{"bench", "trainer", "--width", huge}, "--width"},
		{[]string{"bench", "trainer", "--context", huge}, "--context"},
		{[]string{"bench", "trainer", "--class-width", huge}, "--class-width"},
		{[]string{"bench", "trainer", "--matmul", huge}, "--matmul"},
		{[]string{"bench", "pipeline", "--population", huge}, "--population"},
		{[]string{"bench", "pipeline", "--generations", huge}, "--generations"},
		{[]string{"bench", "pipeline", "--workers", huge}, "--workers"},
		{[]string{"bench", "pipeline", "--train-steps", huge}, "--train-steps"},
		{[]string{"bench", "zdt", "--pop", huge}, "--pop"},
		{[]string{"bench", "zdt", "--generations", huge}, "--generations"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, sharedCLI(t), tt.args...)
		cmd.Dir, cmd.Env = dir, cleanEnv()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		cancel()
		code := trainExitCode(t, err)
		if msg := stderr.String(); code != 2 || !strings.Contains(msg, tt.want) {
			if len(msg) > 400 {
				msg = msg[:400] + "..."
			}
			t.Errorf("%v: exit %d after %s, stderr %q; want exit 2 naming %s", tt.args, code,
				time.Since(start).Round(time.Millisecond), msg, tt.want)
		}
	}
}

// TestSubmitSizeLimits checks the reported run configs end to end: refused
// with exit code 2 and no database written.
func TestSubmitSizeLimits(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tt := range []struct {
		yaml  string
		flags []string
		want  string
	}{
		{"population: 9223372036854775807\n", nil, "population"},
		{"population: 1000000000\n", nil, "population"},
		{"search: {depth: 100000000}\n", nil, "search.depth"},
		{"search: {width: 2000000000, vocab: 2000000000}\n", nil, "search.width"},
		{"objectives: [params]\n", []string{"--population", "1000000000"}, "population"},
		{"objectives: [params]\n", []string{"--generations", "1000000000"}, "generations"},
		// The static evaluator cannot measure mad_score: every candidate
		// would fail.
		{"objectives: [mad_score, params]\n", nil, "--static-eval measures only params, cache_bytes"},
	} {
		dir := workdir(t, tt.yaml)
		args := append([]string{"submit", "--config", "search.yaml", "--static-eval"}, tt.flags...)
		_, stderr, code := runCLI(t, dir, nil, args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "panic") {
			t.Errorf("%q %v: exit %d\n%s", tt.yaml, tt.flags, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "star.db")); err == nil {
			t.Errorf("%q %v: a refused config wrote a database", tt.yaml, tt.flags)
		}
	}
}
