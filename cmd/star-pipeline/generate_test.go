package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateAndBenchDecodeCLI trains a tiny text model and a tiny MAD
// model, generates from the first (greedy, sampled, past the context), is
// refused the second, and runs a tiny bench decode.
func TestGenerateAndBenchDecodeCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary and trains two tiny models")
	}
	bin := trainBuildCLI(t)
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat. ", 400)), 0o644); err != nil {
		t.Fatal(err)
	}
	textCkpt, madCkpt := filepath.Join(dir, "text"), filepath.Join(dir, "mad")
	if _, stderr, code := trainRunCLI(t, bin, "train", "51111-92121", "--task", "text:"+corpus, "--steps", "60", "--lr", "1e-2",
		"--width", "16", "--head-dim", "8", "--context", "16", "--batch", "8", "--checkpoint", textCkpt); code != 0 {
		t.Fatalf("train text: exit %d: %s", code, stderr)
	}
	if _, stderr, code := trainRunCLI(t, bin, append([]string{"train", "11111-92121", "--task", "mad:in-context-recall",
		"--steps", "2", "--checkpoint", madCkpt}, trainTinyFlags...)...); code != 0 {
		t.Fatalf("train mad: exit %d: %s", code, stderr)
	}

	// Greedy decoding of a learnt pattern, 40 bytes past a context of 16.
	out, stderr, code := trainRunCLI(t, bin, "generate", "--checkpoint", textCkpt, "--prompt", "the cat sat on t",
		"--max-tokens", "40", "--temperature", "0")
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "the cat sat on t") || len(out) != len("the cat sat on t")+40+1 {
		t.Fatalf("generate printed %q: want the prompt, 40 bytes and a newline", out)
	}
	if !strings.Contains(out[16:], "the ") {
		t.Errorf("greedy continuation %q of a model trained on one repeated sentence has none of its words", out[16:])
	}
	sample := func(seed string) string {
		out, stderr, code := trainRunCLI(t, bin, "generate", "--checkpoint", textCkpt, "--prompt", "the", "--max-tokens", "30",
			"--temperature", "1", "--top-k", "5", "--seed", seed, "--json")
		if code != 0 {
			t.Fatalf("generate --seed %s: exit %d: %s", seed, code, stderr)
		}
		var g generateOutput
		if err := json.Unmarshal([]byte(out), &g); err != nil || g.Tokens != 30 || len(g.Text) != 30 {
			t.Fatalf("generate --json: %q (%v)", out, err)
		}
		return g.Text
	}
	if a, b := sample("3"), sample("3"); a != b {
		t.Errorf("same seed, different text: %q and %q", a, b)
	}

	for _, c := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"mad checkpoint", []string{"--checkpoint", madCkpt, "--prompt", "x"}, "not text"},
		{"missing checkpoint", []string{"--checkpoint", filepath.Join(dir, "none"), "--prompt", "x"}, "no checkpoint"},
		{"no source", []string{"--prompt", "x"}, "CANDIDATE_ID"},
		{"no prompt", []string{"--checkpoint", textCkpt}, "--prompt"},
		{"both sources", []string{"r1/g000/c0000", "--checkpoint", textCkpt, "--prompt", "x"}, "not both"},
		{"bad temperature", []string{"--checkpoint", textCkpt, "--prompt", "x", "--temperature", "-1"}, "temperature"},
		{"bad max tokens", []string{"--checkpoint", textCkpt, "--prompt", "x", "--max-tokens", "0"}, "--max-tokens"},
	} {
		_, stderr, code := trainRunCLI(t, bin, append([]string{"generate"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.stderr) {
			t.Errorf("generate %s: exit %d, stderr %q; want 2 and %q", c.name, code, stderr, c.stderr)
		}
	}

	out, stderr, code = trainRunCLI(t, bin, "bench", "decode", "71111-92121", "--depth", "2", "--width", "16",
		"--positions", "16,32", "--steps", "2", "--warmup", "1", "--json")
	if code != 0 {
		t.Fatalf("bench decode: exit %d: %s", code, stderr)
	}
	var rows []benchDecodeRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("bench decode --json: %q (%v)", out, err)
	}
	for _, r := range rows {
		if len(r.Timings) != 2 || r.CacheBytes != r.PredictedCacheBytes || r.CacheBytes <= 0 || !(r.Timings[1].MsPerToken > 0) {
			t.Errorf("bench decode row %+v", r)
		}
	}
	if _, stderr, code := trainRunCLI(t, bin, "bench", "decode", "--positions", "8,x"); code != 2 || !strings.Contains(stderr, "--positions") {
		t.Errorf("bench decode with a bad position: exit %d, %q", code, stderr)
	}
}
